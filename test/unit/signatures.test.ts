import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { verifyAuth, type AuthKeys, type AuthResult } from '../../src/ingress/auth';
import { WebhookAuthType } from '../../src/schema/enums';

/**
 * Every vector here is computed the way the vendor documents it, with node:crypto, never with the code
 * under test. Where the vendor publishes a worked example, that exact example is checked too.
 */

const NOW_MS = 1_750_000_000_000;
const NOW = Math.floor(NOW_MS / 1000);
const BODY = Buffer.from('{"order_id":"A-1","total":12.5,"note":"crème brûlée"}');
const TAMPERED = Buffer.from('{"order_id":"A-1","total":0.5,"note":"crème brûlée"}');

const keys = (secrets: string[], extra: Partial<AuthKeys> = {}): AuthKeys => ({
  secrets,
  toleranceSeconds: 300,
  ...extra,
});

function check(
  type: WebhookAuthType,
  k: AuthKeys,
  headers: IncomingHttpHeaders,
  raw = BODY,
  nowMs = NOW_MS,
): AuthResult {
  return verifyAuth(type, { raw, headers, nowMs }, k);
}

const reasonOf = (r: AuthResult) => (r.ok ? 'OK' : r.reason);

/** standardwebhooks.com spec: base64(HMAC-SHA256(base64decode(secret without whsec_), "id.timestamp.body")). */
function standardSignature(secret: string, id: string, timestamp: number, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}
/** Stripe docs: hex HMAC-SHA256 of "timestamp.body" with the endpoint secret, sent as t=…,v1=…. */
const stripeV1 = (secret: string, t: number, body: Buffer) =>
  createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
/** GitHub docs: "sha256=" + hex HMAC-SHA256 of the body. */
const githubSignature = (secret: string, body: Buffer | string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
/** Shopify docs: base64 HMAC-SHA256 of the raw body with the app's client secret. */
const shopifySignature = (secret: string, body: Buffer) =>
  createHmac('sha256', secret).update(body).digest('base64');
/** Slack docs: "v0=" + hex HMAC-SHA256 of "v0:timestamp:body" with the signing secret. */
const slackSignature = (secret: string, t: number, body: Buffer) =>
  `v0=${createHmac('sha256', secret).update(`v0:${t}:`).update(body).digest('hex')}`;

describe('Standard Webhooks', () => {
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const OTHER = `whsec_${Buffer.from('another secret of 24 bytes').toString('base64')}`;
  const headers = (sig: string, t = NOW, id = 'msg_p5jXN8AQM9LWM0D4loKWxJek') => ({
    'webhook-id': id,
    'webhook-timestamp': String(t),
    'webhook-signature': sig,
  });

  it('verifies the example of the specification', () => {
    const t = 1614265330;
    const body = Buffer.from('{"test": 2432232314}');
    const sig = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
    expect(standardSignature(SECRET, 'msg_p5jXN8AQM9LWM0D4loKWxJek', t, body)).toBe(sig);
    expect(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), headers(sig, t), body, t * 1000)).toEqual(
      {
        ok: true,
      },
    );
  });

  it('accepts a valid request, also among several signatures and with the second secret', () => {
    const good = standardSignature(SECRET, 'msg_1', NOW, BODY);
    expect(
      reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), headers(good, NOW, 'msg_1'))),
    ).toBe('OK');
    const list = `v1,bm90IGl0 ${good} v1a,ignored`;
    expect(
      reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), headers(list, NOW, 'msg_1'))),
    ).toBe('OK');
    expect(
      reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([OTHER, SECRET]), headers(good, NOW, 'msg_1'))),
    ).toBe('OK');
  });

  it('rejects a tampered body, a wrong secret, another message id, a stale timestamp and missing headers', () => {
    const sig = standardSignature(SECRET, 'msg_1', NOW, BODY);
    const h = headers(sig, NOW, 'msg_1');
    expect(reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), h, TAMPERED))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([OTHER]), h))).toBe('SIGNATURE');
    expect(
      reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), { ...h, 'webhook-id': 'msg_2' })),
    ).toBe('SIGNATURE');
    const stale = NOW - 301;
    const staleHeaders = headers(standardSignature(SECRET, 'msg_1', stale, BODY), stale, 'msg_1');
    expect(reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), staleHeaders))).toBe(
      'TIMESTAMP',
    );
    const future = NOW + 301;
    const futureHeaders = headers(standardSignature(SECRET, 'msg_1', future, BODY), future, 'msg_1');
    expect(reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), futureHeaders))).toBe(
      'TIMESTAMP',
    );
    expect(
      reasonOf(
        check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET], { toleranceSeconds: 600 }), staleHeaders),
      ),
    ).toBe('OK');
    for (const missing of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const partial: Record<string, string> = { ...h };
      delete partial[missing];
      expect(reasonOf(check(WebhookAuthType.STANDARD_WEBHOOKS, keys([SECRET]), partial))).toBe('SIGNATURE');
    }
  });

  it('does not verify with a secret that is not a whsec_ base64 key', () => {
    const r = check(WebhookAuthType.STANDARD_WEBHOOKS, keys(['not base64 !!']), headers('v1,abc'));
    expect(r).toEqual({ ok: false, reason: 'SIGNATURE', detail: expect.stringContaining('whsec_') });
  });
});

