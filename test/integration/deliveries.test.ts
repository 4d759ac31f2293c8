/**
 * Observing deliveries over GraphQL: cursor pagination (real PostgreSQL, the API alone) and
 * replayDelivery (a whole Hookflow app on the Temporal dev server, a local target server).
 */
import type { EntityManager } from '@mikro-orm/core';
import { ApiKeyRole, DeliveryStatus, DispatchState } from '../../src/schema/enums';
import { Delivery } from '../../src/schema/Delivery';
import { authenticate, createApiKey, createWorkspace } from '../../src/services/api-keys';
import { ActiveTriggers } from '../../src/services/active-triggers';
import { NO_WORKFLOW_ENGINE } from '../../src/services/replay';
import { errorCode, gql, gqlOk, startApiHarness, type ApiHarness } from '../helpers/api-harness';
import * as app from '../helpers/hookflow';
import { createTestDatabase, query as sql } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

const PAGE = `query($flowId: ID!, $status: DeliveryStatus, $first: Int, $after: String) {
  deliveries(flowId: $flowId, status: $status, first: $first, after: $after) {
    edges { cursor node { id status receivedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const DETAIL = `query($flowId: ID!) {
  deliveries(flowId: $flowId, first: 1) {
    edges { node {
      id status method headers query body contentType sizeBytes rejectReason validationErrors { path message }
      duplicateOf isTest receivedAt run { id } runs { id }
    } }
  }
}`;

const REPLAY = `mutation($id: ID!) { replayDelivery(id: $id) { id status flowVersion workflowId startedAt finishedAt } }`;

const CREATE_FLOW = `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id webhookUrl version } }`;

const flowInput = (url = 'https://example.test/orders') => ({
  name: 'Orders',
  trigger: { label: 'New order', variables: [{ name: 'order_id', type: 'STRING', required: true }] },
  steps: [{ key: 'notify', plugin: 'http', action: 'request', input: { url } }],
});

describe('deliveries: pagination and rules of replay (API only)', () => {
  let h: ApiHarness;
  let flowId: string;
  let emptyFlowId: string;
  let otherKey: string;
  let viewerKey: string;
  /** Every delivery of the flow in the order the API must list them. */
  let expected: { id: string; status: string }[];

  const order = async (where = '') =>
    sql<{ id: string; status: string }>(
      h.databaseUrl,
      `select id, status from delivery where flow_id = $1 ${where} order by received_at desc, id desc`,
      [flowId],
    );

  /** 25 deliveries: a group whose timestamps differ only in microseconds and a group of identical ones. */
  async function seed(em: EntityManager) {
    const token = /\/api\/webhook\/(.+)$/.exec(
      (await gqlOk(h, h.adminKey, `query($id: ID!) { flow(id: $id) { webhookUrl } }`, { id: flowId })).flow
        .webhookUrl,
    )![1]!;
    const active = (await new ActiveTriggers(h.services.db, h.services.events).find(token))!;
    const base = Date.parse('2026-05-01T12:00:00.000Z');
    const statuses = [
      DeliveryStatus.ACCEPTED,
      DeliveryStatus.ACCEPTED,
      DeliveryStatus.REJECTED,
      DeliveryStatus.DUPLICATE,
    ];
    const times: number[] = [
      ...Array.from({ length: 8 }, (_, i) => base + (20 - i) * 1000), // newest 8
      ...Array.from({ length: 5 }, () => base + 5000), // same millisecond; microseconds added below
      ...Array.from({ length: 4 }, (_, i) => base + 4000 - i * 100),
      ...Array.from({ length: 4 }, () => base + 1000), // identical: ordered by id
      ...Array.from({ length: 4 }, (_, i) => base - (i + 1) * 1000),
    ];
    const rows = times.map((t, i) =>
      em.create(Delivery, {
        workspace: active.workspaceId,
        flow: active.flowId,
        trigger: active.triggerId,
        flowVersion: 1,
        status: statuses[i % statuses.length]!,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: '[redacted]' },
        body: { order_id: `A-${i}` },
        sizeBytes: 20,
        receivedAt: new Date(t),
        ...(statuses[i % statuses.length] === DeliveryStatus.REJECTED
          ? { rejectReason: 'VALIDATION', validationErrors: [{ path: 'order_id', message: 'is required' }] }
          : {}),
      }),
    );
    await em.flush();
    for (let i = 0; i < 5; i++) {
      await sql(
        h.databaseUrl,
        `update delivery set received_at = received_at + $1 * interval '1 microsecond' where id = $2`,
        [(i * 37) % 5, rows[8 + i]!.id],
      );
    }
  }

  beforeAll(async () => {
    h = await startApiHarness();
    flowId = (await gqlOk(h, h.adminKey, CREATE_FLOW, { input: flowInput() })).createFlow.id;
    emptyFlowId = (await gqlOk(h, h.adminKey, CREATE_FLOW, { input: flowInput() })).createFlow.id;
    const em = h.services.db.em();
    otherKey = (await createWorkspace(em, 'Other')).key;
    const scope = (await authenticate(em, h.adminKey))!;
    viewerKey = (await createApiKey(em, scope, 'viewer', ApiKeyRole.VIEWER)).key;
    await seed(h.services.db.em());
    expected = await order();
  });
  afterAll(async () => {
    await h?.close();
  });

  const page = async (vars: Record<string, unknown>, key = h.adminKey) =>
    (await gqlOk(h, key, PAGE, { flowId, ...vars })).deliveries;

  it('pages through 25 deliveries 10 at a time, newest first, each exactly once', async () => {
    expect(expected).toHaveLength(25);
    const seen: string[] = [];
    const sizes: number[] = [];
    const more: boolean[] = [];
    let after: string | null = null;
    do {
      const p: any = await page({ first: 10, after });
      seen.push(...p.edges.map((e: any) => e.node.id));
      sizes.push(p.edges.length);
      more.push(p.pageInfo.hasNextPage);
      expect(p.pageInfo.endCursor).toBe(p.edges.at(-1).cursor);
      after = p.pageInfo.hasNextPage ? p.pageInfo.endCursor : null;
    } while (after);
    expect(sizes).toEqual([10, 10, 5]);
    expect(more).toEqual([true, true, false]);
    expect(seen).toEqual(expected.map((d) => d.id));
  });

  it('defaults to 20 and says when the last page is reached', async () => {
    const first = await page({});
    expect(first.edges).toHaveLength(20);
    const rest = await page({ first: 100, after: first.pageInfo.endCursor });
    expect(rest.edges.map((e: any) => e.node.id)).toEqual(expected.slice(20).map((d) => d.id));
    expect(rest.pageInfo).toEqual({ hasNextPage: false, endCursor: rest.edges.at(-1).cursor });
    const empty = await gqlOk(h, h.adminKey, PAGE, { flowId: emptyFlowId });
    expect(empty.deliveries).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('filters by status, also across pages', async () => {
    for (const status of ['ACCEPTED', 'REJECTED', 'DUPLICATE']) {
      const want = expected.filter((d) => d.status === status).map((d) => d.id);
      const got: string[] = [];
      let after: string | null = null;
      do {
        const p: any = await page({ status, first: 3, after });
        expect(p.edges.every((e: any) => e.node.status === status)).toBe(true);
        got.push(...p.edges.map((e: any) => e.node.id));
        after = p.pageInfo.hasNextPage ? p.pageInfo.endCursor : null;
      } while (after);
      expect(got).toEqual(want);
    }
  });

  it('keeps a cursor valid while new deliveries arrive: they show up only on a fresh first page', async () => {
    const first = await page({ first: 10 });
    const em = h.services.db.em();
    const template = await em.findOneOrFail(Delivery, { id: expected[0]!.id });
    for (let i = 0; i < 3; i++) {
      em.create(Delivery, {
        workspace: template.workspace,
        flow: template.flow,
        trigger: template.trigger,
        flowVersion: 1,
        status: DeliveryStatus.ACCEPTED,
        method: 'POST',
        headers: {},
        sizeBytes: 0,
        receivedAt: new Date(Date.parse('2026-06-01T00:00:00Z') + i),
      });
    }
    await em.flush();
    const second = await page({ first: 10, after: first.pageInfo.endCursor });
    expect(second.edges.map((e: any) => e.node.id)).toEqual(expected.slice(10, 20).map((d) => d.id));
    const again = await page({ first: 10, after: first.pageInfo.endCursor });
    expect(again).toEqual(second);
    const fresh = await page({ first: 3 });
    expect(fresh.edges.map((e: any) => e.node.receivedAt)).toEqual([
      '2026-06-01T00:00:00.002Z',
      '2026-06-01T00:00:00.001Z',
      '2026-06-01T00:00:00.000Z',
    ]);
    await em.nativeDelete(Delivery, { receivedAt: { $gte: new Date('2026-06-01T00:00:00Z') } });
  });

  it('shows redacted headers, body, validation errors, reject reason and the (absent) run', async () => {
    const rejected = expected.find((d) => d.status === 'REJECTED')!;
    const p = await page({ status: 'REJECTED', first: 1 });
    expect(p.edges[0].node.id).toBe(rejected.id);
    const detail = await gql(
      h,
      h.adminKey,
      `query($id: ID!) { delivery(id: $id) {
      id status headers body rejectReason validationErrors { path message } run { id } runs { id } isTest duplicateOf
    } }`,
      { id: rejected.id },
    );
    expect(detail.data.delivery).toEqual({
      id: rejected.id,
      status: 'REJECTED',
      headers: { 'content-type': 'application/json', authorization: '[redacted]' },
      body: { order_id: expect.stringMatching(/^A-\d+$/) },
      rejectReason: 'VALIDATION',
      validationErrors: [{ path: 'order_id', message: 'is required' }],
      run: null,
      runs: [],
      isTest: false,
      duplicateOf: null,
    });
    const viaList = await gqlOk(h, h.adminKey, DETAIL, { flowId });
    expect(viaList.deliveries.edges[0].node).toMatchObject({ id: expected[0]!.id, method: 'POST', runs: [] });
  });

  it('lets a VIEWER list', async () => {
    const p = await page({ first: 5 }, viewerKey);
    expect(p.edges.map((e: any) => e.node.id)).toEqual(expected.slice(0, 5).map((d) => d.id));
  });

  it("answers NOT_FOUND for another workspace's flow, an unknown flow and a malformed id", async () => {
    for (const [key, id] of [
      [otherKey, flowId],
      [h.adminKey, '00000000-0000-4000-8000-000000000000'],
      [h.adminKey, 'not-a-uuid'],
    ] as const) {
      const r = await gql(h, key, PAGE, { flowId: id });
      expect(errorCode(r)).toBe('NOT_FOUND');
      expect(r.errors![0]!.message).toBe(`flow ${id} not found`);
      expect(r.data).toBeNull();
    }
  });

  it.each([
    [{ first: 0 }, 'invalid page: first: must be between 1 and 100'],
    [{ first: 101 }, 'invalid page: first: must be between 1 and 100'],
    [
      { after: 'garbage' },
      'invalid cursor: after: is not a cursor from this list (pass pageInfo.endCursor unchanged)',
    ],
    [
      { after: Buffer.from('d1:1:not-an-id').toString('base64url') },
      'invalid cursor: after: is not a cursor from this list (pass pageInfo.endCursor unchanged)',
    ],
  ])('refuses %j with BAD_USER_INPUT', async (vars, message) => {
    const r = await gql(h, h.adminKey, PAGE, { flowId, ...vars });
    expect(errorCode(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toBe(message);
  });

  it('refuses a status that does not exist (GraphQL validation)', async () => {
    const r = await gql(h, h.adminKey, PAGE, { flowId, status: 'LOST' });
    expect(errorCode(r)).toBe('BAD_USER_INPUT');
  });

  describe('replayDelivery rules', () => {
    const runCount = async () =>
      Number((await sql<{ n: string }>(h.databaseUrl, 'select count(*) as n from run'))[0]!.n);

    it('refuses a VIEWER, another workspace, and deliveries that were not accepted; changes nothing', async () => {
      const before = await runCount();
      const accepted = expected.find((d) => d.status === 'ACCEPTED')!.id;
      const viewer = await gql(h, viewerKey, REPLAY, { id: accepted });
      expect(errorCode(viewer)).toBe('FORBIDDEN');
      expect(viewer.errors![0]!.message).toBe('this operation needs the EDITOR role; the key has VIEWER');

      const foreign = await gql(h, otherKey, REPLAY, { id: accepted });
      expect(errorCode(foreign)).toBe('NOT_FOUND');
      expect(foreign.errors![0]!.message).toBe(`delivery ${accepted} not found`);

      for (const status of ['REJECTED', 'DUPLICATE']) {
        const id = expected.find((d) => d.status === status)!.id;
        const r = await gql(h, h.adminKey, REPLAY, { id });
        expect(errorCode(r)).toBe('BAD_USER_INPUT');
        expect(r.errors![0]!.message).toBe(
          `cannot replay this delivery: id: only ACCEPTED deliveries can be replayed; this one is ${status}${status === 'REJECTED' ? ' (VALIDATION)' : ''}`,
        );
      }
      expect(await runCount()).toBe(before);
    });

    it('says clearly that a process without the workflow engine cannot replay; changes nothing', async () => {
      const before = await runCount();
      const accepted = expected.find((d) => d.status === 'ACCEPTED')!.id;
      const r = await gql(h, h.adminKey, REPLAY, { id: accepted });
      expect(errorCode(r)).toBe('UNAVAILABLE');
      expect(r.errors![0]!.message).toBe(`cannot replay: ${NO_WORKFLOW_ENGINE}`);
      expect(await runCount()).toBe(before);
    });
  });
});

describe('replayDelivery on the Temporal dev server', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let hook: app.TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    hook = await app.startTestApp({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await hook?.stop();
    await db?.drop();
  });

  const RUNS = `query($id: ID!) { delivery(id: $id) {
    id status run { id flowVersion }
    runs { id status flowVersion workflowId steps { stepKey status input } }
  } }`;

  it('runs the same payload again as a second run on the current version', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await app.gqlOk(hook, hook.adminKey, CREATE_FLOW, {
        input: flowInput(`${target.url}/v1/{{webhook.order_id}}`),
      });
      const res = await fetch(flow.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order_id: 'A-7' }),
      });
      expect(res.status).toBe(202);
      const { deliveryId } = (await res.json()) as { deliveryId: string };
      await app.eventually(
        async () => {
          const d = (await app.gqlOk(hook, hook.adminKey, RUNS, { id: deliveryId })).delivery;
          return d.runs[0]?.status === 'COMPLETED' ? d : undefined;
        },
        60_000,
        'the first run',
      );

      await app.gqlOk(
        hook,
        hook.adminKey,
        `mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { version } }`,
        {
          id: flow.id,
          input: {
            steps: [
              {
                key: 'notify',
                plugin: 'http',
                action: 'request',
                input: { url: `${target.url}/v2/{{webhook.order_id}}` },
              },
            ],
          },
        },
      );

      const ws = app.wsClient(hook, hook.adminKey);
      const sub = app.subscribe(
        ws,
        'subscription($id: ID) { flowActivity(flowId: $id) { type runId status } }',
        {
          id: flow.id,
        },
      );
      await new Promise((r) => setTimeout(r, 300));

      const { replayDelivery: run } = await app.gqlOk(hook, hook.adminKey, REPLAY, { id: deliveryId });
      expect(run).toMatchObject({
        status: 'RUNNING',
        flowVersion: 2,
        workflowId: expect.stringMatching(new RegExp(`^replay-${deliveryId}-[0-9a-f-]{36}$`)),
        finishedAt: null,
      });

      const done = await app.eventually(
        async () => {
          const d = (await app.gqlOk(hook, hook.adminKey, RUNS, { id: deliveryId })).delivery;
          return d.runs.length === 2 && d.runs.every((r: any) => r.status === 'COMPLETED') ? d : undefined;
        },
        60_000,
        'the replayed run',
      );
      expect(done.run).toEqual({ id: run.id, flowVersion: 2 });
      expect(done.runs.map((r: any) => [r.id === run.id, r.flowVersion, r.status])).toEqual([
        [true, 2, 'COMPLETED'],
        [false, 1, 'COMPLETED'],
      ]);
      expect(done.runs[1].workflowId).toBe(`delivery-${deliveryId}`);
      expect(target.requests.map((r) => r.url)).toEqual(['/v1/A-7', '/v2/A-7']);

      const types = await app.eventually(async () => {
        const t = sub.events
          .map((e) => e.flowActivity)
          .filter((e) => e.runId === run.id)
          .map((e) => e.type);
        return t.includes('RUN_FINISHED') ? t : undefined;
      });
      expect(types).toEqual(['RUN_STARTED', 'STEP_STARTED', 'STEP_SUCCEEDED', 'RUN_FINISHED']);
      sub.dispose();
      await ws.dispose();

      const stored = await sql<{ n: string }>(
        db.url,
        'select count(*) as n from delivery where flow_id = $1',
        [flow.id],
      );
      expect(stored).toEqual([{ n: '1' }]);
    } finally {
      await target.close();
    }
  });

  it('records a FAILED run and answers UNAVAILABLE when the workflow engine cannot be reached', async () => {
    const { createFlow: flow } = await app.gqlOk(hook, hook.adminKey, CREATE_FLOW, { input: flowInput() });
    const em = hook.services.db.em();
    const token = /\/api\/webhook\/(.+)$/.exec(flow.webhookUrl)![1]!;
    const active = (await new ActiveTriggers(hook.services.db, hook.services.events).find(token))!;
    const delivery = em.create(Delivery, {
      workspace: active.workspaceId,
      flow: active.flowId,
      trigger: active.triggerId,
      flowVersion: 1,
      status: DeliveryStatus.ACCEPTED,
      method: 'POST',
      headers: {},
      body: { order_id: 'A-8' },
      sizeBytes: 18,
      // As if its own run had been started long ago: the running app's relay leaves it alone.
      dispatchState: DispatchState.DISPATCHED,
    });
    await em.flush();

    // An API-only process whose Temporal address answers nothing (port 1 on loopback).
    const apiOnly = await app.startTestApp({
      databaseUrl: db.url,
      roles: ['api'],
      temporal: { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'unused' },
    });
    try {
      const r = await app.gql(apiOnly, hook.adminKey, REPLAY, { id: delivery.id });
      expect(r.errors![0]!.extensions!.code).toBe('UNAVAILABLE');
      expect(r.errors![0]!.message).toMatch(/^the replay could not be started \(.+\); try again later$/);
      const runs = await sql<{ status: string; error: string; workflow_id: string }>(
        db.url,
        'select status, error, workflow_id from run where delivery_id = $1',
        [delivery.id],
      );
      expect(runs).toEqual([
        {
          status: 'FAILED',
          error: expect.stringMatching(/^the replay could not be started: /),
          workflow_id: expect.stringMatching(/^replay-/),
        },
      ]);
    } finally {
      await apiOnly.stop();
    }
  });
});
