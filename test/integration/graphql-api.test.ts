/**
 * The GraphQL API over real HTTP and a real graphql-ws client, against real PostgreSQL (fresh database per file).
 */
import { getIntrospectionQuery, parse, validate } from 'graphql';
import { queryLimitsRule } from '../../src/resolvers/limits';
import type { Client as WsClient } from 'graphql-ws';
import { StepRun } from '../../src/schema/StepRun';
import { DeliveryStatus, StepRunStatus } from '../../src/schema/enums';
import { createWorkspace } from '../../src/services/api-keys';
import { ActiveTriggers } from '../../src/services/active-triggers';
import { recordDelivery } from '../../src/services/deliveries';
import type { FlowEventType } from '../../src/services/events';
import { beginRun } from '../../src/services/run-store';
import {
  collect,
  errorCode,
  eventually,
  gql,
  gqlOk,
  startApiHarness,
  wsClient,
  type ApiHarness,
} from '../helpers/api-harness';
import { query as sql } from '../helpers/postgres';

const FLOW_FIELDS = `id name status version webhookUrl createdAt updatedAt
  trigger { label description methods maxBodyBytes idempotencyKey variables { name type description required } }
  steps { key plugin pluginVersion action input when credentialId }`;

const CREATE_FLOW = `mutation($input: CreateFlowInput!) { createFlow(input: $input) { ${FLOW_FIELDS} } }`;
const UPDATE_FLOW = `mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { ${FLOW_FIELDS} } }`;
const GET_FLOW = `query($id: ID!) { flow(id: $id) { ${FLOW_FIELDS} } }`;
const LIST_FLOWS = `{ flows { id name } }`;
const DELETE_FLOW = `mutation($id: ID!) { deleteFlow(id: $id) }`;
const ROTATE = `mutation($id: ID!) { rotateWebhookToken(id: $id) { id webhookUrl } }`;
const SET_STATUS = `mutation($id: ID!, $status: FlowStatus!) { setFlowStatus(id: $id, status: $status) { id status } }`;
const CREATE_KEY = `mutation($name: String!, $role: ApiKeyRole!) { createApiKey(name: $name, role: $role) { key apiKey { id name role prefix createdAt revokedAt } } }`;
const REVOKE_KEY = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const ACTIVITY = `subscription($flowId: ID) { flowActivity(flowId: $flowId) { type workspaceId flowId deliveryId runId stepKey status message at } }`;

const WEBHOOK_URL = /^http:\/\/hooks\.test\/api\/webhook\/([A-Za-z0-9_-]{43,})$/;

const orderInput = (name = 'Order confirmation') => ({
  name,
  trigger: {
    label: 'New order',
    description: 'Called by the shop when an order is placed',
    variables: [
      { name: 'order_id', type: 'STRING', required: true, description: 'Shop order id' },
      { name: 'customer_email', type: 'STRING', required: true },
      { name: 'total', type: 'NUMBER' },
      { name: 'items', type: 'ARRAY' },
    ],
  },
  steps: [
    {
      key: 'notify',
      plugin: 'http',
      action: 'request',
      input: { method: 'POST', url: 'https://example.test/orders', body: { id: '{{webhook.order_id}}' } },
    },
  ],
});

