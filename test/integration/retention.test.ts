/**
 * Retention: pruning old deliveries with their runs and step runs (real PostgreSQL, the API alone), and a trigger
 * that keeps no payload (a whole Hookflow app on the Temporal dev server, a local target server).
 */
import { DeliveryStatus, DispatchState, RunStatus, StepRunStatus } from '../../src/schema/enums';
import { Delivery } from '../../src/schema/Delivery';
import { Run } from '../../src/schema/Run';
import { StepRun } from '../../src/schema/StepRun';
import { createWorkspace } from '../../src/services/api-keys';
import { RetentionService } from '../../src/services/retention';
import { errorCode, gqlOk, startApiHarness, type ApiHarness } from '../helpers/api-harness';
import * as app from '../helpers/hookflow';
import { createTestDatabase, query as sql } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

const CREATE_FLOW = `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id webhookUrl trigger { storePayload } } }`;
const DAY_MS = 24 * 60 * 60_000;
const silent = { info: () => undefined, warn: () => undefined };

const flowInput = (url: string, trigger: Record<string, unknown> = {}) => ({
  name: 'Orders',
  trigger: {
    label: 'New order',
    variables: [{ name: 'order_id', type: 'STRING', required: true }],
    ...trigger,
  },
  steps: [{ key: 'notify', plugin: 'http', action: 'request', input: { url } }],
});

