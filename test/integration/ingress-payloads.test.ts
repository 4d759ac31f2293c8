import { DELIVERY_WITH_RUN, eventually, gqlOk, startTestApp, type TestApp } from '../helpers/hookflow';
import { createTestDatabase } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';
import { createFlow, deliveriesOf, finishedRun, postJson, runsOf, send } from './ingress-helpers';

/** The seed example: variables of DESIGN.md §1, with the item shape declared so form fields get typed. */
const ORDER_TRIGGER = {
  label: 'New order',
  description: 'The shop posts every new order',
  variables: [
    { name: 'order_id', type: 'STRING', required: true },
    { name: 'customer_email', type: 'STRING', required: true },
    { name: 'total', type: 'NUMBER', required: true },
    {
      name: 'items',
      type: 'ARRAY',
      items: {
        type: 'OBJECT',
        properties: [
          { name: 'sku', type: 'STRING', required: true },
          { name: 'qty', type: 'NUMBER', required: true },
        ],
      },
    },
  ],
};

const ORDER = {
  order_id: 'A-1001',
  customer_email: 'ada@example.com',
  total: 129.5,
  items: [
    { sku: 'SKU-1', qty: 2 },
    { sku: 'SKU-9', qty: 1 },
  ],
};

/** Three steps like the acceptance scenario: confirmation mail service, Slack incoming webhook, JIRA issue. */
function orderSteps(target: string) {
  return [
    {
      key: 'confirm',
      plugin: 'http',
      action: 'request',
      input: {
        url: `${target}/mail`,
        body: {
          to: '{{webhook.customer_email}}',
          subject: 'Order {{webhook.order_id}} confirmed',
          total: '{{webhook.total}}',
          items: '{{webhook.items}}',
          delivery: '{{delivery.id}}',
        },
      },
    },
    {
      key: 'slack',
      plugin: 'http',
      action: 'request',
      input: {
        url: `${target}/slack`,
        body: { text: 'New order {{webhook.order_id}}: {{webhook.items[0].sku}} ×{{webhook.items[0].qty}}' },
      },
    },
    {
      key: 'jira',
      plugin: 'http',
      action: 'request',
      input: {
        url: `${target}/jira`,
        body: {
          fields: {
            summary: 'Fulfil {{webhook.order_id}}',
            total: '{{webhook.total}}',
            firstQty: '{{webhook.items[0].qty}}',
            source: '{{webhook.query.source}}',
            shop: '{{webhook.headers.x-shop-id}}',
            mailStatus: '{{steps.confirm.output.status}}',
          },
        },
      },
    },
  ];
}

