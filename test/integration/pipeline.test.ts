import { query } from '../helpers/postgres';
import { createTestDatabase } from '../helpers/postgres';
import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gql,
  gqlOk,
  startTestApp,
  subscribe,
  wsClient,
  type TestApp,
} from '../helpers/hookflow';
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

export function orderFlowInput(targetUrl: string) {
  return {
    name: 'Order confirmation',
    trigger: {
      label: 'New order',
      description: 'A shop posts each new order',
      variables: [
        { name: 'order_id', type: 'STRING', required: true, description: 'Shop order id' },
        { name: 'customer_email', type: 'STRING', required: true },
        { name: 'total', type: 'NUMBER', required: true },
        { name: 'items', type: 'ARRAY', required: false },
      ],
    },
    steps: [
      {
        key: 'notify',
        plugin: 'http',
        action: 'request',
        input: {
          method: 'POST',
          url: `${targetUrl}/orders/{{webhook.order_id}}`,
          headers: { 'x-order-id': '{{webhook.order_id}}' },
          body: {
            email: '{{webhook.customer_email}}',
            total: '{{webhook.total}}',
            firstSku: '{{webhook.items[0].sku}}',
            items: '{{webhook.items}}',
            summary: 'Order {{webhook.order_id}} of {{webhook.total}} for {{ webhook.customer_email }}',
          },
        },
      },
    ],
  };
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function runOrderScenario(app: TestApp) {
  const target = await startTargetServer();
  try {
    const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
      input: orderFlowInput(target.url),
    });
    expect(flow.webhookUrl).toMatch(new RegExp(`^${app.config.publicUrl}/api/webhook/[A-Za-z0-9_-]{43,}$`));
    expect(flow.steps).toEqual([
      { key: 'notify', plugin: 'http', pluginVersion: '0.1.0', action: 'request' },
    ]);

    const ws = wsClient(app, app.adminKey);
    const sub = subscribe(
      ws,
      'subscription($id: ID) { flowActivity(flowId: $id) { type flowId deliveryId runId stepKey status } }',
      {
        id: flow.id,
      },
    );
    await new Promise((r) => setTimeout(r, 300)); // let the subscription register

    const accepted = await postJson(flow.webhookUrl, ORDER);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ deliveryId: expect.any(String), status: 'accepted' });

    const received = await eventually(async () => target.requests[0], 30_000, 'the API call');
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/orders/A-1001');
    expect(received.headers['x-order-id']).toBe('A-1001');
    expect(JSON.parse(received.body)).toEqual({
      email: 'ada@example.com',
      total: 129.5,
      firstSku: 'SKU-1',
      items: ORDER.items,
      summary: 'Order A-1001 of 129.5 for ada@example.com',
    });

    const delivery = await eventually(
      async () => {
        const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: accepted.body.deliveryId }))
          .delivery;
        return d.run?.status === 'COMPLETED' ? d : undefined;
      },
      30_000,
      'the run to complete',
    );
    expect(delivery.status).toBe('ACCEPTED');
    expect(delivery.body).toEqual(ORDER);
    expect(delivery.run.steps).toHaveLength(1);
    const [step] = delivery.run.steps;
    expect(step).toMatchObject({ stepKey: 'notify', status: 'SUCCEEDED', attempts: 1, error: null });
    expect(step.durationMs).toBeGreaterThanOrEqual(0);
    expect(step.output).toMatchObject({ status: 200, body: { ok: true } });

    const types = await eventually(
      async () => {
        const t = sub.events.map((e) => e.flowActivity.type);
        return t.includes('RUN_FINISHED') ? t : undefined;
      },
      10_000,
      'the RUN_FINISHED event',
    );
    expect(types).toEqual([
      'DELIVERY_RECEIVED',
      'RUN_STARTED',
      'STEP_STARTED',
      'STEP_SUCCEEDED',
      'RUN_FINISHED',
    ]);
    const finished = sub.events.at(-1).flowActivity;
    expect(finished).toMatchObject({
      flowId: flow.id,
      deliveryId: accepted.body.deliveryId,
      status: 'COMPLETED',
    });
    expect(sub.errors).toEqual([]);
    sub.dispose();
    await ws.dispose();
    return { flow, deliveryId: accepted.body.deliveryId as string };
  } finally {
    await target.close();
  }
}

