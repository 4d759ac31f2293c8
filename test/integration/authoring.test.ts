/**
 * Authoring over GraphQL on a whole Hookflow app (PostgreSQL, Temporal dev server, local target server):
 * save-time warnings, variableSuggestions, inferVariables and sendTestWebhook.
 */
import { ApiKeyRole } from '../../src/schema/enums';
import { authenticate, createApiKey, createWorkspace } from '../../src/services/api-keys';
import { eventually, gql, gqlOk, startTestApp, type TestApp } from '../helpers/hookflow';
import { createTestDatabase, query as sql } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

const ORDER = {
  order_id: 'A-1001',
  customer_email: 'ada@example.com',
  total: 129.5,
  items: [
    { sku: 'SKU-1', qty: 2 },
    { sku: 'SKU-9', qty: 1 },
  ],
};

const SEED_VARIABLES = [
  { name: 'order_id', type: 'STRING', required: true, description: 'Shop order id' },
  { name: 'customer_email', type: 'STRING', required: true },
  { name: 'total', type: 'NUMBER', required: true },
  {
    name: 'items',
    type: 'ARRAY',
    items: {
      type: 'OBJECT',
      properties: [
        { name: 'sku', type: 'STRING', description: 'Stock keeping unit' },
        { name: 'qty', type: 'NUMBER' },
      ],
    },
  },
];

/** The seed scenario in two steps: confirm the order, then file a task with the first step's answer. */
const orderFlow = (target: string, extra: { trigger?: Record<string, unknown>; steps?: unknown[] } = {}) => ({
  name: 'Order confirmation',
  trigger: { label: 'New order', variables: SEED_VARIABLES, ...extra.trigger },
  steps: extra.steps ?? [
    {
      key: 'confirm',
      plugin: 'http',
      action: 'request',
      input: {
        url: `${target}/confirm/{{webhook.order_id}}`,
        body: {
          to: '{{webhook.customer_email}}',
          total: '{{webhook.total}}',
          sku: '{{webhook.items[0].sku}}',
        },
      },
    },
    {
      key: 'task',
      plugin: 'http',
      action: 'request',
      input: {
        url: `${target}/tasks`,
        body: { confirmation: '{{steps.confirm.output.body.id}}', status: '{{steps.confirm.output.status}}' },
      },
    },
  ],
});

const FLOW = `id version warnings { path message }`;
const CREATE = `mutation($input: CreateFlowInput!) { createFlow(input: $input) { ${FLOW} webhookUrl } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { ${FLOW} } }`;
const SUGGEST = `query($flowId: ID!, $stepKey: String!) {
  variableSuggestions(flowId: $flowId, stepKey: $stepKey) { reference template type description source }
}`;
const INFER = `mutation($sample: JSON!) { inferVariables(sample: $sample) {
  name type required description properties { name type required } items { type properties { name type required } }
} }`;
const INFER_FROM = `mutation($id: ID!) { inferVariablesFromDelivery(deliveryId: $id) { name type items { type properties { name type } } } }`;
const SEND_TEST = `mutation($flowId: ID!, $payload: JSON!) {
  sendTestWebhook(flowId: $flowId, payload: $payload) { id status isTest body headers validationErrors { path message } }
}`;
const DELIVERY = `query($id: ID!) { delivery(id: $id) {
  id status isTest body flowVersion run { status flowVersion steps { stepKey status input output } }
} }`;

