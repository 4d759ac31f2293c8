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
import { createTestDatabase, query } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';
import { createFlow, deliveriesOf, finishedRun, postJson, runsOf, send } from './ingress-helpers';

describe('delivery semantics: idempotency and SYNC responses', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let target: Awaited<ReturnType<typeof startTargetServer>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
    target = await startTargetServer((req) => {
      if (req.url === '/slow') return { delayMs: 3000, body: { done: true } };
      if (req.url === '/broken') return { status: 400, body: { error: 'no such project' } };
      if (req.url === '/jira') return { status: 201, body: { key: 'OPS-42', id: '10042' } };
      return { body: { ok: true } };
    });
  });
  afterAll(async () => {
    await target?.close();
    await app?.stop();
    await db?.drop();
  });

  const callStep = (key: string, path: string, body: unknown = {}) => ({
    key,
    plugin: 'http',
    action: 'request',
    input: { url: `${target.url}${path}`, body },
  });

  describe('idempotency', () => {
    it.each([
      ['webhook-id', 'msg_2Kd9'],
      ['Idempotency-Key', 'order-A-1001'],
      ['X-GitHub-Delivery', '72d3162e-cc78-11e3-81ab-4c9367dc0958'],
      ['X-Shopify-Webhook-Id', 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043'],
    ])(
      'answers a repeated %s with 200 and the original delivery, without a second run',
      async (header, key) => {
        const flow = await createFlow(app, { name: header, steps: [callStep('call', '/ok')] });
        const first = await postJson(flow.webhookUrl, { n: 1 }, { [header]: key });
        const again = await postJson(flow.webhookUrl, { n: 2 }, { [header]: key });
        expect(first.status).toBe(202);
        expect(again.status).toBe(200);
        expect(again.json).toEqual({ deliveryId: first.json.deliveryId, status: 'duplicate' });
        await finishedRun(db.url, first.json.deliveryId);
        const rows = await deliveriesOf(db.url, flow.id);
        expect(rows.map((r) => [r.status, r.idempotency_key, r.duplicate_of])).toEqual([
          ['ACCEPTED', key, null],
          ['DUPLICATE', null, first.json.deliveryId],
        ]);
        expect(rows[1]!.body).toEqual({ n: 2 });
        expect(rows[1]!.accept_latency_ms).toEqual(expect.any(Number));
        expect(await runsOf(db.url, flow.id)).toHaveLength(1);
      },
    );

    it('takes the key from the configured {{…}} expression, before the headers', async () => {
      const flow = await createFlow(app, {
        name: 'Expression',
        trigger: { label: 'In', idempotencyKey: '{{webhook.event.id}}' },
      });
      const a = await postJson(flow.webhookUrl, { event: { id: 'evt_1' } }, { 'idempotency-key': 'h1' });
      const b = await postJson(flow.webhookUrl, { event: { id: 'evt_1' } }, { 'idempotency-key': 'h2' });
      const c = await postJson(flow.webhookUrl, { event: { id: 'evt_2' } }, { 'idempotency-key': 'h1' });
      const d = await postJson(flow.webhookUrl, { other: true }, { 'idempotency-key': 'h1' }); // expression empty: header
      const e = await postJson(flow.webhookUrl, { other: true }, { 'idempotency-key': 'h1' });
      expect([a.status, b.status, c.status, d.status, e.status]).toEqual([202, 200, 202, 202, 200]);
      expect(b.json.deliveryId).toBe(a.json.deliveryId);
      expect(e.json.deliveryId).toBe(d.json.deliveryId);
      const keys = (await deliveriesOf(db.url, flow.id))
        .filter((r) => r.status === 'ACCEPTED')
        .map((r) => r.idempotency_key);
      expect(keys.sort()).toEqual(['evt_1', 'evt_2', 'h1']);

      const byHeader = await createFlow(app, {
        name: 'Header expression',
        trigger: { label: 'In', idempotencyKey: '{{webhook.headers.x-request-id}}' },
      });
      const f = await postJson(byHeader.webhookUrl, {}, { 'x-request-id': 'req-9' });
      const g = await postJson(byHeader.webhookUrl, { changed: true }, { 'x-request-id': 'req-9' });
      expect([f.status, g.status, g.json.deliveryId]).toEqual([202, 200, f.json.deliveryId]);
    });

    it('lets exactly one of 20 concurrent requests with the same key through; one run, 19 recorded duplicates', async () => {
      const flow = await createFlow(app, {
        name: 'Race',
        steps: [callStep('call', '/race', { n: '{{webhook.n}}' })],
      });
      const ws = wsClient(app, app.adminKey);
      const sub = subscribe(ws, 'subscription($id: ID) { flowActivity(flowId: $id) { type deliveryId } }', {
        id: flow.id,
      });
      await new Promise((r) => setTimeout(r, 300)); // let the subscription register
      try {
        const replies = await Promise.all(
          Array.from({ length: 20 }, (_, n) =>
            postJson(flow.webhookUrl, { n }, { 'Idempotency-Key': 'race-1' }),
          ),
        );
        const accepted = replies.filter((r) => r.status === 202);
        const duplicates = replies.filter((r) => r.status === 200);
        expect(accepted).toHaveLength(1);
        expect(duplicates).toHaveLength(19);
        const originalId = accepted[0]!.json.deliveryId;
        for (const d of duplicates) expect(d.json).toEqual({ deliveryId: originalId, status: 'duplicate' });

        expect(await finishedRun(db.url, originalId)).toMatchObject({ status: 'COMPLETED' });
        const rows = await deliveriesOf(db.url, flow.id);
        expect(rows.filter((r) => r.status === 'ACCEPTED').map((r) => r.id)).toEqual([originalId]);
        const dupRows = rows.filter((r) => r.status === 'DUPLICATE');
        expect(dupRows).toHaveLength(19);
        expect(dupRows.every((r) => r.duplicate_of === originalId)).toBe(true);
        expect(await runsOf(db.url, flow.id)).toHaveLength(1);
        expect(target.requests.filter((r) => r.url === '/race')).toHaveLength(1);
        const types = await eventually(async () => {
          const t = sub.events.map((e) => e.flowActivity.type);
          return t.filter((x) => x === 'DELIVERY_DUPLICATE').length === 19 ? t : undefined;
        });
        expect(types.filter((t) => t === 'DELIVERY_RECEIVED')).toHaveLength(1);
      } finally {
        sub.dispose();
        await ws.dispose();
      }
    });
  });

  describe('SYNC response mode', () => {
    it('answers with the rendered response when the run completes in time', async () => {
      const flow = await createFlow(app, {
        name: 'Sync',
        trigger: {
          label: 'Create ticket',
          variables: [{ name: 'order_id', type: 'STRING', required: true }],
          responseMode: 'SYNC',
          syncTimeoutMs: 20_000,
          response: {
            status: 201,
            headers: {
              'x-ticket': '{{steps.jira.output.body.key}}',
              'cache-control': 'no-store',
              'content-length': '1',
            },
            body: {
              ticket: '{{steps.jira.output.body.key}}',
              order: '{{webhook.order_id}}',
              status: '{{steps.jira.output.status}}',
              run: '{{run.id}}',
              delivery: '{{delivery.id}}',
              summary: 'Ticket {{steps.jira.output.body.key}} for {{webhook.order_id}}',
            },
          },
        },
        steps: [callStep('jira', '/jira', { summary: 'Order {{webhook.order_id}}' })],
      });
      const res = await postJson(flow.webhookUrl, { order_id: 'A-1001' });
      expect(res.status).toBe(201);
      expect(res.headers.get('x-ticket')).toBe('OPS-42');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const [run] = await runsOf(db.url, flow.id);
      expect(run).toMatchObject({ status: 'COMPLETED' });
      expect(res.json).toEqual({
        ticket: 'OPS-42',
        order: 'A-1001',
        status: 201,
        run: run!.id,
        delivery: run!.delivery_id,
        summary: 'Ticket OPS-42 for A-1001',
      });
    });

    it('answers the default body, and a text body as text', async () => {
      const plain = await createFlow(app, {
        name: 'Sync default',
        trigger: { label: 'In', responseMode: 'SYNC', syncTimeoutMs: 20_000 },
        steps: [callStep('call', '/ok')],
      });
      const res = await postJson(plain.webhookUrl, {});
      expect(res.status).toBe(200);
      const [run] = await runsOf(db.url, plain.id);
      expect(res.json).toEqual({ deliveryId: run!.delivery_id, runId: run!.id, status: 'completed' });

      const text = await createFlow(app, {
        name: 'Sync text',
        trigger: {
          label: 'In',
          responseMode: 'SYNC',
          syncTimeoutMs: 20_000,
          response: { headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'ok {{webhook.name}}' },
        },
      });
      const t = await postJson(text.webhookUrl, { name: 'Ada' });
      expect([t.status, t.text, t.headers.get('content-type')]).toEqual([
        200,
        'ok Ada',
        'text/plain; charset=utf-8',
      ]);
    });

    it('answers 202 with the delivery id past the deadline, and the run still finishes', async () => {
      const flow = await createFlow(app, {
        name: 'Sync late',
        trigger: { label: 'In', responseMode: 'SYNC', syncTimeoutMs: 500 },
        steps: [callStep('slow', '/slow')],
      });
      const res = await postJson(flow.webhookUrl, {});
      expect(res.status).toBe(202);
      expect(res.json).toEqual({ deliveryId: expect.any(String), status: 'accepted' });
      expect(await finishedRun(db.url, res.json.deliveryId)).toMatchObject({ status: 'COMPLETED' });
    });

    it('answers 500 run_failed with the run id when the run fails', async () => {
      const flow = await createFlow(app, {
        name: 'Sync failing',
        trigger: { label: 'In', responseMode: 'SYNC', syncTimeoutMs: 20_000 },
        steps: [callStep('ok', '/ok'), callStep('create', '/broken')],
      });
      const res = await postJson(flow.webhookUrl, {});
      expect(res.status).toBe(500);
      const [run] = await runsOf(db.url, flow.id);
      expect(run).toMatchObject({ status: 'FAILED' });
      expect(res.json).toEqual({
        error: 'run_failed',
        deliveryId: run!.delivery_id,
        runId: run!.id,
        message: 'the flow failed at step "create"',
      });
    });

    it('answers a duplicate at once, without waiting', async () => {
      const flow = await createFlow(app, {
        name: 'Sync duplicate',
        trigger: { label: 'In', responseMode: 'SYNC', syncTimeoutMs: 20_000 },
        steps: [callStep('call', '/ok')],
      });
      const first = await postJson(flow.webhookUrl, {}, { 'webhook-id': 'w-1' });
      const again = await send(flow.webhookUrl, {
        headers: { 'content-type': 'application/json', 'webhook-id': 'w-1' },
        body: '{}',
      });
      expect(first.status).toBe(200);
      expect(again.json).toEqual({ deliveryId: first.json.deliveryId, status: 'duplicate' });
    });
  });

  describe('secrets in headers and the query string', () => {
    const SECRET = '7f3e-secret';
    const DELIVERY_REQUEST = `query($id: ID!) {
      delivery(id: $id) { headers query body run { status steps { stepKey input output } } }
    }`;
    let viewerKey: string;
    beforeAll(async () => {
      const created = await gqlOk(
        app,
        app.adminKey,
        'mutation { createApiKey(name: "viewer", role: VIEWER) { key } }',
      );
      viewerKey = created.createApiKey.key;
    });

    /** Everything stored about the delivery and its run, as text. */
    const storedText = async (deliveryId: string) =>
      JSON.stringify([
        await query(db.url, 'select * from delivery where id = $1', [deliveryId]),
        await query(
          db.url,
          'select s.* from step_run s join run r on r.id = s.run_id where r.delivery_id = $1',
          [deliveryId],
        ),
      ]);

    it('stores and shows [redacted] for secret headers and query parameters, to VIEWER and to templates', async () => {
      const flow = await createFlow(app, {
        name: 'Redaction',
        trigger: { label: 'In', redact: { headers: ['X-Acme-Account'], query: ['customer'] } },
        steps: [
          callStep('echo', '/echo', {
            auth: '{{webhook.headers.x-auth}}',
            account: '{{webhook.headers.x-acme-account}}',
            shop: '{{webhook.headers.x-shop-id}}',
            token: '{{webhook.query.access_token}}',
            customer: '{{webhook.query.customer}}',
            page: '{{webhook.query.page}}',
            headers: '{{webhook.headers}}',
          }),
        ],
      });
      const url = `${flow.webhookUrl}?access_token=a-${SECRET}&page=2&customer=c-${SECRET}&data[api_key]=k-${SECRET}`;
      const reply = await postJson(
        url,
        { order: 1 },
        {
          'X-Auth': `xa-${SECRET}`,
          'X-Auth-Key': `xk-${SECRET}`,
          'X-Session': `s-${SECRET}`,
          'X-Private-Key': `p-${SECRET}`,
          'X-Acme-Account': `acct-${SECRET}`,
          'X-Shop-Id': 'shop-7',
          'X-Request-Id': 'req-1',
        },
      );
      expect(reply.status).toBe(202);
      const deliveryId = reply.json.deliveryId;
      expect(await finishedRun(db.url, deliveryId)).toMatchObject({ status: 'COMPLETED' });

      const { delivery } = await gqlOk(app, viewerKey, DELIVERY_REQUEST, { id: deliveryId });
      expect(delivery.headers).toMatchObject({
        'x-auth': '[redacted]',
        'x-auth-key': '[redacted]',
        'x-session': '[redacted]',
        'x-private-key': '[redacted]',
        'x-acme-account': '[redacted]',
        'x-shop-id': 'shop-7',
        'x-request-id': 'req-1',
        'content-type': 'application/json',
      });
      expect(delivery.query).toEqual({
        access_token: '[redacted]',
        page: '2',
        customer: '[redacted]',
        data: { api_key: '[redacted]' },
      });
      expect(delivery.body).toEqual({ order: 1 });

      const sent = JSON.parse(target.requests.find((r) => r.url === '/echo')!.body);
      expect(sent).toMatchObject({
        auth: '[redacted]',
        account: '[redacted]',
        shop: 'shop-7',
        token: '[redacted]',
        customer: '[redacted]',
        page: '2',
      });
      expect(JSON.stringify([delivery, sent])).not.toContain(SECRET);
      expect(await storedText(deliveryId)).not.toContain(SECRET);
    });

    it('on a GET, where the query string is the payload, keeps the declared variables and redacts the rest', async () => {
      const flow = await createFlow(app, {
        name: 'Redaction GET',
        trigger: {
          label: 'In',
          methods: ['GET'],
          variables: [{ name: 'token', type: 'STRING', required: true }],
        },
      });
      const reply = await send(`${flow.webhookUrl}?token=wanted&access_token=a-${SECRET}&n=1`, {
        method: 'GET',
      });
      expect(reply.status).toBe(202);
      const { delivery } = await gqlOk(app, viewerKey, DELIVERY_REQUEST, { id: reply.json.deliveryId });
      expect(delivery.body).toEqual({ token: 'wanted', access_token: '[redacted]', n: '1' });
      expect(delivery.query).toEqual({ token: '[redacted]', access_token: '[redacted]', n: '1' });
      expect(await storedText(reply.json.deliveryId)).not.toContain(SECRET);
    });

    it('refuses a redact list with a name that is no header name, saving nothing', async () => {
      const before = await query(db.url, 'select count(*)::int as n from flow');
      const r = await gql(app, app.adminKey, CREATE_FLOW, {
        input: {
          name: 'Bad redact',
          trigger: { label: 'In', redact: { headers: ['X-Ok', 'not a header'] } },
        },
      });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(r.errors)).toContain('trigger.redact.headers[1]');
      expect(JSON.stringify(r.errors)).toContain('must be an HTTP header name');
      expect(await query(db.url, 'select count(*)::int as n from flow')).toEqual(before);
    });

    it("shows the trigger's redact lists, and none for a trigger without them", async () => {
      const flow = await createFlow(app, {
        name: 'Redact lists',
        trigger: { label: 'In', redact: { headers: ['X-Acme-Account'] } },
      });
      const read = `query($id: ID!) { flow(id: $id) { trigger { redact { headers query } } } }`;
      expect((await gqlOk(app, viewerKey, read, { id: flow.id })).flow.trigger.redact).toEqual({
        headers: ['X-Acme-Account'],
        query: [],
      });
      const plain = await createFlow(app, { name: 'No redact lists', trigger: { label: 'In' } });
      expect((await gqlOk(app, viewerKey, read, { id: plain.id })).flow.trigger.redact).toBeNull();
    });
  });
});