describe('the webhook pipeline on PostgreSQL and the Temporal dev server', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await eventually(async () => {
      const r = await fetch(`${app.url}/readyz`);
      return r.status === 200 ? r.json() : undefined;
    });
    expect(ready).toEqual({ status: 'ready', checks: { database: true, temporal: true, events: true } });
  });

  it('runs the order flow end to end and streams its activity', async () => {
    const { deliveryId } = await runOrderScenario(app);
    const runs = await query(db.url, 'select status from run where delivery_id = $1', [deliveryId]);
    expect(runs).toEqual([{ status: 'COMPLETED' }]);
  });

  it('answers 404 for an unknown token and stores nothing', async () => {
    const before = await query(db.url, 'select count(*)::int as n from delivery');
    const res = await postJson(`${app.config.publicUrl}/api/webhook/${'x'.repeat(43)}`, ORDER);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'no webhook is registered at this URL' });
    const other = await postJson(`${app.config.publicUrl}/api/webhook/short`, ORDER);
    expect(other).toEqual(res);
    expect(await query(db.url, 'select count(*)::int as n from delivery')).toEqual(before);
  });

  it('rejects a payload missing a required variable with 422, records why, and starts no run', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: orderFlowInput(target.url),
      });
      const { customer_email: _, ...incomplete } = ORDER;
      const res = await postJson(flow.webhookUrl, { ...incomplete, total: 'lots' });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        error: 'validation_failed',
        message: 'the payload does not match the trigger variables',
        issues: [
          { path: 'customer_email', message: 'is required' },
          { path: 'total', message: 'must be a number' },
        ],
      });
      const rows = await query(db.url, 'select id, status, reject_reason from delivery where flow_id = $1', [
        flow.id,
      ]);
      expect(rows).toEqual([{ id: expect.any(String), status: 'REJECTED', reject_reason: 'VALIDATION' }]);
      await new Promise((r) => setTimeout(r, 2500)); // past the relay's grace period
      expect(await query(db.url, 'select id from run where flow_id = $1', [flow.id])).toEqual([]);
      expect(target.requests).toEqual([]);
      const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: (rows[0] as any).id })).delivery;
      expect(d).toMatchObject({ status: 'REJECTED', rejectReason: 'VALIDATION', run: null });
      expect(d.validationErrors).toHaveLength(2);
    } finally {
      await target.close();
    }
  });

  it('answers 405 with Allow for a method the trigger does not accept', async () => {
    const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
      input: { name: 'Only POST' },
    });
    const res = await fetch(flow.webhookUrl, {
      method: 'PUT',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(
      await query(db.url, 'select status, reject_reason from delivery where flow_id = $1', [flow.id]),
    ).toEqual([{ status: 'REJECTED', reject_reason: 'METHOD_NOT_ALLOWED' }]);
    expect(await query(db.url, 'select id from run where flow_id = $1', [flow.id])).toEqual([]);
  });

  it('answers a repeated delivery id with 200 and the original delivery, without a second run', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: orderFlowInput(target.url),
      });
      const first = await postJson(flow.webhookUrl, ORDER, { 'Idempotency-Key': 'order-A-1001' });
      const second = await postJson(flow.webhookUrl, ORDER, { 'Idempotency-Key': 'order-A-1001' });
      expect(first.status).toBe(202);
      expect(second).toEqual({
        status: 200,
        body: { deliveryId: first.body.deliveryId, status: 'duplicate' },
      });
      await eventually(async () => {
        const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: first.body.deliveryId })).delivery;
        return d.run?.status === 'COMPLETED' ? d : undefined;
      });
      expect(
        await query(
          db.url,
          'select status, duplicate_of from delivery where flow_id = $1 order by received_at',
          [flow.id],
        ),
      ).toEqual([
        { status: 'ACCEPTED', duplicate_of: null },
        { status: 'DUPLICATE', duplicate_of: first.body.deliveryId },
      ]);
      expect(await query(db.url, 'select id from run where flow_id = $1', [flow.id])).toHaveLength(1);
      expect(target.requests).toHaveLength(1);
    } finally {
      await target.close();
    }
  });

  it('stops answering on a paused flow or a rotated token', async () => {
    const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, { input: { name: 'Toggle' } });
    await gqlOk(
      app,
      app.adminKey,
      'mutation($id: ID!) { setFlowStatus(id: $id, status: PAUSED) { status } }',
      { id: flow.id },
    );
    expect((await postJson(flow.webhookUrl, {})).status).toBe(404);
    await gqlOk(
      app,
      app.adminKey,
      'mutation($id: ID!) { setFlowStatus(id: $id, status: ACTIVE) { status } }',
      { id: flow.id },
    );
    expect((await postJson(flow.webhookUrl, {})).status).toBe(202);
    const rotated = await gqlOk(
      app,
      app.adminKey,
      'mutation($id: ID!) { rotateWebhookToken(id: $id) { webhookUrl } }',
      {
        id: flow.id,
      },
    );
    expect(rotated.rotateWebhookToken.webhookUrl).not.toBe(flow.webhookUrl);
    expect((await postJson(flow.webhookUrl, {})).status).toBe(404);
    expect((await postJson(rotated.rotateWebhookToken.webhookUrl, {})).status).toBe(202);
  });

  it('refuses GraphQL without a key', async () => {
    const r = await gql(app, undefined, '{ flows { id } }');
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('the webhook pipeline on the embedded PGlite database', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ databaseUrl: undefined });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('runs the order flow end to end', async () => {
    expect(app.services.db.kind).toBe('pglite');
    await runOrderScenario(app);
  });
});