describe('authoring over GraphQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let target: Awaited<ReturnType<typeof startTargetServer>>;
  let otherKey: string;
  let viewerKey: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
    target = await startTargetServer((req) => ({
      status: req.url.startsWith('/confirm') ? 201 : 200,
      body: req.url.startsWith('/confirm') ? { id: 'C-77' } : { ok: true },
    }));
    const em = app.services.db.em();
    otherKey = (await createWorkspace(em, 'Other')).key;
    viewerKey = (await createApiKey(em, (await authenticate(em, app.adminKey))!, 'viewer', ApiKeyRole.VIEWER))
      .key;
  });
  afterAll(async () => {
    await target?.close();
    await app?.stop();
    await db?.drop();
  });

  const create = async (input: unknown) => (await gqlOk(app, app.adminKey, CREATE, { input })).createFlow;
  const counts = async () =>
    (
      await sql<{ deliveries: string; runs: string }>(
        db.url,
        'select (select count(*) from delivery) as deliveries, (select count(*) from run) as runs',
      )
    )[0]!;
  const finished = (id: string) =>
    eventually(
      async () => {
        const d = (await gqlOk(app, app.adminKey, DELIVERY, { id })).delivery;
        return d.run && d.run.status !== 'RUNNING' ? d : undefined;
      },
      60_000,
      'the run to finish',
    );

  describe('save-time warnings', () => {
    it('returns none for the seed flow, and the ones a save introduces, until they are fixed', async () => {
      const flow = await create(orderFlow(target.url));
      expect(flow.warnings).toEqual([]);

      const broken = await gqlOk(app, app.adminKey, UPDATE, {
        id: flow.id,
        input: {
          steps: [
            {
              key: 'confirm',
              plugin: 'http',
              action: 'request',
              input: {
                url: `${target.url}/confirm/{{webhook.order_id}}`,
                body: {
                  to: '{{webhook.customer_emial}}',
                  sku: '{{webhook.items[0].price}}',
                  later: '{{steps.task.output.status}}',
                  bad: '{{webhook..total}}',
                },
              },
            },
            {
              key: 'task',
              plugin: 'http',
              action: 'request',
              input: { url: `${target.url}/tasks`, body: { id: '{{steps.confirm.output.bdy.id}}' } },
            },
          ],
        },
      });
      expect(broken.updateFlow.version).toBe(2);
      // Step inputs are stored as jsonb, which orders object keys its own way: compare in path order.
      const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
      expect([...broken.updateFlow.warnings].sort(byPath)).toEqual([
        {
          path: 'steps[0].input.body.bad',
          message: '{{webhook..total}}: is not a valid reference (write a path such as webhook.items[0].sku)',
        },
        {
          path: 'steps[0].input.body.later',
          message:
            '{{steps.task.output.status}}: step "task" runs after this one, so its output does not exist yet (no step runs before this one)',
        },
        {
          path: 'steps[0].input.body.sku',
          message:
            '{{webhook.items[0].price}}: webhook.items[0] has no declared field "price" (fields: sku, qty)',
        },
        {
          path: 'steps[0].input.body.to',
          message: expect.stringContaining(
            '{{webhook.customer_emial}}: "customer_emial" is not a declared variable (did you mean customer_email?)',
          ),
        },
        {
          path: 'steps[1].input.body.id',
          message:
            '{{steps.confirm.output.bdy.id}}: steps.confirm.output has no field "bdy" (fields: status, headers, body)',
        },
      ]);
      // Warnings do not block: the version is saved, and reading the flow shows the same warnings.
      const read = await gqlOk(app, app.adminKey, `query($id: ID!) { flow(id: $id) { ${FLOW} } }`, {
        id: flow.id,
      });
      expect(read.flow).toEqual(broken.updateFlow);

      const fixed = await gqlOk(app, app.adminKey, UPDATE, {
        id: flow.id,
        input: { steps: orderFlow(target.url).steps },
      });
      expect(fixed.updateFlow).toMatchObject({ version: 3, warnings: [] });
    });

    it('lists warnings on every flow of the workspace', async () => {
      const data = await gqlOk(app, app.adminKey, '{ flows { id warnings { path } } }');
      expect(data.flows.length).toBeGreaterThan(0);
      expect(data.flows.every((f: any) => Array.isArray(f.warnings))).toBe(true);
    });
  });

  describe('variableSuggestions', () => {
    it('suggests the seed variables (items[0].sku included), request parts and metadata for the first step', async () => {
      const flow = await create(orderFlow(target.url));
      const { variableSuggestions: all } = await gqlOk(app, viewerKey, SUGGEST, {
        flowId: flow.id,
        stepKey: 'confirm',
      });
      expect(all.map((s: any) => s.reference)).toEqual([
        'webhook.order_id',
        'webhook.customer_email',
        'webhook.total',
        'webhook.items',
        'webhook.items[0]',
        'webhook.items[0].sku',
        'webhook.items[0].qty',
        'webhook.body',
        'webhook.headers',
        'webhook.query',
        'flow.id',
        'flow.label',
        'run.id',
        'delivery.id',
        'delivery.receivedAt',
      ]);
      expect(all[0]).toEqual({
        reference: 'webhook.order_id',
        template: '{{webhook.order_id}}',
        type: 'STRING',
        description: 'Shop order id',
        source: 'WEBHOOK',
      });
      expect(all.find((s: any) => s.reference === 'webhook.items[0].sku')).toEqual({
        reference: 'webhook.items[0].sku',
        template: '{{webhook.items[0].sku}}',
        type: 'STRING',
        description: 'Stock keeping unit',
        source: 'WEBHOOK',
      });
      expect(all.find((s: any) => s.reference === 'webhook.total').type).toBe('NUMBER');
    });

    it("adds the first step's outputs for the second step", async () => {
      const flow = await create(orderFlow(target.url));
      const { variableSuggestions: all } = await gqlOk(app, app.adminKey, SUGGEST, {
        flowId: flow.id,
        stepKey: 'task',
      });
      expect(all.filter((s: any) => s.source === 'STEP')).toEqual([
        {
          reference: 'steps.confirm.output',
          template: '{{steps.confirm.output}}',
          type: 'OBJECT',
          description: 'Output of step "confirm", http.request (API Call)',
          source: 'STEP',
        },
        {
          reference: 'steps.confirm.output.status',
          template: '{{steps.confirm.output.status}}',
          type: 'NUMBER',
          description: null,
          source: 'STEP',
        },
        {
          reference: 'steps.confirm.output.headers',
          template: '{{steps.confirm.output.headers}}',
          type: 'OBJECT',
          description: null,
          source: 'STEP',
        },
        {
          reference: 'steps.confirm.output.body',
          template: '{{steps.confirm.output.body}}',
          type: 'ANY',
          description: 'Parsed JSON when the response is JSON, otherwise text',
          source: 'STEP',
        },
      ]);
    });

    it('refuses an unknown step and answers NOT_FOUND to another workspace', async () => {
      const flow = await create(orderFlow(target.url));
      const unknown = await gql(app, app.adminKey, SUGGEST, { flowId: flow.id, stepKey: 'nope' });
      expect(unknown.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
      expect(unknown.errors![0]!.message).toBe(
        'unknown step: stepKey: the flow has no step "nope" (steps: confirm, task)',
      );
      const foreign = await gql(app, otherKey, SUGGEST, { flowId: flow.id, stepKey: 'confirm' });
      expect(foreign.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      expect(foreign.errors![0]!.message).toBe(`flow ${flow.id} not found`);
    });
  });

  describe('inferVariables', () => {
    it('proposes the seed variables from the seed order, ready to save', async () => {
      const { inferVariables: variables } = await gqlOk(app, viewerKey, INFER, { sample: ORDER });
      expect(variables).toEqual([
        {
          name: 'order_id',
          type: 'STRING',
          required: false,
          description: null,
          properties: null,
          items: null,
        },
        {
          name: 'customer_email',
          type: 'STRING',
          required: false,
          description: null,
          properties: null,
          items: null,
        },
        { name: 'total', type: 'NUMBER', required: false, description: null, properties: null, items: null },
        {
          name: 'items',
          type: 'ARRAY',
          required: false,
          description: null,
          properties: null,
          items: {
            type: 'OBJECT',
            properties: [
              { name: 'sku', type: 'STRING', required: false },
              { name: 'qty', type: 'NUMBER', required: false },
            ],
          },
        },
      ]);
      const saved = await create({
        name: 'Inferred',
        trigger: {
          label: 'In',
          variables: variables.map(({ items, properties: _p, ...v }: any) => ({
            ...v,
            ...(items ? { items: { type: items.type, properties: items.properties } } : {}),
          })),
        },
      });
      expect(saved.version).toBe(1);
    });

    it('skips keys that are not variable names and refuses a sample that is not an object', async () => {
      const { inferVariables: variables } = await gqlOk(app, app.adminKey, INFER, {
        sample: { 'first-name': 'Ada', ok: true, nothing: null },
      });
      expect(variables.map((v: any) => [v.name, v.type])).toEqual([['ok', 'BOOLEAN']]);
      const bad = await gql(app, app.adminKey, INFER, { sample: [1, 2] });
      expect(bad.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
      expect(bad.errors![0]!.message).toBe(
        'cannot infer variables: sample: must be a JSON object (the fields of a webhook payload)',
      );
    });

    it("uses a recorded delivery's body, in the caller's workspace only", async () => {
      const flow = await create(orderFlow(target.url));
      const res = await fetch(flow.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ORDER),
      });
      const { deliveryId } = (await res.json()) as { deliveryId: string };
      const { inferVariablesFromDelivery: variables } = await gqlOk(app, app.adminKey, INFER_FROM, {
        id: deliveryId,
      });
      // The body is stored as jsonb, which keeps its own key order: compare by name.
      const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
      expect([...variables].sort(byName)).toEqual([
        { name: 'customer_email', type: 'STRING', items: null },
        {
          name: 'items',
          type: 'ARRAY',
          items: {
            type: 'OBJECT',
            properties: expect.arrayContaining([
              { name: 'sku', type: 'STRING' },
              { name: 'qty', type: 'NUMBER' },
            ]),
          },
        },
        { name: 'order_id', type: 'STRING', items: null },
        { name: 'total', type: 'NUMBER', items: null },
      ]);
      const foreign = await gql(app, otherKey, INFER_FROM, { id: deliveryId });
      expect(foreign.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      expect(foreign.errors![0]!.message).toBe(`delivery ${deliveryId} not found`);
      await finished(deliveryId);
    });
  });

  describe('sendTestWebhook', () => {
    it('records a test delivery and runs the flow with it, templates included', async () => {
      const flow = await create(orderFlow(target.url));
      const before = target.requests.length;
      const { sendTestWebhook: sent } = await gqlOk(app, app.adminKey, SEND_TEST, {
        flowId: flow.id,
        payload: ORDER,
      });
      expect(sent).toMatchObject({ status: 'ACCEPTED', isTest: true, body: ORDER, validationErrors: [] });
      expect(sent.headers['user-agent']).toBe('Hookflow-Test-Webhook');

      const d = await finished(sent.id);
      expect(d.run.status).toBe('COMPLETED');
      expect(d.run.steps.map((s: any) => [s.stepKey, s.status])).toEqual([
        ['confirm', 'SUCCEEDED'],
        ['task', 'SUCCEEDED'],
      ]);
      const calls = target.requests.slice(before);
      expect(calls.map((r) => r.url)).toEqual(['/confirm/A-1001', '/tasks']);
      expect(JSON.parse(calls[0]!.body)).toEqual({ to: 'ada@example.com', total: 129.5, sku: 'SKU-1' });
      expect(JSON.parse(calls[1]!.body)).toEqual({ confirmation: 'C-77', status: 201 });
      const [row] = await sql<{ is_test: boolean; dispatch_state: string }>(
        db.url,
        'select is_test, dispatch_state from delivery where id = $1',
        [sent.id],
      );
      expect(row).toEqual({ is_test: true, dispatch_state: 'DISPATCHED' });
    });

    it('works when the trigger requires auth, and on a paused flow', async () => {
      const flow = await create(
        orderFlow(target.url, { trigger: { auth: { type: 'HEADER_TOKEN', secrets: ['s3cret-token-1'] } } }),
      );
      await gqlOk(
        app,
        app.adminKey,
        `mutation($id: ID!) { setFlowStatus(id: $id, status: PAUSED) { status } }`,
        {
          id: flow.id,
        },
      );
      const { sendTestWebhook: sent } = await gqlOk(app, app.adminKey, SEND_TEST, {
        flowId: flow.id,
        payload: ORDER,
      });
      expect((await finished(sent.id)).run.status).toBe('COMPLETED');
    });

    it('records the problems of a LENIENT trigger and still runs', async () => {
      const flow = await create(orderFlow(target.url, { trigger: { validation: 'LENIENT' } }));
      const payload = { order_id: 'A-2', total: 'lots' };
      const { sendTestWebhook: sent } = await gqlOk(app, app.adminKey, SEND_TEST, {
        flowId: flow.id,
        payload,
      });
      expect(sent.validationErrors).toEqual(
        expect.arrayContaining([
          { path: 'customer_email', message: expect.any(String) },
          { path: 'total', message: expect.any(String) },
        ]),
      );
      expect((await finished(sent.id)).run).toBeTruthy();
    });

    it('refuses what a STRICT trigger would refuse, a payload over the size limit, a VIEWER and another workspace; stores nothing', async () => {
      const strict = await create(orderFlow(target.url));
      const small = await create(orderFlow(target.url, { trigger: { maxBodyBytes: 50 } }));
      const before = await counts();

      const invalid = await gql(app, app.adminKey, SEND_TEST, {
        flowId: strict.id,
        payload: { order_id: 'A-3', total: 'lots' },
      });
      expect(invalid.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
      expect(invalid.errors![0]!.message).toMatch(
        /^the payload does not match the trigger variables: payload\./,
      );
      expect(invalid.errors![0]!.extensions!.issues).toEqual(
        expect.arrayContaining([
          { path: 'payload.customer_email', message: expect.any(String) },
          { path: 'payload.total', message: expect.any(String) },
        ]),
      );

      const large = await gql(app, app.adminKey, SEND_TEST, { flowId: small.id, payload: ORDER });
      expect(large.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
      expect(large.errors![0]!.message).toBe(
        `the test payload is too large: payload: is ${JSON.stringify(ORDER).length} bytes; the trigger accepts at most 50`,
      );

      const viewer = await gql(app, viewerKey, SEND_TEST, { flowId: strict.id, payload: ORDER });
      expect(viewer.errors![0]!.extensions!.code).toBe('FORBIDDEN');
      expect(viewer.errors![0]!.message).toBe('this operation needs the EDITOR role; the key has VIEWER');

      const foreign = await gql(app, otherKey, SEND_TEST, { flowId: strict.id, payload: ORDER });
      expect(foreign.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      expect(foreign.errors![0]!.message).toBe(`flow ${strict.id} not found`);

      expect(await counts()).toEqual(before);
    });

    it('leaves the run to the relay when this process has no workflow engine', async () => {
      const flow = await create(orderFlow(target.url));
      const apiOnly = await startTestApp({
        databaseUrl: db.url,
        roles: ['api'],
        temporal: { address: undefined, namespace: 'default', taskQueue: 'unused' },
      });
      try {
        expect(apiOnly.services.starter).toBeUndefined();
        const { sendTestWebhook: sent } = await gqlOk(apiOnly, app.adminKey, SEND_TEST, {
          flowId: flow.id,
          payload: ORDER,
        });
        // The full app's relay (same database) starts the pending run.
        expect((await finished(sent.id)).run.status).toBe('COMPLETED');
      } finally {
        await apiOnly.stop();
      }
    });
  });
});
