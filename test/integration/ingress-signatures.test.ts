import { createHmac, randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/hookflow';
import { createTestDatabase } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';
import {
  createFlow,
  deliveriesOf,
  finishedRun,
  runsOf,
  send,
  UNAUTHORIZED,
  updateFlow,
} from './ingress-helpers';

/**
 * Each preset signs exactly as its vendor documents it; the HMACs are computed here with node:crypto,
 * independently of the ingress code.
 */
type Preset = {
  type: string;
  secret: () => string;
  contentType: string;
  body: string;
  /** The headers the vendor sends for `body` signed with `secret` at Unix time `t`. */
  sign: (body: string, secret: string, t: number) => Record<string, string>;
  timestamped: boolean;
};

const now = () => Math.floor(Date.now() / 1000);
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data);
const ORDER_JSON = JSON.stringify({ order_id: 'A-1001', total: 129.5, note: 'crème brûlée' });

const PRESETS: Preset[] = [
  {
    // standardwebhooks.com: webhook-signature "v1,<base64 HMAC of id.timestamp.body>" with the base64 key after whsec_.
    type: 'STANDARD_WEBHOOKS',
    secret: () => `whsec_${randomBytes(24).toString('base64')}`,
    contentType: 'application/json',
    body: ORDER_JSON,
    sign: (body, secret, t) => {
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      return {
        'webhook-id': id,
        'webhook-timestamp': String(t),
        'webhook-signature': `v1,${hmac(key, `${id}.${t}.${body}`).digest('base64')}`,
      };
    },
    timestamped: true,
  },
  {
    // Stripe: Stripe-Signature "t=<t>,v1=<hex HMAC of t.body>" with the endpoint secret.
    type: 'STRIPE',
    secret: () => `whsec_${randomBytes(16).toString('hex')}`,
    contentType: 'application/json; charset=utf-8',
    body: JSON.stringify({
      id: 'evt_1',
      type: 'checkout.session.completed',
      data: { object: { amount_total: 12950 } },
    }),
    sign: (body, secret, t) => ({
      'stripe-signature': `t=${t},v1=${hmac(secret, `${t}.${body}`).digest('hex')}`,
    }),
    timestamped: true,
  },
  {
    // GitHub: X-Hub-Signature-256 "sha256=<hex HMAC of the body>".
    type: 'GITHUB',
    secret: () => randomBytes(20).toString('hex'),
    contentType: 'application/json',
    body: JSON.stringify({ action: 'opened', number: 7 }),
    sign: (body, secret) => ({
      'x-github-event': 'pull_request',
      'x-hub-signature-256': `sha256=${hmac(secret, body).digest('hex')}`,
    }),
    timestamped: false,
  },
  {
    // Shopify: X-Shopify-Hmac-Sha256 "<base64 HMAC of the body>" with the app's client secret.
    type: 'SHOPIFY',
    secret: () => `shpss_${randomBytes(16).toString('hex')}`,
    contentType: 'application/json',
    body: ORDER_JSON,
    sign: (body, secret) => ({
      'x-shopify-topic': 'orders/create',
      'x-shopify-hmac-sha256': hmac(secret, body).digest('base64'),
    }),
    timestamped: false,
  },
  {
    // Slack: X-Slack-Signature "v0=<hex HMAC of v0:timestamp:body>", a slash command is form-encoded.
    type: 'SLACK',
    secret: () => randomBytes(16).toString('hex'),
    contentType: 'application/x-www-form-urlencoded',
    body: 'token=xyzz0WbapA4vBCDEbOTFNjuth&team_id=T1DC2JH3J&command=%2Forder&text=A-1001+%C3%A9',
    sign: (body, secret, t) => ({
      'x-slack-request-timestamp': String(t),
      'x-slack-signature': `v0=${hmac(secret, `v0:${t}:${body}`).digest('hex')}`,
    }),
    timestamped: true,
  },
];