describe('Stripe', () => {
  const SECRET = 'whsec_stripe_endpoint_secret_1';
  const NEXT = 'whsec_stripe_endpoint_secret_2';
  const sigHeader = (t: number, ...v1: string[]) => ({
    'stripe-signature': [
      `t=${t}`,
      ...v1.map((s) => `v1=${s}`),
      'v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39',
    ].join(','),
  });

  it('accepts a valid request, also when several v1 signatures are sent during a secret roll', () => {
    expect(
      reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), sigHeader(NOW, stripeV1(SECRET, NOW, BODY)))),
    ).toBe('OK');
    const rolled = sigHeader(NOW, stripeV1(NEXT, NOW, BODY), stripeV1(SECRET, NOW, BODY));
    expect(reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), rolled))).toBe('OK');
    expect(
      reasonOf(
        check(WebhookAuthType.STRIPE, keys([NEXT, SECRET]), sigHeader(NOW, stripeV1(SECRET, NOW, BODY))),
      ),
    ).toBe('OK');
  });

  it('rejects a tampered body, a wrong secret, a stale timestamp and missing parts', () => {
    const h = sigHeader(NOW, stripeV1(SECRET, NOW, BODY));
    expect(reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), h, TAMPERED))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.STRIPE, keys([NEXT]), h))).toBe('SIGNATURE');
    const stale = NOW - 301;
    expect(
      reasonOf(
        check(WebhookAuthType.STRIPE, keys([SECRET]), sigHeader(stale, stripeV1(SECRET, stale, BODY))),
      ),
    ).toBe('TIMESTAMP');
    // The timestamp is signed: moving it forward breaks the signature.
    expect(
      reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), sigHeader(NOW, stripeV1(SECRET, stale, BODY)))),
    ).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), {}))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), { 'stripe-signature': `t=${NOW}` }))).toBe(
      'SIGNATURE',
    );
    const noT = { 'stripe-signature': `v1=${stripeV1(SECRET, NOW, BODY)}` };
    expect(reasonOf(check(WebhookAuthType.STRIPE, keys([SECRET]), noT))).toBe('SIGNATURE');
  });
});

describe('GitHub', () => {
  const SECRET = "It's a Secret to Everybody";

  it('verifies the example of the GitHub documentation', () => {
    const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(githubSignature(SECRET, 'Hello, World!')).toBe(sig);
    expect(
      check(
        WebhookAuthType.GITHUB,
        keys([SECRET]),
        { 'x-hub-signature-256': sig },
        Buffer.from('Hello, World!'),
      ),
    ).toEqual({ ok: true });
  });

  it('accepts with either of two secrets and rejects tampering, wrong secrets and missing or malformed headers', () => {
    const h = { 'x-hub-signature-256': githubSignature(SECRET, BODY) };
    expect(reasonOf(check(WebhookAuthType.GITHUB, keys(['the next secret', SECRET]), h))).toBe('OK');
    expect(reasonOf(check(WebhookAuthType.GITHUB, keys([SECRET]), h, TAMPERED))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.GITHUB, keys(['the wrong secret']), h))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.GITHUB, keys([SECRET]), {}))).toBe('SIGNATURE');
    const sha1 = { 'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}` };
    expect(reasonOf(check(WebhookAuthType.GITHUB, keys([SECRET]), sha1))).toBe('SIGNATURE');
    const bare = { 'x-hub-signature-256': h['x-hub-signature-256'].slice(7) };
    expect(reasonOf(check(WebhookAuthType.GITHUB, keys([SECRET]), bare))).toBe('SIGNATURE');
  });
});

describe('Shopify', () => {
  const SECRET = 'shpss_client_secret_1';

  it('accepts a valid request and rejects tampering, wrong secrets and missing or malformed headers', () => {
    const h = { 'x-shopify-hmac-sha256': shopifySignature(SECRET, BODY) };
    expect(reasonOf(check(WebhookAuthType.SHOPIFY, keys([SECRET]), h))).toBe('OK');
    expect(reasonOf(check(WebhookAuthType.SHOPIFY, keys(['shpss_new_secret_2', SECRET]), h))).toBe('OK');
    expect(reasonOf(check(WebhookAuthType.SHOPIFY, keys([SECRET]), h, TAMPERED))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.SHOPIFY, keys(['shpss_wrong_secret']), h))).toBe('SIGNATURE');
    expect(reasonOf(check(WebhookAuthType.SHOPIFY, keys([SECRET]), {}))).toBe('SIGNATURE');
    const hex = { 'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(BODY).digest('hex') };
    expect(reasonOf(check(WebhookAuthType.SHOPIFY, keys([SECRET]), hex))).toBe('SIGNATURE');
  });
});