describe('GraphQL API', () => {
  let h: ApiHarness;
  const clients: WsClient[] = [];
  const ws = (params: Record<string, unknown> | undefined) => {
    const c = wsClient(h, params);
    clients.push(c);
    return c;
  };
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const counts = async () => {
    const [row] = await sql<{ flows: string; versions: string; triggers: string }>(
      h.databaseUrl,
      'select (select count(*) from flow) as flows, (select count(*) from flow_version) as versions, (select count(*) from webhook_trigger) as triggers',
    );
    return { flows: Number(row!.flows), versions: Number(row!.versions), triggers: Number(row!.triggers) };
  };
  const createFlow = async (key = h.adminKey, input: Record<string, unknown> = orderInput()) =>
    (await gqlOk(h, key, CREATE_FLOW, { input })).createFlow;
  const newWorkspace = async (name: string) => (await createWorkspace(h.services.db.em(), name)).key;
  /** Listeners on a harness's in-process bus: one per open flowActivity subscription. */
  const listenerCount = (of: ApiHarness = h) =>
    (
      of.services.events as unknown as { emitter: { listenerCount(e: string): number } }
    ).emitter.listenerCount('event');

  beforeAll(async () => {
    h = await startApiHarness();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });

  afterAll(async () => {
    await h?.close();
  });

  describe('flows', () => {
    it('creates a flow with typed variables and an http.request step, and reads it back', async () => {
      const flow = await createFlow();
      expect(flow).toMatchObject({
        name: 'Order confirmation',
        status: 'ACTIVE',
        version: 1,
        trigger: {
          label: 'New order',
          description: 'Called by the shop when an order is placed',
          methods: ['POST'],
          maxBodyBytes: 1024 * 1024,
          idempotencyKey: null,
          variables: [
            { name: 'order_id', type: 'STRING', required: true, description: 'Shop order id' },
            { name: 'customer_email', type: 'STRING', required: true, description: null },
            { name: 'total', type: 'NUMBER', required: false },
            { name: 'items', type: 'ARRAY', required: false },
          ],
        },
        steps: [
          {
            key: 'notify',
            plugin: 'http',
            pluginVersion: '0.1.0',
            action: 'request',
            input: {
              method: 'POST',
              url: 'https://example.test/orders',
              body: { id: '{{webhook.order_id}}' },
            },
            when: null,
            credentialId: null,
          },
        ],
      });
      expect(flow.webhookUrl).toMatch(WEBHOOK_URL);
      expect(new Date(flow.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

      const read = (await gqlOk(h, h.adminKey, GET_FLOW, { id: flow.id })).flow;
      expect(read).toEqual(flow);
      const list = (await gqlOk(h, h.adminKey, LIST_FLOWS)).flows;
      expect(list.map((f: { id: string }) => f.id)).toContain(flow.id);

      // The token is stored hashed and encrypted, never in clear.
      const token = WEBHOOK_URL.exec(flow.webhookUrl)![1]!;
      const rows = await sql<{ token_hash: string; token_encrypted: string }>(
        h.databaseUrl,
        'select token_hash, token_encrypted from webhook_trigger where flow_id = $1',
        [flow.id],
      );
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(token);
    });

    it('pins an explicit plugin version and defaults the trigger when omitted', async () => {
      const flow = await createFlow(h.adminKey, {
        name: 'Minimal',
        steps: [{ key: 'a', plugin: 'http@0.1.0', action: 'request', input: { url: 'https://x.test' } }],
      });
      expect(flow.trigger).toMatchObject({ label: 'Webhook', variables: [], methods: ['POST'] });
      expect(flow.steps).toEqual([
        expect.objectContaining({
          key: 'a',
          plugin: 'http',
          pluginVersion: '0.1.0',
          input: { url: 'https://x.test' },
        }),
      ]);
    });

    it('updateFlow saves version 2 and keeps the webhook URL; omitted parts are kept', async () => {
      const flow = await createFlow();
      const updated = (
        await gqlOk(h, h.adminKey, UPDATE_FLOW, {
          id: flow.id,
          input: {
            name: 'Order confirmation v2',
            steps: [{ key: 'post', plugin: 'http', action: 'request', input: { url: 'https://x.test' } }],
          },
        })
      ).updateFlow;
      expect(updated).toMatchObject({
        id: flow.id,
        name: 'Order confirmation v2',
        version: 2,
        webhookUrl: flow.webhookUrl,
      });
      expect(updated.trigger).toEqual(flow.trigger);
      expect(updated.steps.map((s: { key: string }) => s.key)).toEqual(['post']);

      const again = (
        await gqlOk(h, h.adminKey, UPDATE_FLOW, { id: flow.id, input: { trigger: { label: 'Renamed' } } })
      ).updateFlow;
      expect(again).toMatchObject({ version: 3, name: 'Order confirmation v2', webhookUrl: flow.webhookUrl });
      expect(again.trigger).toMatchObject({ label: 'Renamed', variables: [] });
      expect(again.steps.map((s: { key: string }) => s.key)).toEqual(['post']);

      // Versions are immutable rows: 1, 2 and 3 all still exist.
      const versions = await sql<{ version: number }>(
        h.databaseUrl,
        'select version from flow_version where flow_id = $1 order by version',
        [flow.id],
      );
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3]);
    });

    it('rotateWebhookToken issues a new URL; the old token no longer resolves', async () => {
      const flow = await createFlow();
      const rotated = (await gqlOk(h, h.adminKey, ROTATE, { id: flow.id })).rotateWebhookToken;
      expect(rotated.webhookUrl).toMatch(WEBHOOK_URL);
      expect(rotated.webhookUrl).not.toBe(flow.webhookUrl);
      expect((await gqlOk(h, h.adminKey, GET_FLOW, { id: flow.id })).flow.webhookUrl).toBe(
        rotated.webhookUrl,
      );

      const triggers = new ActiveTriggers(h.services.db, h.services.events);
      expect(await triggers.find(WEBHOOK_URL.exec(flow.webhookUrl)![1]!)).toBeUndefined();
      expect(await triggers.find(WEBHOOK_URL.exec(rotated.webhookUrl)![1]!)).toBeDefined();
    });

    it('setFlowStatus pauses and resumes a flow', async () => {
      const flow = await createFlow();
      expect(
        (await gqlOk(h, h.adminKey, SET_STATUS, { id: flow.id, status: 'PAUSED' })).setFlowStatus.status,
      ).toBe('PAUSED');
      expect((await gqlOk(h, h.adminKey, GET_FLOW, { id: flow.id })).flow.status).toBe('PAUSED');
      expect(
        (await gqlOk(h, h.adminKey, SET_STATUS, { id: flow.id, status: 'ACTIVE' })).setFlowStatus.status,
      ).toBe('ACTIVE');

      const bad = await gql(h, h.adminKey, SET_STATUS, { id: flow.id, status: 'STOPPED' });
      expect(errorCode(bad)).toBe('BAD_USER_INPUT');
    });

    it('deleteFlow removes the flow with its versions and trigger', async () => {
      const flow = await createFlow();
      expect((await gqlOk(h, h.adminKey, DELETE_FLOW, { id: flow.id })).deleteFlow).toBe(true);
      const after = await gql(h, h.adminKey, GET_FLOW, { id: flow.id });
      expect(errorCode(after)).toBe('NOT_FOUND');
      expect(after.data).toBeNull();
      expect((await gqlOk(h, h.adminKey, LIST_FLOWS)).flows.map((f: { id: string }) => f.id)).not.toContain(
        flow.id,
      );
      const left = await sql(
        h.databaseUrl,
        'select 1 from flow_version where flow_id = $1 union all select 1 from webhook_trigger where flow_id = $1',
        [flow.id],
      );
      expect(left).toHaveLength(0);
      expect(errorCode(await gql(h, h.adminKey, DELETE_FLOW, { id: flow.id }))).toBe('NOT_FOUND');
    });

    it('answers NOT_FOUND for ids that are not UUIDs', async () => {
      expect(errorCode(await gql(h, h.adminKey, GET_FLOW, { id: 'nope' }))).toBe('NOT_FOUND');
      expect(errorCode(await gql(h, h.adminKey, `{ delivery(id: "1") { id } }`))).toBe('NOT_FOUND');
      expect(errorCode(await gql(h, h.adminKey, `{ run(id: "x") { id } }`))).toBe('NOT_FOUND');
    });
  });

  describe('bad input is rejected with BAD_USER_INPUT, the path, and nothing stored', () => {
    const cases: [string, Record<string, unknown>, { path: string; message: RegExp }][] = [
      ['an empty name', { ...orderInput(), name: '   ' }, { path: 'name', message: /must not be empty/ }],
      [
        'duplicate variable names',
        {
          ...orderInput(),
          trigger: {
            label: 'x',
            variables: [
              { name: 'order_id', type: 'STRING' },
              { name: 'order_id', type: 'NUMBER' },
            ],
          },
        },
        { path: 'trigger.variables[1].name', message: /duplicate variable "order_id"/ },
      ],
      [
        'an invalid variable name',
        { ...orderInput(), trigger: { label: 'x', variables: [{ name: '1bad name', type: 'STRING' }] } },
        { path: 'trigger.variables[0].name', message: /must start with a letter/ },
      ],
      [
        'an empty trigger label',
        { ...orderInput(), trigger: { label: '' } },
        { path: 'trigger.label', message: /must not be empty/ },
      ],
      [
        'an unknown plugin',
        { ...orderInput(), steps: [{ key: 'a', plugin: 'smtp', action: 'send' }] },
        { path: 'steps[0].plugin', message: /plugin "smtp" is not installed/ },
      ],
      [
        'an unknown action',
        {
          ...orderInput(),
          steps: [
            { key: 'a', plugin: 'http', action: 'request' },
            { key: 'b', plugin: 'http', action: 'teleport' },
          ],
        },
        { path: 'steps[1].action', message: /has no action "teleport"/ },
      ],
      [
        'duplicate step keys',
        {
          ...orderInput(),
          steps: [
            { key: 'a', plugin: 'http', action: 'request' },
            { key: 'a', plugin: 'http', action: 'request' },
          ],
        },
        { path: 'steps[1].key', message: /duplicate step key/ },
      ],
    ];

    it.each(cases)('createFlow with %s', async (_what, input, issue) => {
      const before = await counts();
      const r = await gql(h, h.adminKey, CREATE_FLOW, { input });
      expect(r.data).toBeNull();
      expect(r.errors).toHaveLength(1);
      const err = r.errors![0]!;
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(err.extensions!.issues).toEqual(
        expect.arrayContaining([{ path: issue.path, message: expect.stringMatching(issue.message) }]),
      );
      expect(err.message).toContain(issue.path);
      expect(err.path).toEqual(['createFlow']);
      expect(await counts()).toEqual(before);
    });

    it('updateFlow with bad input leaves the flow exactly as it was', async () => {
      const flow = await createFlow();
      const before = await counts();
      const r = await gql(h, h.adminKey, UPDATE_FLOW, {
        id: flow.id,
        input: { name: 'new name', steps: [{ key: 'a', plugin: 'nope', action: 'x' }] },
      });
      expect(errorCode(r)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.extensions!.issues).toEqual([
        { path: 'steps[0].plugin', message: 'plugin "nope" is not installed' },
      ]);
      expect(await counts()).toEqual(before);
      expect((await gqlOk(h, h.adminKey, GET_FLOW, { id: flow.id })).flow).toEqual(flow);
    });

    it('input that does not fit the GraphQL types is rejected before any resolver runs', async () => {
      const before = await counts();
      const r = await gql(h, h.adminKey, CREATE_FLOW, {
        input: { ...orderInput(), trigger: { label: 'x', variables: [{ name: 'a', type: 'DATE' }] } },
      });
      expect(errorCode(r)).toBe('BAD_USER_INPUT');
      expect(r.status).toBe(400);
      const missing = await gql(h, h.adminKey, CREATE_FLOW, { input: { trigger: { label: 'x' } } });
      expect(errorCode(missing)).toBe('BAD_USER_INPUT');
      expect(await counts()).toEqual(before);
    });

    it('unknown fields and syntax errors keep the GraphQL codes', async () => {
      const unknown = await gql(h, h.adminKey, `{ flows { id secret } }`);
      expect(unknown.status).toBe(400);
      expect(errorCode(unknown)).toBe('GRAPHQL_VALIDATION_FAILED');
      const syntax = await gql(h, h.adminKey, `{ flows { id `);
      expect(errorCode(syntax)).toBe('GRAPHQL_PARSE_FAILED');
    });
  });

  describe('authentication', () => {
    it('rejects HTTP requests without a key, with an unknown key or another scheme', async () => {
      for (const headers of <Record<string, string>[]>[
        {},
        { authorization: 'Bearer hf_not_a_key' },
        { authorization: `Basic ${h.adminKey}` },
        { authorization: h.adminKey },
      ]) {
        const res = await fetch(h.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query: LIST_FLOWS }),
        });
        expect(res.status).toBe(401);
        const body = (await res.json()) as {
          data?: unknown;
          errors: { message: string; extensions: { code: string } }[];
        };
        expect(body.data).toBeUndefined();
        expect(body.errors).toEqual([
          { message: expect.stringMatching(/API key/), extensions: { code: 'UNAUTHENTICATED' } },
        ]);
      }
      // Mutations too, and nothing is stored.
      const before = await counts();
      expect(errorCode(await gql(h, undefined, CREATE_FLOW, { input: orderInput() }))).toBe(
        'UNAUTHENTICATED',
      );
      expect(errorCode(await gql(h, 'hf_wrong', CREATE_FLOW, { input: orderInput() }))).toBe(
        'UNAUTHENTICATED',
      );
      expect(await counts()).toEqual(before);
    });

    it('accepts the bearer scheme case-insensitively', async () => {
      const res = await fetch(h.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `bearer ${h.adminKey}` },
        body: JSON.stringify({ query: LIST_FLOWS }),
      });
      expect(res.status).toBe(200);
    });

    it.each([
      ['no connection params', undefined],
      ['an unknown key', { authorization: 'Bearer hf_not_a_key' }],
      ['an empty authorization', { authorization: '' }],
    ])('closes WebSocket connections with %s (4401)', async (_what, params) => {
      const sub = collect(ws(params), ACTIVITY, {});
      await sub.done;
      expect(sub.results).toEqual([]);
      expect(sub.error).toMatchObject({ code: 4401, reason: 'Unauthorized' });
    });

    it('accepts the key in connectionParams as Authorization, bearer or bare', async () => {
      for (const params of [
        { authorization: `Bearer ${h.adminKey}` },
        { Authorization: `Bearer ${h.adminKey}` },
        { authorization: h.adminKey },
      ]) {
        const client = ws(params);
        const r = collect(client, `{ flows { id } }`);
        await r.done;
        expect(r.error).toBeUndefined();
        expect(r.results[0]!.data).toMatchObject({ flows: expect.any(Array) });
      }
    });
  });

  describe('API keys and roles', () => {
    it('creates keys shown once, lists them without the secret, and revoked keys stop working (HTTP and WebSocket)', async () => {
      const key = await newWorkspace('keys');
      const created = (await gqlOk(h, key, CREATE_KEY, { name: 'ci', role: 'EDITOR' })).createApiKey;
      expect(created.key).toMatch(/^hf_[A-Za-z0-9_-]{43,}$/);
      expect(created.apiKey).toMatchObject({
        name: 'ci',
        role: 'EDITOR',
        revokedAt: null,
        prefix: created.key.slice(0, 10),
      });

      const listed = (await gqlOk(h, key, `{ apiKeys { id name role prefix revokedAt } }`)).apiKeys;
      expect(listed.map((k: { name: string }) => k.name)).toEqual(['admin', 'ci']);
      expect(JSON.stringify(listed)).not.toContain(created.key);
      const stored = await sql(h.databaseUrl, 'select * from api_key where id = $1', [created.apiKey.id]);
      expect(JSON.stringify(stored)).not.toContain(created.key);

      // The new key works for its role (EDITOR may create flows) ...
      await createFlow(created.key, orderInput('made by ci'));
      // ... and a WebSocket connection opened with it (kept open by a subscription) works until it is revoked.
      const client = ws(bearer(created.key));
      const keepOpen = collect(client, ACTIVITY);
      const before = collect(client, `{ flows { id } }`);
      await before.done;
      expect(before.results[0]!.data).toBeDefined();

      const revoked = (await gqlOk(h, key, REVOKE_KEY, { id: created.apiKey.id })).revokeApiKey;
      expect(revoked.revokedAt).not.toBeNull();
      expect(errorCode(await gql(h, created.key, LIST_FLOWS))).toBe('UNAUTHENTICATED');

      // The open connection can start no new operation ...
      const after = collect(client, `{ flows { id } }`);
      await after.done;
      expect(after.error).toEqual([expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })]);
      expect(keepOpen.error).toBeUndefined();
      // ... and a new connection is refused.
      const fresh = collect(ws(bearer(created.key)), `{ flows { id } }`);
      await fresh.done;
      expect(fresh.error).toMatchObject({ code: 4401 });
      // Revoking twice keeps the first revocation time.
      expect((await gqlOk(h, key, REVOKE_KEY, { id: created.apiKey.id })).revokeApiKey.revokedAt).toBe(
        revoked.revokedAt,
      );
    });

    it('VIEWER keys read but cannot change anything (FORBIDDEN)', async () => {
      const admin = await newWorkspace('viewer');
      const flow = await createFlow(admin);
      const viewer = (await gqlOk(h, admin, CREATE_KEY, { name: 'dashboard', role: 'VIEWER' })).createApiKey
        .key;

      expect((await gqlOk(h, viewer, LIST_FLOWS)).flows).toEqual([{ id: flow.id, name: flow.name }]);
      expect((await gqlOk(h, viewer, GET_FLOW, { id: flow.id })).flow.webhookUrl).toBe(flow.webhookUrl);

      const before = await counts();
      const denied = await gql(h, viewer, CREATE_FLOW, { input: orderInput() });
      expect(denied.errors).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/EDITOR/),
          extensions: { code: 'FORBIDDEN' },
        }),
      ]);
      for (const [q, vars] of [
        [UPDATE_FLOW, { id: flow.id, input: { name: 'x' } }],
        [DELETE_FLOW, { id: flow.id }],
        [ROTATE, { id: flow.id }],
        [SET_STATUS, { id: flow.id, status: 'PAUSED' }],
        [CREATE_KEY, { name: 'escalate', role: 'ADMIN' }],
        [`{ apiKeys { id } }`, {}],
      ] as const) {
        expect(errorCode(await gql(h, viewer, q, vars))).toBe('FORBIDDEN');
      }
      expect(await counts()).toEqual(before);
      expect((await gqlOk(h, admin, GET_FLOW, { id: flow.id })).flow).toEqual(flow);
    });

    it('EDITOR keys manage flows but not API keys', async () => {
      const admin = await newWorkspace('editor');
      const editor = (await gqlOk(h, admin, CREATE_KEY, { name: 'builder', role: 'EDITOR' })).createApiKey;
      await createFlow(editor.key);
      expect(errorCode(await gql(h, editor.key, CREATE_KEY, { name: 'x', role: 'ADMIN' }))).toBe('FORBIDDEN');
      expect(errorCode(await gql(h, editor.key, REVOKE_KEY, { id: editor.apiKey.id }))).toBe('FORBIDDEN');
    });

    it('createApiKey rejects an empty name', async () => {
      const r = await gql(h, h.adminKey, CREATE_KEY, { name: ' ', role: 'VIEWER' });
      expect(r.errors![0]!.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        issues: [{ path: 'name', message: 'must not be empty' }],
      });
    });
  });

  describe('workspace isolation', () => {
    let keyA: string;
    let keyB: string;
    let flowB: any;

    beforeAll(async () => {
      keyA = await newWorkspace('A');
      keyB = await newWorkspace('B');
      await createFlow(keyA, orderInput('A1'));
      flowB = await createFlow(keyB, orderInput('B1'));
    });

    it('flows lists only the caller workspace', async () => {
      expect((await gqlOk(h, keyA, LIST_FLOWS)).flows.map((f: { name: string }) => f.name)).toEqual(['A1']);
      expect((await gqlOk(h, keyB, LIST_FLOWS)).flows.map((f: { name: string }) => f.name)).toEqual(['B1']);
    });

    it.each([
      ['read', GET_FLOW, (id: string) => ({ id })],
      ['update', UPDATE_FLOW, (id: string) => ({ id, input: { name: 'stolen' } })],
      ['delete', DELETE_FLOW, (id: string) => ({ id })],
      ['rotate', ROTATE, (id: string) => ({ id })],
      ['pause', SET_STATUS, (id: string) => ({ id, status: 'PAUSED' })],
    ])('a key of workspace A cannot %s a flow of workspace B (NOT_FOUND)', async (_what, q, vars) => {
      const r = await gql(h, keyA, q, vars(flowB.id));
      expect(r.errors).toEqual([
        expect.objectContaining({ message: `flow ${flowB.id} not found`, extensions: { code: 'NOT_FOUND' } }),
      ]);
      expect((await gqlOk(h, keyB, GET_FLOW, { id: flowB.id })).flow).toEqual(flowB);
    });

    it('a key of workspace A cannot subscribe to a flow of workspace B (NOT_FOUND)', async () => {
      const sub = collect(ws(bearer(keyA)), ACTIVITY, { flowId: flowB.id });
      await sub.done;
      expect(sub.completed).toBe(true);
      expect(sub.results).toEqual([
        {
          errors: [
            expect.objectContaining({
              message: `flow ${flowB.id} not found`,
              extensions: { code: 'NOT_FOUND' },
            }),
          ],
        },
      ]);
    });

    it("a key of workspace A cannot read or revoke workspace B's deliveries, runs and keys", async () => {
      const { deliveryId, runId } = await seedDeliveryAndRun(flowB.webhookUrl);
      expect(
        (await gqlOk(h, keyB, `query($id: ID!) { delivery(id: $id) { id } }`, { id: deliveryId })).delivery
          .id,
      ).toBe(deliveryId);
      expect(
        errorCode(await gql(h, keyA, `query($id: ID!) { delivery(id: $id) { id } }`, { id: deliveryId })),
      ).toBe('NOT_FOUND');
      expect(errorCode(await gql(h, keyA, `query($id: ID!) { run(id: $id) { id } }`, { id: runId }))).toBe(
        'NOT_FOUND',
      );

      const bKeys = (await gqlOk(h, keyB, `{ apiKeys { id } }`)).apiKeys;
      expect(errorCode(await gql(h, keyA, REVOKE_KEY, { id: bKeys[0].id }))).toBe('NOT_FOUND');
      expect(errorCode(await gql(h, keyB, LIST_FLOWS))).toBeUndefined();
      expect(
        (await gqlOk(h, keyA, `{ apiKeys { id } }`)).apiKeys.map((k: { id: string }) => k.id),
      ).not.toContain(bKeys[0].id);
    });
  });

  describe('deliveries and runs', () => {
    it('reads a delivery with its latest run and step results', async () => {
      const flow = await createFlow();
      const { deliveryId, runId } = await seedDeliveryAndRun(flow.webhookUrl);
      const r = await gqlOk(
        h,
        h.adminKey,
        `query($id: ID!) { delivery(id: $id) { id status method body headers validationErrors { path message }
          run { id status flowVersion steps { stepKey position status attempts durationMs output } } } }`,
        { id: deliveryId },
      );
      expect(r.delivery).toMatchObject({
        id: deliveryId,
        status: 'ACCEPTED',
        method: 'POST',
        body: { order_id: 'A-1' },
        validationErrors: [],
        run: {
          id: runId,
          status: 'RUNNING',
          flowVersion: 1,
          steps: [
            {
              stepKey: 'notify',
              position: 0,
              status: 'SUCCEEDED',
              attempts: 1,
              durationMs: 42,
              output: { status: 200 },
            },
          ],
        },
      });
      const run = (
        await gqlOk(h, h.adminKey, `query($id: ID!) { run(id: $id) { id steps { stepKey durationMs } } }`, {
          id: runId,
        })
      ).run;
      expect(run).toEqual({ id: runId, steps: [{ stepKey: 'notify', durationMs: 42 }] });
    });

    it('a delivery without a run has run: null', async () => {
      const flow = await createFlow();
      const triggers = new ActiveTriggers(h.services.db, h.services.events);
      const active = (await triggers.find(WEBHOOK_URL.exec(flow.webhookUrl)![1]!))!;
      const { deliveryId } = await recordDelivery(h.services.db, active, {
        status: DeliveryStatus.REJECTED,
        method: 'POST',
        headers: {},
        query: {},
        body: { nope: true },
        sizeBytes: 13,
        rejectReason: 'validation failed',
        validationErrors: [{ path: 'order_id', message: 'required' }],
      });
      const r = await gqlOk(
        h,
        h.adminKey,
        `query($id: ID!) { delivery(id: $id) { status rejectReason validationErrors { path message } run { id } } }`,
        { id: deliveryId },
      );
      expect(r.delivery).toEqual({
        status: 'REJECTED',
        rejectReason: 'validation failed',
        validationErrors: [{ path: 'order_id', message: 'required' }],
        run: null,
      });
    });
  });

  describe('flowActivity subscription', () => {
    /** Publishes probes until the subscription demonstrably listens (graphql-ws has no "subscribed" ack). */
    async function untilListening(sub: { results: unknown[] }, probe: () => Promise<void>) {
      await eventually(
        async () => {
          if (sub.results.length) return true;
          await probe();
          return undefined;
        },
        5000,
        'the subscription to start',
      );
      await new Promise((r) => setTimeout(r, 50));
      sub.results.length = 0;
    }

    it("receives its flow's events only, never another flow's or another workspace's", async () => {
      const keyA = await newWorkspace('activity-A');
      const keyB = await newWorkspace('activity-B');
      const flow = await createFlow(keyA, orderInput('watched'));
      const other = await createFlow(keyA, orderInput('not watched'));
      const foreign = await createFlow(keyB, orderInput('foreign'));
      const events = h.services.events;
      const workspaceA = (
        await sql<{ workspace_id: string }>(h.databaseUrl, 'select workspace_id from flow where id = $1', [
          flow.id,
        ])
      )[0]!.workspace_id;
      const workspaceB = (
        await sql<{ workspace_id: string }>(h.databaseUrl, 'select workspace_id from flow where id = $1', [
          foreign.id,
        ])
      )[0]!.workspace_id;
      const publish = (
        type: FlowEventType,
        workspaceId: string,
        flowId: string,
        extra: Record<string, string> = {},
      ) => events.publish({ type, workspaceId, flowId, ...extra });

      const listenersBefore = listenerCount();
      const sub = collect(ws(bearer(keyA)), ACTIVITY, { flowId: flow.id });
      await untilListening(sub, () => publish('RUN_STARTED', workspaceA, flow.id, { message: 'probe' }));

      await publish('DELIVERY_RECEIVED', workspaceA, other.id, { deliveryId: 'other-flow' });
      await publish('DELIVERY_RECEIVED', workspaceB, foreign.id, { deliveryId: 'other-workspace' });
      // A forged event naming A's flow but B's workspace is not A's either.
      await publish('DELIVERY_RECEIVED', workspaceB, flow.id, { deliveryId: 'forged' });
      await publish('DELIVERY_RECEIVED', workspaceA, flow.id, { deliveryId: 'd1' });
      await publish('STEP_SUCCEEDED', workspaceA, flow.id, {
        runId: 'r1',
        stepKey: 'notify',
        status: 'SUCCEEDED',
      });
      await publish('RUN_FINISHED', workspaceA, flow.id, {
        runId: 'r1',
        status: 'COMPLETED',
        at: '2026-01-02T03:04:05.000Z',
      });

      await eventually(() => (sub.results.length >= 3 ? true : undefined), 5000, 'three events');
      await new Promise((r) => setTimeout(r, 100));
      const received = sub.results.map((r) => r.data!.flowActivity);
      expect(sub.results.every((r) => r.errors === undefined)).toBe(true);
      expect(received).toEqual([
        expect.objectContaining({
          type: 'DELIVERY_RECEIVED',
          flowId: flow.id,
          workspaceId: workspaceA,
          deliveryId: 'd1',
          runId: null,
        }),
        expect.objectContaining({
          type: 'STEP_SUCCEEDED',
          runId: 'r1',
          stepKey: 'notify',
          status: 'SUCCEEDED',
        }),
        {
          type: 'RUN_FINISHED',
          workspaceId: workspaceA,
          flowId: flow.id,
          deliveryId: null,
          runId: 'r1',
          stepKey: null,
          status: 'COMPLETED',
          message: null,
          at: '2026-01-02T03:04:05.000Z',
        },
      ]);
      expect(new Date(received[0].at).getTime()).toBeGreaterThan(Date.now() - 60_000);

      // Unsubscribing removes the bus listener at once (no event needed to notice).
      expect(listenerCount()).toBe(listenersBefore + 1);
      sub.dispose();
      await eventually(
        () => (listenerCount() === listenersBefore ? true : undefined),
        5000,
        'the listener to be removed',
      );
    });

    it('without flowId receives every flow of the workspace, and disconnecting cleans up', async () => {
      const key = await newWorkspace('activity-all');
      const f1 = await createFlow(key, orderInput('one'));
      const f2 = await createFlow(key, orderInput('two'));
      const workspaceId = (
        await sql<{ workspace_id: string }>(h.databaseUrl, 'select workspace_id from flow where id = $1', [
          f1.id,
        ])
      )[0]!.workspace_id;
      const listenersBefore = listenerCount();

      const client = ws(bearer(key));
      const sub = collect(client, ACTIVITY);
      await untilListening(sub, () =>
        h.services.events.publish({ type: 'RUN_STARTED', workspaceId, flowId: f1.id }),
      );
      await h.services.events.publish({ type: 'RUN_STARTED', workspaceId, flowId: f1.id, runId: 'a' });
      await h.services.events.publish({ type: 'RUN_STARTED', workspaceId, flowId: f2.id, runId: 'b' });
      await h.services.events.publish({
        type: 'RUN_STARTED',
        workspaceId: 'someone-else',
        flowId: f2.id,
        runId: 'c',
      });
      await eventually(() => (sub.results.length >= 2 ? true : undefined), 5000, 'two events');
      await new Promise((r) => setTimeout(r, 100));
      expect(sub.results.map((r) => r.data!.flowActivity.runId)).toEqual(['a', 'b']);

      expect(listenerCount()).toBe(listenersBefore + 1);
      await client.dispose();
      await eventually(
        () => (listenerCount() === listenersBefore ? true : undefined),
        5000,
        'the listener to be removed',
      );
    });

    it('rejects a flowId that does not exist', async () => {
      const sub = collect(ws(bearer(h.adminKey)), ACTIVITY, {
        flowId: '00000000-0000-4000-8000-000000000000',
      });
      await sub.done;
      expect(sub.results[0]!.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'NOT_FOUND' } }),
      ]);
    });
  });

  describe('abusive queries', () => {
    it('rejects a query nested too deep (HTTP and WebSocket)', async () => {
      // The schema has no cycles, so the deepest real query is introspection's __Type.fields.type.fields…
      let deep = 'name';
      for (let i = 0; i < 6; i++) deep = `fields { type { ${deep} } }`;
      const query = `{ __type(name: "Flow") { ${deep} } }`;
      const r = await gql(h, h.adminKey, query);
      expect(r.status).toBe(400);
      expect(r.data).toBeUndefined();
      // graphql-js's own MaxIntrospectionDepthRule objects too; ours names the limit.
      expect(r.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            message: 'the operation nests introspection 14 levels deep; the limit is 6',
            extensions: {
              code: 'GRAPHQL_VALIDATION_FAILED',
              limit: 'introspectionDepth',
              max: 6,
              actual: 14,
            },
          }),
        ]),
      );

      const sub = collect(ws(bearer(h.adminKey)), query);
      await sub.done;
      expect(sub.error).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            message: expect.stringMatching(/levels deep/),
            extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
          }),
        ]),
      );

      // The same rule on ordinary fields, with a lower limit than the default 12.
      const errors = validate(
        h.graphql.schema,
        parse('query Deep { flows { trigger { variables { name } } } }'),
        [queryLimitsRule({ maxDepth: 3 })],
      );
      expect(errors.map((e) => e.message)).toEqual([
        'operation "Deep" is nested 4 levels deep; the limit is 3',
      ]);
      expect(
        validate(h.graphql.schema, parse('{ flows { trigger { label } } }'), [
          queryLimitsRule({ maxDepth: 3 }),
        ]),
      ).toEqual([]);
    });

    it('rejects too many aliases and fragment bombs, accepts real queries and standard introspection', async () => {
      const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: flows { id }`).join(' ');
      const many = await gql(h, h.adminKey, `{ ${aliases} }`);
      expect(many.errors![0]!.message).toMatch(/uses 31 aliases; the limit is 30/);
      expect(errorCode(many)).toBe('GRAPHQL_VALIDATION_FAILED');

      // A fragment bomb: every S<i> spreads S<i+1> twice (directly and through T<i+1>), 2^20 keys in the end.
      const chain = ['query { flows { steps { ...S0 } } }', 'fragment S20 on Step { key }'];
      for (let i = 0; i < 20; i++) chain.push(`fragment S${i} on Step { key ...S${i + 1} ...T${i + 1} }`);
      for (let i = 1; i <= 20; i++) chain.push(`fragment T${i} on Step { ...S${i} }`);
      const expensive = await gql(h, h.adminKey, chain.join('\n'));
      expect(expensive.errors?.[0]?.message).toMatch(
        /too expensive \(estimated cost \d+\); the limit is 10000/,
      );
      expect(errorCode(expensive)).toBe('GRAPHQL_VALIDATION_FAILED');

      const ok = await gql(h, h.adminKey, `{ flows { ${FLOW_FIELDS} } apiKeys { id name role } }`);
      expect(ok.errors).toBeUndefined();
      const intro = await gql(
        h,
        h.adminKey,
        getIntrospectionQuery({
          descriptions: true,
          specifiedByUrl: true,
          directiveIsRepeatable: true,
          inputValueDeprecation: true,
        }),
      );
      expect(intro.errors).toBeUndefined();
      expect(intro.data.__schema.subscriptionType).toMatchObject({ name: 'Subscription' });
    });

    it('rejects request bodies over 1 MiB with a JSON error', async () => {
      const res = await fetch(h.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminKey}` },
        body: JSON.stringify({ query: LIST_FLOWS, variables: { pad: 'x'.repeat(1024 * 1024) } }),
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({
        errors: [
          { message: expect.stringMatching(/larger than 1mb/), extensions: { code: 'PAYLOAD_TOO_LARGE' } },
        ],
      });
    });
  });

  describe('errors', () => {
    it('hides unexpected errors behind INTERNAL_SERVER_ERROR and logs them', async () => {
      const flows = h.services.flows;
      const original = flows.list.bind(flows);
      flows.list = async () => {
        throw new Error('connection to 10.0.0.7 lost (password=hunter2)');
      };
      try {
        const r = await gql(h, h.adminKey, LIST_FLOWS);
        expect(r.errors).toEqual([
          {
            message: 'Internal server error',
            locations: expect.any(Array),
            path: ['flows'],
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          },
        ]);
        expect(
          h.loggedErrors.some((e) => String((e as { err?: Error }).err?.message).includes('hunter2')),
        ).toBe(true);
      } finally {
        flows.list = original;
      }
    });
  });

  describe('several apps in one process', () => {
    it('each app answers with its own services (no globals shared between schemas)', async () => {
      const second = await startApiHarness({
        databaseUrl: h.databaseUrl,
        secretKey: h.secretKey,
        publicUrl: 'http://second.test',
      });
      try {
        const flow = await createFlow();
        const token = WEBHOOK_URL.exec(flow.webhookUrl)![1];
        const [a, b] = await Promise.all([
          gqlOk(h, h.adminKey, GET_FLOW, { id: flow.id }),
          gqlOk(second, h.adminKey, GET_FLOW, { id: flow.id }),
        ]);
        expect(a.flow.webhookUrl).toBe(`http://hooks.test/api/webhook/${token}`);
        expect(b.flow.webhookUrl).toBe(`http://second.test/api/webhook/${token}`);

        // Stopping one app closes its own subscriptions only.
        const key = await newWorkspace('two-apps');
        const baseListeners = listenerCount();
        const onFirst = collect(ws(bearer(key)), ACTIVITY);
        const onSecond = collect(wsClient(second, bearer(key)), ACTIVITY);
        await eventually(
          () => (listenerCount() === baseListeners + 1 && listenerCount(second) === 1 ? true : undefined),
          5000,
          'both subscriptions',
        );
        await second.close();
        await onSecond.done;
        expect(onSecond.error ?? onSecond.completed).toBeTruthy();
        expect(onFirst.error).toBeUndefined();
        expect(onFirst.completed).toBe(false);
        expect(listenerCount(second)).toBe(0);
        expect(listenerCount()).toBe(baseListeners + 1);
      } finally {
        await second.close();
      }
    });
  });

  async function seedDeliveryAndRun(webhookUrl: string): Promise<{ deliveryId: string; runId: string }> {
    const em = h.services.db.em();
    const active = (await new ActiveTriggers(h.services.db, h.services.events).find(
      WEBHOOK_URL.exec(webhookUrl)?.[1] ?? webhookUrl.split('/').pop()!,
    ))!;
    const { deliveryId } = await recordDelivery(h.services.db, active, {
      status: DeliveryStatus.ACCEPTED,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      query: {},
      body: { order_id: 'A-1' },
      contentType: 'application/json',
      sizeBytes: 18,
    });
    const { ref } = (await beginRun(h.services.db, `delivery-${deliveryId}`, deliveryId))!;
    em.create(StepRun, {
      run: ref.runId,
      stepKey: 'notify',
      position: 0,
      plugin: 'http',
      action: 'request',
      status: StepRunStatus.SUCCEEDED,
      attempts: 1,
      output: { status: 200 },
      durationMs: 42,
      finishedAt: new Date(),
    });
    await em.flush();
    return { deliveryId, runId: ref.runId };
  }
});