describe('signature presets through HTTP', () => {
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

  const steps = () => [
    {
      key: 'echo',
      plugin: 'http',
      action: 'request',
      input: { url: `${target.url}/echo`, body: '{{webhook.body}}' },
    },
  ];

  describe.each(PRESETS)('$type', (preset) => {
    it('accepts a request signed as the vendor documents it', async () => {
      const secret = preset.secret();
      const flow = await createFlow(app, {
        name: preset.type,
        trigger: { label: 'Signed', auth: { type: preset.type, secrets: [secret] } },
        steps: steps(),
      });
      const res = await send(flow.webhookUrl, {
        headers: { 'content-type': preset.contentType, ...preset.sign(preset.body, secret, now()) },
        body: preset.body,
      });
      expect(res.status).toBe(202);
      expect(await finishedRun(db.url, res.json.deliveryId)).toMatchObject({ status: 'COMPLETED' });
      const [row] = await deliveriesOf(db.url, flow.id);
      for (const [name, value] of Object.entries(row!.headers)) {
        if (/signature|hmac/.test(name)) expect(value).toBe('[redacted]');
      }
    });

    it('answers 401 for a tampered body, a wrong secret, a stale timestamp and missing headers, and runs nothing', async () => {
      const secret = preset.secret();
      const flow = await createFlow(app, {
        name: preset.type,
        trigger: { label: 'Signed', auth: { type: preset.type, secrets: [secret] } },
        steps: steps(),
      });
      const attempt = (headers: Record<string, string>, body = preset.body) =>
        send(flow.webhookUrl, { headers: { 'content-type': preset.contentType, ...headers }, body });

      const cases: [string, Promise<Awaited<ReturnType<typeof attempt>>>, string][] = [];
      const tampered = preset.body.replace('A-1001', 'A-1002').replace('7', '8').replace('12950', '1');
      expect(tampered).not.toBe(preset.body);
      cases.push(['tampered body', attempt(preset.sign(preset.body, secret, now()), tampered), 'SIGNATURE']);
      cases.push(['wrong secret', attempt(preset.sign(preset.body, preset.secret(), now())), 'SIGNATURE']);
      if (preset.timestamped) {
        cases.push(['stale timestamp', attempt(preset.sign(preset.body, secret, now() - 600)), 'TIMESTAMP']);
        cases.push(['future timestamp', attempt(preset.sign(preset.body, secret, now() + 600)), 'TIMESTAMP']);
      }
      cases.push(['no headers', attempt({}), 'SIGNATURE']);
      for (const name of Object.keys(preset.sign(preset.body, secret, now()))) {
        if (name === 'x-github-event' || name === 'x-shopify-topic') continue;
        const partial = preset.sign(preset.body, secret, now());
        delete partial[name];
        cases.push([`without ${name}`, attempt(partial), 'SIGNATURE']);
      }

      for (const [what, reply] of cases) {
        const r = await reply;
        expect({ what, status: r.status, body: r.json }).toEqual({ what, status: 401, body: UNAUTHORIZED });
      }
      const rows = await deliveriesOf(db.url, flow.id);
      expect(rows.map((r) => r.status)).toEqual(cases.map(() => 'REJECTED'));
      expect(rows.map((r) => r.reject_reason).sort()).toEqual(cases.map((c) => c[2]).sort());
      expect(rows.every((r) => r.body === null)).toBe(true);
      expect(await runsOf(db.url, flow.id)).toEqual([]);
    });
  });

  it('verifies with either of two active secrets during a rotation, and only the new one after it', async () => {
    const github = PRESETS.find((p) => p.type === 'GITHUB')!;
    const [oldSecret, newSecret] = [github.secret(), github.secret()];
    const trigger = (secrets: string[]) => ({ label: 'GitHub', auth: { type: 'GITHUB', secrets } });
    const flow = await createFlow(app, { name: 'Rotation', trigger: trigger([oldSecret]) });
    const signedWith = (secret: string) =>
      send(flow.webhookUrl, {
        headers: { 'content-type': 'application/json', ...github.sign(github.body, secret, now()) },
        body: github.body,
      });

    expect((await signedWith(oldSecret)).status).toBe(202);
    expect((await signedWith(newSecret)).status).toBe(401);
    await updateFlow(app, flow.id, { trigger: trigger([oldSecret, newSecret]) });
    expect((await signedWith(oldSecret)).status).toBe(202);
    expect((await signedWith(newSecret)).status).toBe(202);
    await updateFlow(app, flow.id, { trigger: trigger([newSecret]) });
    expect((await signedWith(oldSecret)).status).toBe(401);
    expect((await signedWith(newSecret)).status).toBe(202);
    // An update that keeps the type without sending secrets keeps the stored ones.
    await updateFlow(app, flow.id, { trigger: { label: 'GitHub', auth: { type: 'GITHUB' } } });
    expect((await signedWith(newSecret)).status).toBe(202);
  });

  it('verifies a form-encoded Slack request on its raw bytes and still needs the secret URL', async () => {
    const slack = PRESETS.find((p) => p.type === 'SLACK')!;
    const secret = slack.secret();
    const flow = await createFlow(app, {
      name: 'Slack strict',
      trigger: {
        label: 'Slash command',
        auth: { type: 'SLACK', secrets: [secret] },
        variables: [
          { name: 'command', type: 'STRING', required: true },
          { name: 'text', type: 'STRING' },
        ],
      },
    });
    const headers = { 'content-type': slack.contentType, ...slack.sign(slack.body, secret, now()) };
    const ok = await send(flow.webhookUrl, { headers, body: slack.body });
    expect(ok.status).toBe(202);
    const [row] = await deliveriesOf(db.url, flow.id);
    expect(row!.body).toMatchObject({ command: '/order', text: 'A-1001 é' });
    const wrongUrl = await send(
      flow.webhookUrl.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')),
      { headers, body: slack.body },
    );
    expect(wrongUrl.status).toBe(404);
  });
});