describe('delivery semantics on the embedded PGlite database', () => {
  let app: TestApp;
  let target: Awaited<ReturnType<typeof startTargetServer>>;
  beforeAll(async () => {
    app = await startTestApp({ databaseUrl: undefined });
    target = await startTargetServer();
  });
  afterAll(async () => {
    await target?.close();
    await app?.stop();
  });

  it('records duplicates and rejections the same way, with one run', async () => {
    expect(app.services.db.kind).toBe('pglite');
    const flow = await createFlow(app, {
      name: 'PGlite',
      trigger: { label: 'In', variables: [{ name: 'n', type: 'NUMBER', required: true }] },
      steps: [{ key: 'call', plugin: 'http', action: 'request', input: { url: `${target.url}/pglite` } }],
    });
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => postJson(flow.webhookUrl, { n: 1 }, { 'webhook-id': 'evt-1' })),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 202]);
    const id = replies.find((r) => r.status === 202)!.json.deliveryId;
    expect(new Set(replies.map((r) => r.json.deliveryId))).toEqual(new Set([id]));
    const bad = await postJson(flow.webhookUrl, { n: 'one' }, { 'webhook-id': 'evt-2' });
    expect(bad.status).toBe(422);

    const delivery = await eventually(async () => {
      const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id })).delivery;
      return d.run?.status === 'COMPLETED' ? d : undefined;
    });
    expect(delivery.status).toBe('ACCEPTED');
    const page = await gqlOk(
      app,
      app.adminKey,
      'query($id: ID!) { deliveries(flowId: $id, first: 10) { edges { node { status rejectReason } } } }',
      { id: flow.id },
    );
    const statuses = page.deliveries.edges.map((e: any) => `${e.node.status}:${e.node.rejectReason ?? ''}`);
    expect(statuses.sort()).toEqual([
      'ACCEPTED:',
      'DUPLICATE:',
      'DUPLICATE:',
      'DUPLICATE:',
      'DUPLICATE:',
      'REJECTED:VALIDATION',
    ]);
    expect(target.requests).toHaveLength(1);
  });
});
