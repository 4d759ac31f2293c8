import { gzipSync } from 'node:zlib';
import { gqlOk, startTestApp, subscribe, wsClient, type TestApp } from '../helpers/hookflow';
import { createTestDatabase } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';
import {
  countDeliveries,
  createFlow,
  deliveriesOf,
  finishedRun,
  pastTheRelay,
  postJson,
  runsOf,
  send,
  UNAUTHORIZED,
  type Flow,
} from './ingress-helpers';

const NOT_FOUND = { error: 'not_found', message: 'no webhook is registered at this URL' };
const ROTATE = `mutation($id: ID!, $grace: Int) { rotateWebhookToken(id: $id, gracePeriodSeconds: $grace) { webhookUrl } }`;

describe('webhook rejections: every refusal answers its status, runs nothing and is recorded with its reason', () => {
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

  /** Flows whose requests were all refused: checked once more after the dispatcher's relay had its chance. */
  const refused: Flow[] = [];

  const steps = () => [
    { key: 'call', plugin: 'http', action: 'request', input: { url: `${target.url}/run` } },
  ];

  /** The refused request left exactly one REJECTED delivery with this reason, and no run or step call. */
  async function expectRecordedRejection(flow: Flow, reason: string, before: number) {
    const rows = await deliveriesOf(db.url, flow.id);
    expect(rows.filter((r) => r.status === 'REJECTED').map((r) => r.reject_reason)).toEqual([reason]);
    const [row] = rows.filter((r) => r.status === 'REJECTED');
    expect(row!.source_ip).toBe('127.0.0.1');
    expect(row!.accept_latency_ms).toEqual(expect.any(Number));
    expect(row!.idempotency_key).toBeNull();
    expect(await countDeliveries(db.url)).toBe(before + 1);
    expect(await runsOf(db.url, flow.id)).toEqual([]);
    refused.push(flow);
    expect(target.requests.filter((r) => r.url === '/run')).toEqual([]);
    return row!;
  }

  it('answers 404 alike for unknown, rotated and paused URLs and stores nothing', async () => {
    const paused = await createFlow(app, { name: 'Paused', steps: steps() });
    await gqlOk(
      app,
      app.adminKey,
      'mutation($id: ID!) { setFlowStatus(id: $id, status: PAUSED) { status } }',
      {
        id: paused.id,
      },
    );
    const rotated = await createFlow(app, { name: 'Rotated', steps: steps() });
    await gqlOk(app, app.adminKey, ROTATE, { id: rotated.id });
    const before = await countDeliveries(db.url);
    const base = `${app.config.publicUrl}/api/webhook`;
    const answers = [];
    for (const url of [`${base}/${'A'.repeat(43)}`, `${base}/x`, paused.webhookUrl, rotated.webhookUrl]) {
      for (const method of ['POST', 'GET', 'PUT']) {
        const r = await send(url, {
          method,
          headers: { 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{}',
        });
        answers.push({ status: r.status, text: r.text, type: r.headers.get('content-type') });
      }
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toEqual({
      status: 404,
      text: JSON.stringify(NOT_FOUND),
      type: 'application/json; charset=utf-8',
    });
    expect(await countDeliveries(db.url)).toBe(before);
  });

  it('keeps the old URL working during a rotation grace period, and not after it', async () => {
    const flow = await createFlow(app, { name: 'Grace' });
    const graced = (await gqlOk(app, app.adminKey, ROTATE, { id: flow.id, grace: 3600 })).rotateWebhookToken;
    expect(graced.webhookUrl).not.toBe(flow.webhookUrl);
    expect((await postJson(flow.webhookUrl, {})).status).toBe(202);
    expect((await postJson(graced.webhookUrl, {})).status).toBe(202);

    // Rotating again without a grace period ends both older URLs at once.
    const next = (await gqlOk(app, app.adminKey, ROTATE, { id: flow.id })).rotateWebhookToken;
    expect((await postJson(flow.webhookUrl, {})).status).toBe(404);
    expect((await postJson(graced.webhookUrl, {})).status).toBe(404);
    expect((await postJson(next.webhookUrl, {})).status).toBe(202);

    // A short grace period runs out.
    const last = (await gqlOk(app, app.adminKey, ROTATE, { id: flow.id, grace: 1 })).rotateWebhookToken;
    expect((await postJson(last.webhookUrl, {})).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await postJson(next.webhookUrl, {})).status).toBe(404);

    const bad = await gqlOk(app, app.adminKey, ROTATE, { id: flow.id, grace: -1 }).catch(
      (e: Error) => e.message,
    );
    expect(bad).toContain('gracePeriodSeconds');
  });

  it('405 with Allow for a method the trigger does not accept', async () => {
    const flow = await createFlow(app, { name: 'Only POST', steps: steps() });
    const before = await countDeliveries(db.url);
    const res = await send(flow.webhookUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.json).toEqual({ error: 'method_not_allowed', message: 'this webhook accepts POST' });
    const row = await expectRecordedRejection(flow, 'METHOD_NOT_ALLOWED', before);
    expect(row.method).toBe('PUT');
  });

  it('403 for an address outside the IP allowlist (the socket address; X-Forwarded-For is ignored)', async () => {
    const flow = await createFlow(app, {
      name: 'Allowlist',
      trigger: { label: 'In', ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'] },
      steps: steps(),
    });
    const before = await countDeliveries(db.url);
    const res = await postJson(flow.webhookUrl, {}, { 'x-forwarded-for': '10.1.2.3' });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: 'forbidden', message: 'requests from this address are not allowed' });
    await expectRecordedRejection(flow, 'IP_NOT_ALLOWED', before);

    const allowed = await createFlow(app, {
      name: 'Loopback',
      trigger: { label: 'In', ipAllowlist: ['127.0.0.0/8', '::1'] },
    });
    expect((await postJson(allowed.webhookUrl, {})).status).toBe(202);
  });

  it('413 for a body over the trigger limit, also when it only grows past it on inflating', async () => {
    const flow = await createFlow(app, {
      name: 'Small',
      trigger: { label: 'In', maxBodyBytes: 64 },
      steps: steps(),
    });
    const before = await countDeliveries(db.url);
    const res = await postJson(flow.webhookUrl, { text: 'x'.repeat(100) });
    expect(res.status).toBe(413);
    expect(res.json).toEqual({
      error: 'payload_too_large',
      message: 'the body is larger than this webhook accepts',
    });
    const row = await expectRecordedRejection(flow, 'PAYLOAD_TOO_LARGE', before);
    expect(row).toMatchObject({ body: null, size_bytes: JSON.stringify({ text: 'x'.repeat(100) }).length });

    const bomb = gzipSync(JSON.stringify({ text: 'x'.repeat(10_000) }));
    expect(bomb.length).toBeLessThan(64);
    const inflated = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(inflated.status).toBe(413);
    expect(await runsOf(db.url, flow.id)).toEqual([]);
  });

  it('415 for an unsupported content type', async () => {
    const flow = await createFlow(app, { name: 'XML', steps: steps() });
    const before = await countDeliveries(db.url);
    const res = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/xml' },
      body: '<order/>',
    });
    expect(res.status).toBe(415);
    expect(res.json).toEqual({
      error: 'unsupported_media_type',
      message:
        'send JSON, application/x-www-form-urlencoded, multipart/form-data, text/* or application/octet-stream',
    });
    const row = await expectRecordedRejection(flow, 'UNSUPPORTED_MEDIA_TYPE', before);
    expect(row).toMatchObject({ content_type: 'application/xml', body: null, size_bytes: 8 });
  });

  it('400 for malformed JSON and for JSON nested deeper than 32 levels', async () => {
    const flow = await createFlow(app, { name: 'Malformed', steps: steps() });
    const before = await countDeliveries(db.url);
    const res = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/json' },
      body: '{"order_id": ',
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'bad_request', message: 'the body is not valid JSON' });
    await expectRecordedRejection(flow, 'MALFORMED_BODY', before);

    const deep = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/json' },
      body: `${'{"a":'.repeat(33)}1${'}'.repeat(33)}`,
    });
    expect(deep.status).toBe(400);
    expect(deep.json).toEqual({
      error: 'bad_request',
      message: 'the JSON body is nested deeper than 32 levels',
    });
    const form = await send(flow.webhookUrl, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `a${'[b]'.repeat(9)}=1`,
    });
    expect(form.status).toBe(400);
    expect(form.json).toEqual({
      error: 'bad_request',
      message: 'a field name is nested deeper than 8 levels',
    });
    expect(await runsOf(db.url, flow.id)).toEqual([]);
  });

  it('422 in STRICT mode lists every problem, keeps the payload for the owner, and frees the idempotency key', async () => {
    const flow = await createFlow(app, {
      name: 'Strict',
      trigger: {
        label: 'In',
        variables: [
          { name: 'order_id', type: 'STRING', required: true },
          { name: 'total', type: 'NUMBER', required: true },
          {
            name: 'items',
            type: 'ARRAY',
            items: { type: 'OBJECT', properties: [{ name: 'sku', type: 'STRING', required: true }] },
          },
        ],
      },
      steps: steps(),
    });
    const before = await countDeliveries(db.url);
    const payload = { total: '12', items: [{ sku: 1 }, {}] };
    const res = await postJson(flow.webhookUrl, payload, { 'idempotency-key': 'order-7' });
    expect(res.status).toBe(422);
    const issues = [
      { path: 'order_id', message: 'is required' },
      { path: 'total', message: 'must be a number' },
      { path: 'items[0].sku', message: 'must be a string' },
      { path: 'items[1].sku', message: 'is required' },
    ];
    expect(res.json).toEqual({
      error: 'validation_failed',
      message: 'the payload does not match the trigger variables',
      issues,
    });
    const row = await expectRecordedRejection(flow, 'VALIDATION', before);
    expect(row).toMatchObject({ body: payload, validation_errors: issues });

    const fixed = await postJson(
      flow.webhookUrl,
      { order_id: 'A-7', total: 12 },
      { 'idempotency-key': 'order-7' },
    );
    expect(fixed.status).toBe(202);
    expect(await finishedRun(db.url, fixed.json.deliveryId)).toMatchObject({ status: 'COMPLETED' });
  });

  it('401 with one generic answer for a missing or wrong header token; the reason stays with the owner', async () => {
    const flow = await createFlow(app, {
      name: 'Token',
      trigger: { label: 'In', auth: { type: 'HEADER_TOKEN', secrets: ['s3cret-token-1'] } },
      steps: steps(),
    });
    const before = await countDeliveries(db.url);
    const missing = await postJson(flow.webhookUrl, {});
    const wrong = await postJson(flow.webhookUrl, {}, { 'x-webhook-token': 's3cret-token-2' });
    expect([missing.status, wrong.status]).toEqual([401, 401]);
    expect(missing.json).toEqual(UNAUTHORIZED);
    expect(wrong.text).toBe(missing.text);
    const rows = await deliveriesOf(db.url, flow.id);
    expect(rows.map((r) => [r.status, r.reject_reason])).toEqual([
      ['REJECTED', 'AUTH'],
      ['REJECTED', 'AUTH'],
    ]);
    expect(rows[0]!.validation_errors).toEqual([
      { path: '', message: 'neither X-Webhook-Token nor Authorization: Bearer was sent' },
    ]);
    expect(rows[1]!.headers['x-webhook-token']).toBe('[redacted]');
    expect(await countDeliveries(db.url)).toBe(before + 2);

    const ok = await postJson(flow.webhookUrl, {}, { authorization: 'Bearer s3cret-token-1' });
    expect(ok.status).toBe(202);
    expect(await finishedRun(db.url, ok.json.deliveryId)).toMatchObject({ status: 'COMPLETED' });
  });

  it('401 with WWW-Authenticate for bad Basic credentials; a custom token header is redacted', async () => {
    const basic = await createFlow(app, {
      name: 'Basic',
      trigger: { label: 'In', auth: { type: 'BASIC', username: 'shop', password: 'pa55word!' } },
    });
    const creds = (s: string) => ({ authorization: `Basic ${Buffer.from(s).toString('base64')}` });
    const bad = await postJson(basic.webhookUrl, {}, creds('shop:nope'));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Basic realm="webhook"');
    expect(bad.json).toEqual(UNAUTHORIZED);
    expect((await postJson(basic.webhookUrl, {}, creds('shop:pa55word!'))).status).toBe(202);

    const custom = await createFlow(app, {
      name: 'Custom header',
      trigger: {
        label: 'In',
        auth: { type: 'HEADER_TOKEN', headerName: 'X-Shop-Auth', secrets: ['abcdefgh12'] },
      },
    });
    const ok = await postJson(custom.webhookUrl, {}, { 'x-shop-auth': 'abcdefgh12' });
    expect(ok.status).toBe(202);
    const [row] = await deliveriesOf(db.url, custom.id);
    expect(row!.headers['x-shop-auth']).toBe('[redacted]');
  });

  it('429 with Retry-After past the rate limit, recorded and published as DELIVERY_REJECTED', async () => {
    const flow = await createFlow(app, {
      name: 'Limited',
      trigger: { label: 'In', rateLimit: { requestsPerMinute: 1, burst: 2 } },
      steps: steps(),
    });
    const ws = wsClient(app, app.adminKey);
    const sub = subscribe(
      ws,
      'subscription($id: ID) { flowActivity(flowId: $id) { type deliveryId status message } }',
      {
        id: flow.id,
      },
    );
    await new Promise((r) => setTimeout(r, 300)); // let the subscription register
    try {
      const first = await postJson(flow.webhookUrl, { n: 1 });
      const second = await postJson(flow.webhookUrl, { n: 2 });
      const third = await postJson(flow.webhookUrl, { n: 3 });
      expect([first.status, second.status, third.status]).toEqual([202, 202, 429]);
      expect(third.json).toEqual({ error: 'rate_limited', message: 'too many requests; retry later' });
      const retryAfter = Number(third.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);

      await finishedRun(db.url, first.json.deliveryId);
      await finishedRun(db.url, second.json.deliveryId);
      const rows = await deliveriesOf(db.url, flow.id);
      expect(rows.map((r) => [r.status, r.reject_reason])).toEqual([
        ['ACCEPTED', null],
        ['ACCEPTED', null],
        ['REJECTED', 'RATE_LIMITED'],
      ]);
      expect(await runsOf(db.url, flow.id)).toHaveLength(2);
      const rejected = rows[2]!;
      const events = sub.events.map((e) => e.flowActivity);
      expect(events).toContainEqual({
        type: 'DELIVERY_REJECTED',
        deliveryId: rejected.id,
        status: 'REJECTED',
        message: 'RATE_LIMITED',
      });
    } finally {
      sub.dispose();
      await ws.dispose();
    }
  });

  it('never starts a run for a refused request, also not through the relay', async () => {
    expect(refused.length).toBeGreaterThanOrEqual(6);
    await pastTheRelay();
    for (const flow of refused) {
      const accepted = (await deliveriesOf(db.url, flow.id)).filter((d) => d.status === 'ACCEPTED');
      expect(await runsOf(db.url, flow.id)).toHaveLength(accepted.length);
    }
  });
});