describe('Slack', () => {
  const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
  const FORM = Buffer.from('token=xyzz0WbapA4vBCDEbOTFNjuth&team_id=T1DC2JH3J&command=%2Fweather&text=94070');
  const headers = (sig: string, t = NOW) => ({
    'x-slack-signature': sig,
    'x-slack-request-timestamp': String(t),
  });

  it('accepts a valid request, with either of two secrets', () => {
    expect(
      reasonOf(
        check(WebhookAuthType.SLACK, keys([SECRET]), headers(slackSignature(SECRET, NOW, FORM)), FORM),
      ),
    ).toBe('OK');
    expect(
      reasonOf(
        check(
          WebhookAuthType.SLACK,
          keys(['other-secret', SECRET]),
          headers(slackSignature(SECRET, NOW, FORM)),
          FORM,
        ),
      ),
    ).toBe('OK');
  });

  it('rejects a tampered body, a wrong secret, a stale or unsigned timestamp and missing headers', () => {
    const h = headers(slackSignature(SECRET, NOW, FORM));
    expect(reasonOf(check(WebhookAuthType.SLACK, keys([SECRET]), h, Buffer.from(`${FORM}&x=1`)))).toBe(
      'SIGNATURE',
    );
    expect(reasonOf(check(WebhookAuthType.SLACK, keys(['wrong-secret']), h, FORM))).toBe('SIGNATURE');
    const stale = NOW - 60 * 6;
    expect(
      reasonOf(
        check(
          WebhookAuthType.SLACK,
          keys([SECRET]),
          headers(slackSignature(SECRET, stale, FORM), stale),
          FORM,
        ),
      ),
    ).toBe('TIMESTAMP');
    expect(
      reasonOf(
        check(
          WebhookAuthType.SLACK,
          keys([SECRET]),
          { ...h, 'x-slack-request-timestamp': String(NOW + 1) },
          FORM,
        ),
      ),
    ).toBe('SIGNATURE');
    expect(
      reasonOf(
        check(WebhookAuthType.SLACK, keys([SECRET]), { 'x-slack-signature': h['x-slack-signature'] }, FORM),
      ),
    ).toBe('SIGNATURE');
    expect(
      reasonOf(
        check(WebhookAuthType.SLACK, keys([SECRET]), { 'x-slack-request-timestamp': String(NOW) }, FORM),
      ),
    ).toBe('SIGNATURE');
  });
});

describe('header token and basic auth', () => {
  it('takes the token from the configured header or from Authorization: Bearer', () => {
    const k = keys(['tok-current-123', 'tok-next-456']);
    expect(reasonOf(check(WebhookAuthType.HEADER_TOKEN, k, { 'x-webhook-token': 'tok-current-123' }))).toBe(
      'OK',
    );
    expect(reasonOf(check(WebhookAuthType.HEADER_TOKEN, k, { authorization: 'Bearer tok-next-456' }))).toBe(
      'OK',
    );
    expect(reasonOf(check(WebhookAuthType.HEADER_TOKEN, k, { 'x-webhook-token': 'tok-current-12' }))).toBe(
      'AUTH',
    );
    expect(
      reasonOf(check(WebhookAuthType.HEADER_TOKEN, k, { authorization: 'Basic dG9rLWN1cnJlbnQtMTIz' })),
    ).toBe('AUTH');
    expect(reasonOf(check(WebhookAuthType.HEADER_TOKEN, k, {}))).toBe('AUTH');
    const custom = keys(['tok-current-123'], { headerName: 'X-Shop-Key' });
    expect(reasonOf(check(WebhookAuthType.HEADER_TOKEN, custom, { 'x-shop-key': 'tok-current-123' }))).toBe(
      'OK',
    );
    expect(
      reasonOf(check(WebhookAuthType.HEADER_TOKEN, custom, { 'x-webhook-token': 'tok-current-123' })),
    ).toBe('AUTH');
  });

  it('checks both parts of Basic credentials (RFC 7617)', () => {
    const k = keys([], { username: 'zapier', password: 'p@ss:word' });
    const basic = (s: string) => ({ authorization: `Basic ${Buffer.from(s).toString('base64')}` });
    expect(reasonOf(check(WebhookAuthType.BASIC, k, basic('zapier:p@ss:word')))).toBe('OK');
    expect(reasonOf(check(WebhookAuthType.BASIC, k, basic('zapier:wrong')))).toBe('AUTH');
    expect(reasonOf(check(WebhookAuthType.BASIC, k, basic('other:p@ss:word')))).toBe('AUTH');
    expect(reasonOf(check(WebhookAuthType.BASIC, k, basic('zapier')))).toBe('AUTH');
    expect(reasonOf(check(WebhookAuthType.BASIC, k, { authorization: 'Bearer zapier:p@ss:word' }))).toBe(
      'AUTH',
    );
    expect(reasonOf(check(WebhookAuthType.BASIC, k, {}))).toBe('AUTH');
  });
});