describe('webhook payloads: the order example, Zapier, Make, content types, LENIENT, GET', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let target: Awaited<ReturnType<typeof startTargetServer>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
    target = await startTargetServer();
  });
  afterAll(async () => {
    await target?.close();
    await app?.stop();
    await db?.drop();
  });
  beforeEach(() => {
    target.requests.length = 0;
  });
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const received = (path: string) =>
    eventually(async () => target.requests.find((r) => r.url === path), 30_000, `a request to ${path}`).then(
      (r) => JSON.parse(r.body),
    );

  async function expectOrderDelivered(deliveryId: string, order: typeof ORDER) {
    expect(await finishedRun(db.url, deliveryId)).toMatchObject({ status: 'COMPLETED' });
    expect(await received('/mail')).toEqual({
      to: order.customer_email,
      subject: `Order ${order.order_id} confirmed`,
      total: order.total,
      items: order.items,
      delivery: deliveryId,
    });
    expect(await received('/slack')).toEqual({
      text: `New order ${order.order_id}: ${order.items[0]!.sku} ×${order.items[0]!.qty}`,
    });
    return received('/jira');
  }

  it('runs the seed order example through the whole path with typed templates', async () => {
    const flow = await createFlow(app, {
      name: 'Orders',
      trigger: ORDER_TRIGGER,
      steps: orderSteps(target.url),
    });
    const res = await postJson(`${flow.webhookUrl}?source=shop`, ORDER, {
      'x-shop-id': 'shop-7',
      authorization: 'Bearer not-for-the-flow',
    });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ deliveryId: expect.any(String), status: 'accepted' });

    expect(await expectOrderDelivered(res.json.deliveryId, ORDER)).toEqual({
      fields: {
        summary: 'Fulfil A-1001',
        total: 129.5,
        firstQty: 2,
        source: 'shop',
        shop: 'shop-7',
        mailStatus: 200,
      },
    });
    const [row] = await deliveriesOf(db.url, flow.id);
    expect(row).toMatchObject({
      id: res.json.deliveryId,
      status: 'ACCEPTED',
      method: 'POST',
      body: ORDER,
      query: { source: 'shop' },
      source_ip: '127.0.0.1',
      validation_errors: [],
      reject_reason: null,
    });
    expect(row!.headers).toMatchObject({ 'x-shop-id': 'shop-7', authorization: '[redacted]' });
    expect(row!.accept_latency_ms).toEqual(expect.any(Number));
    expect(row!.accept_latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('never renders templates that arrive inside the payload', async () => {
    const flow = await createFlow(app, {
      name: 'Injection',
      trigger: ORDER_TRIGGER,
      steps: orderSteps(target.url),
    });
    const hostile = {
      ...ORDER,
      order_id: '{{webhook.customer_email}}',
      items: [{ sku: '{{flow.id}}', qty: 1 }],
    };
    const res = await postJson(flow.webhookUrl, hostile);
    expect(res.status).toBe(202);
    await finishedRun(db.url, res.json.deliveryId);
    expect((await received('/mail')).subject).toBe('Order {{webhook.customer_email}} confirmed');
    expect((await received('/slack')).text).toBe('New order {{webhook.customer_email}}: {{flow.id}} ×1');
  });

  it('accepts "Webhooks by Zapier" POST with the JSON payload type', async () => {
    const flow = await createFlow(app, {
      name: 'Zapier JSON',
      trigger: ORDER_TRIGGER,
      steps: orderSteps(target.url),
    });
    // Zapier's POST action: Payload Type "json", the Data fields as a JSON object, User-Agent Zapier.
    const res = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'Zapier' },
      body: JSON.stringify(ORDER),
    });
    expect(res.status).toBe(202);
    await expectOrderDelivered(res.json.deliveryId, ORDER);
  });

  it('accepts "Webhooks by Zapier" POST with the form payload type, nested items[0][sku] fields typed', async () => {
    const flow = await createFlow(app, {
      name: 'Zapier form',
      trigger: ORDER_TRIGGER,
      steps: orderSteps(target.url),
    });
    // Payload Type "form": Data fields url-encoded; line item fields named the way PHP and Zapier users do.
    const form = new URLSearchParams([
      ['order_id', 'A-1001'],
      ['customer_email', 'ada@example.com'],
      ['total', '129.50'],
      ['items[0][sku]', 'SKU-1'],
      ['items[0][qty]', '2'],
      ['items[1][sku]', 'SKU-9'],
      ['items[1][qty]', '1'],
    ]).toString();
    const res = await send(`${flow.webhookUrl}?source=zapier`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Zapier' },
      body: form,
    });
    expect(res.status).toBe(202);
    const jira = await expectOrderDelivered(res.json.deliveryId, ORDER);
    expect(jira.fields).toMatchObject({ total: 129.5, firstQty: 2, source: 'zapier' });
    const [row] = await deliveriesOf(db.url, flow.id);
    expect(row!.body).toEqual(ORDER);
  });

  it("accepts Make's HTTP module: raw JSON, application/x-www-form-urlencoded and multipart/form-data", async () => {
    const flow = await createFlow(app, {
      name: 'Make',
      trigger: ORDER_TRIGGER,
      steps: orderSteps(target.url),
    });
    const ua = { 'user-agent': 'Make/production' };

    // Body type "Raw", content type "JSON (application/json)".
    const json = await send(flow.webhookUrl, {
      headers: { ...ua, 'content-type': 'application/json' },
      body: JSON.stringify(ORDER),
    });
    expect(json.status).toBe(202);
    await expectOrderDelivered(json.json.deliveryId, ORDER);
    target.requests.length = 0;

    // Body type "application/x-www-form-urlencoded" with Fields (keys and values are text).
    const fields = new URLSearchParams({
      order_id: 'A-2',
      customer_email: 'grace@example.com',
      total: '7',
      'items[0][sku]': 'SKU-2',
      'items[0][qty]': '3',
    });
    const form = await send(flow.webhookUrl, {
      headers: { ...ua, 'content-type': 'application/x-www-form-urlencoded' },
      body: fields.toString(),
    });
    expect(form.status).toBe(202);
    const formOrder = {
      order_id: 'A-2',
      customer_email: 'grace@example.com',
      total: 7,
      items: [{ sku: 'SKU-2', qty: 3 }],
    };
    await expectOrderDelivered(form.json.deliveryId, formOrder);
    target.requests.length = 0;

    // Body type "Multipart/form-data": text fields plus a file (kept as base64 with its type and name).
    const multipart = new FormData();
    multipart.set('order_id', 'A-3');
    multipart.set('customer_email', 'linus@example.com');
    multipart.set('total', '12.25');
    multipart.set('items[0][sku]', 'SKU-3');
    multipart.set('items[0][qty]', '1');
    multipart.set('invoice', new Blob(['%PDF-1.4 fake'], { type: 'application/pdf' }), 'invoice.pdf');
    const res = await fetch(flow.webhookUrl, { method: 'POST', headers: ua, body: multipart });
    expect(res.status).toBe(202);
    const { deliveryId } = (await res.json()) as { deliveryId: string };
    await expectOrderDelivered(deliveryId, {
      order_id: 'A-3',
      customer_email: 'linus@example.com',
      total: 12.25,
      items: [{ sku: 'SKU-3', qty: 1 }],
    });
    const rows = await deliveriesOf(db.url, flow.id);
    expect(rows.find((r) => r.id === deliveryId)!.body).toMatchObject({
      invoice: {
        filename: 'invoice.pdf',
        contentType: 'application/pdf',
        base64: Buffer.from('%PDF-1.4 fake').toString('base64'),
      },
    });
  });

  it('LENIENT mode accepts a non-matching payload, runs it, and shows the problems over GraphQL', async () => {
    const flow = await createFlow(app, {
      name: 'Lenient',
      trigger: { ...ORDER_TRIGGER, validation: 'LENIENT' },
      steps: [
        {
          key: 'echo',
          plugin: 'http',
          action: 'request',
          input: { url: `${target.url}/echo`, body: '{{webhook.body}}' },
        },
      ],
    });
    const payload = { order_id: 42, total: 'lots', items: [{ sku: 'SKU-1' }] };
    const res = await postJson(flow.webhookUrl, payload);
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ deliveryId: expect.any(String), status: 'accepted' });
    expect(await finishedRun(db.url, res.json.deliveryId)).toMatchObject({ status: 'COMPLETED' });
    expect(await received('/echo')).toEqual(payload);
    const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: res.json.deliveryId })).delivery;
    expect(d).toMatchObject({
      status: 'ACCEPTED',
      rejectReason: null,
      body: payload,
      run: { status: 'COMPLETED' },
    });
    expect(d.validationErrors).toEqual([
      { path: 'order_id', message: 'must be a string' },
      { path: 'customer_email', message: 'is required' },
      { path: 'total', message: 'must be a number' },
      { path: 'items[0].qty', message: 'is required' },
    ]);
  });

  it('puts the query of a GET into webhook.query and validates the variables against it', async () => {
    const flow = await createFlow(app, {
      name: 'GET',
      trigger: {
        label: 'Ping',
        methods: ['GET', 'POST'],
        variables: [
          { name: 'order_id', type: 'STRING', required: true },
          { name: 'total', type: 'NUMBER', required: true },
          { name: 'express', type: 'BOOLEAN' },
        ],
      },
      steps: [
        {
          key: 'echo',
          plugin: 'http',
          action: 'request',
          input: {
            url: `${target.url}/get`,
            body: {
              id: '{{webhook.query.order_id}}',
              total: '{{webhook.total}}',
              express: '{{webhook.express}}',
              query: '{{webhook.query}}',
            },
          },
        },
      ],
    });
    const res = await send(`${flow.webhookUrl}?order_id=A-9&total=12.5&express=true&tag[]=a&tag[]=b`, {
      method: 'GET',
    });
    expect(res.status).toBe(202);
    expect(await finishedRun(db.url, res.json.deliveryId)).toMatchObject({ status: 'COMPLETED' });
    expect(await received('/get')).toEqual({
      id: 'A-9',
      total: 12.5,
      express: true,
      query: { order_id: 'A-9', total: '12.5', express: 'true', tag: ['a', 'b'] },
    });
    const [row] = await deliveriesOf(db.url, flow.id);
    expect(row).toMatchObject({
      method: 'GET',
      query: { order_id: 'A-9', total: '12.5' },
      body: { total: 12.5, express: true },
    });

    const bad = await send(`${flow.webhookUrl}?total=many`, { method: 'GET' });
    expect(bad.status).toBe(422);
    expect(bad.json).toEqual({
      error: 'validation_failed',
      message: 'the payload does not match the trigger variables',
      issues: [
        { path: 'order_id', message: 'is required' },
        { path: 'total', message: 'must be a number' },
      ],
    });
  });

  it('keeps text bodies as text and other bytes as base64 with their type; accepts +json types', async () => {
    const flow = await createFlow(app, { name: 'Any body', trigger: { label: 'Raw' } });
    const text = await send(flow.webhookUrl, {
      headers: { 'content-type': 'text/csv; charset=utf-8' },
      body: 'a,b\n1,2',
    });
    const bytes = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from([0, 159, 255, 10]),
    });
    const vendor = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/vnd.api+json' },
      body: '{"data":{"type":"orders"}}',
    });
    const empty = await send(flow.webhookUrl, {});
    expect([text.status, bytes.status, vendor.status, empty.status]).toEqual([202, 202, 202, 202]);
    const rows = await deliveriesOf(db.url, flow.id);
    const body = (id: string) => rows.find((r) => r.id === id)!.body;
    expect(body(text.json.deliveryId)).toBe('a,b\n1,2');
    expect(body(bytes.json.deliveryId)).toEqual({
      contentType: 'application/octet-stream',
      base64: 'AJ//Cg==',
    });
    expect(body(vendor.json.deliveryId)).toEqual({ data: { type: 'orders' } });
    expect(body(empty.json.deliveryId)).toBeNull();
    expect(rows.find((r) => r.id === bytes.json.deliveryId)!.size_bytes).toBe(4);
  });

  it('cannot pollute prototypes through __proto__ or constructor in JSON, form or query', async () => {
    const flow = await createFlow(app, {
      name: 'Pollution',
      trigger: { label: 'In', variables: [{ name: 'a', type: 'OBJECT' }], validation: 'LENIENT' },
    });
    const json = await send(`${flow.webhookUrl}?__proto__[polluted]=1&constructor[prototype][polluted]=1`, {
      headers: { 'content-type': 'application/json' },
      body: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":{"__proto__":{"polluted":true}}}',
    });
    const form = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '__proto__[polluted]=1&constructor[prototype][polluted]=1&a[__proto__][polluted]=1&a=%7B%22__proto__%22%3A%7B%22polluted%22%3A1%7D%7D',
    });
    expect([json.status, form.status]).toEqual([202, 202]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const rows = await deliveriesOf(db.url, flow.id);
    const stored = rows.find((r) => r.id === json.json.deliveryId)!;
    // jsonb orders keys its own way
    expect(Object.keys(stored.body as object).sort()).toEqual(['__proto__', 'a', 'constructor']);
    expect(Object.keys(stored.query).sort()).toEqual(['__proto__', 'constructor']);
    const fromForm = rows.find((r) => r.id === form.json.deliveryId)!.body as Record<string, unknown>;
    expect(Object.keys(fromForm).sort()).toEqual(['__proto__', 'a', 'constructor']);
    expect(JSON.stringify(fromForm.a)).toBe('{"__proto__":{"polluted":1}}');
    await finishedRun(db.url, json.json.deliveryId);
    expect(await runsOf(db.url, flow.id)).toHaveLength(2);
  });
});