describe('retention: pruning deliveries', () => {
  let h: ApiHarness;
  const now = new Date();
  const ids: Record<string, string> = {};

  type Seed = {
    ageDays: number;
    status?: DeliveryStatus;
    dispatch?: DispatchState;
    run?: RunStatus;
  };

  /** A delivery of the flow's workspace, optionally with a run and one step run. */
  async function seed(flowId: string, name: string, s: Seed) {
    const em = h.services.db.em();
    const [flow] = await sql<{ workspace_id: string; trigger_id: string }>(
      h.databaseUrl,
      'select f.workspace_id, t.id as trigger_id from flow f join webhook_trigger t on t.flow_id = f.id where f.id = $1',
      [flowId],
    );
    const delivery = em.create(Delivery, {
      workspace: flow!.workspace_id,
      flow: flowId,
      trigger: flow!.trigger_id,
      flowVersion: 1,
      status: s.status ?? DeliveryStatus.ACCEPTED,
      dispatchState: s.dispatch ?? DispatchState.DISPATCHED,
      method: 'POST',
      headers: {},
      body: { order_id: name },
      sizeBytes: 10,
      receivedAt: new Date(now.getTime() - s.ageDays * DAY_MS),
    });
    if (s.run) {
      const run = em.create(Run, {
        workspace: flow!.workspace_id,
        flow: flowId,
        delivery,
        flowVersion: 1,
        workflowId: `delivery-${delivery.id}`,
        status: s.run,
      });
      em.create(StepRun, {
        run,
        stepKey: 'notify',
        position: 0,
        plugin: 'http@0.1.0',
        action: 'request',
        status: s.run === RunStatus.RUNNING ? StepRunStatus.RUNNING : StepRunStatus.SUCCEEDED,
      });
    }
    await em.flush();
    ids[name] = delivery.id;
  }

  const remaining = async () =>
    (await sql<{ id: string }>(h.databaseUrl, 'select id from delivery')).map(
      (r) => Object.entries(ids).find(([, id]) => id === r.id)![0],
    );
  const count = async (table: string) =>
    (await sql<{ n: number }>(h.databaseUrl, `select count(*)::int as n from ${table}`))[0]!.n;

  beforeAll(async () => {
    h = await startApiHarness();
    const a = (await gqlOk(h, h.adminKey, CREATE_FLOW, { input: flowInput('https://example.test/a') }))
      .createFlow.id;
    const otherKey = (await createWorkspace(h.services.db.em(), 'Other')).key;
    const b = (await gqlOk(h, otherKey, CREATE_FLOW, { input: flowInput('https://example.test/b') }))
      .createFlow.id;
    for (let i = 0; i < 5; i++) await seed(a, `old${i}`, { ageDays: 40 + i, run: RunStatus.COMPLETED });
    await seed(a, 'oldRejected', { ageDays: 40, status: DeliveryStatus.REJECTED });
    await seed(a, 'oldRunning', { ageDays: 40, run: RunStatus.RUNNING });
    await seed(a, 'oldPending', { ageDays: 40, dispatch: DispatchState.PENDING });
    await seed(a, 'recent', { ageDays: 3 });
    // Workspace B keeps deliveries 2 days only.
    await sql(
      h.databaseUrl,
      'update workspace set retention_days = 2 from flow where flow.workspace_id = workspace.id and flow.id = $1',
      [b],
    );
    await seed(b, 'bExpired', { ageDays: 3, run: RunStatus.FAILED });
    for (let i = 0; i < 5; i++) await seed(b, `b${i}`, { ageDays: i / 10 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('deletes expired deliveries with their runs and step runs in batches, keeping running, pending and recent ones', async () => {
    expect(await count('run')).toBe(7);
    const statements = h.services.db.statementCount();
    const retention = new RetentionService(h.services.db, { days: 30, batchSize: 2, pauseMs: 0 }, silent);
    expect(await retention.prune(now)).toBe(7);
    // 6 expired in workspace A, 2 per statement: at least 3 delete statements there.
    expect(h.services.db.statementCount() - statements).toBeGreaterThanOrEqual(4);
    expect((await remaining()).sort()).toEqual(
      ['oldRunning', 'oldPending', 'recent', 'b0', 'b1', 'b2', 'b3', 'b4'].sort(),
    );
    expect(await count('run')).toBe(1); // the RUNNING one
    expect(await count('step_run')).toBe(1);
  });

  it('keeps at most the newest N deliveries per workspace', async () => {
    const retention = new RetentionService(h.services.db, { days: 30, maxDeliveries: 3, pauseMs: 0 }, silent);
    expect(await retention.prune(now)).toBe(2);
    // Workspace A holds exactly 3 (two of them protected anyway); B its 3 newest.
    expect((await remaining()).sort()).toEqual(
      ['oldRunning', 'oldPending', 'recent', 'b0', 'b1', 'b2'].sort(),
    );
  });
});

describe('retention: a trigger that keeps no payload', () => {
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

  it('runs with the payload, then erases it; replay is refused', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await app.gqlOk(hook, hook.adminKey, CREATE_FLOW, {
        input: flowInput(`${target.url}/orders/{{webhook.order_id}}`, { storePayload: false }),
      });
      expect(flow.trigger.storePayload).toBe(false);
      const res = await fetch(`${flow.webhookUrl}?source=shop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-shop': 'one', authorization: 'Bearer secret' },
        body: JSON.stringify({ order_id: 'A-9' }),
      });
      expect(res.status).toBe(202);
      const { deliveryId } = (await res.json()) as { deliveryId: string };

      const DETAIL = `query($id: ID!) { delivery(id: $id) { body query headers payloadErasedAt run { status } } }`;
      const delivery = await app.eventually(
        async () => {
          const d = (await app.gqlOk(hook, hook.adminKey, DETAIL, { id: deliveryId })).delivery;
          return d.run?.status === 'COMPLETED' && d.payloadErasedAt ? d : undefined;
        },
        60_000,
        'the run to complete and the payload to be erased',
      );
      expect(target.requests.map((r) => r.url)).toEqual(['/orders/A-9']);
      expect(delivery).toMatchObject({ body: null, query: {}, headers: { authorization: '[redacted]' } });

      const [row] = await sql<{ body: unknown; query: unknown; headers: Record<string, string> }>(
        db.url,
        'select body, query, headers from delivery where id = $1',
        [deliveryId],
      );
      expect(row).toEqual({ body: null, query: {}, headers: { authorization: '[redacted]' } });

      const replay = await app.gql(
        hook,
        hook.adminKey,
        `mutation($id: ID!) { replayDelivery(id: $id) { id } }`,
        {
          id: deliveryId,
        },
      );
      expect(errorCode(replay)).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(replay.errors)).toContain('its payload was not kept');
    } finally {
      await target.close();
    }
  });

  it('keeps payloads of other triggers', async () => {
    const { createFlow: flow } = await app.gqlOk(hook, hook.adminKey, CREATE_FLOW, {
      input: flowInput('https://example.test/x'),
    });
    expect(flow.trigger.storePayload).toBe(true);
  });
});
