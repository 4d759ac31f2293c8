/**
 * Every auth preset: missing, wrong, stale, replayed and wrongly encoded credentials. Signatures are computed
 * here with node:crypto as each vendor documents them, independently of the ingress code.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { post, type HostileCase, type HostileContext, type Preset, type Reply } from '../harness';

const UNAUTHORIZED = { error: 'unauthorized', message: 'authentication failed' };
const now = () => Math.floor(Date.now() / 1000);
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

type Signer = (body: string, secret: string, t: number, caseId: string) => Record<string, string>;

type Spec = {
  code: string;
  preset: Preset;
  contentType: string;
  /** A body unique to the case (its delivery id where the scheme's idempotency key comes from the body). */
  body: (caseId: string) => string;
  sign: Signer;
  /** The reason recorded for a missing or wrong credential. */
  reason: 'SIGNATURE' | 'AUTH';
  timestamped: boolean;
  /** Variants only this scheme has (ids 020 and up). */
  extras: Variant[];
};

/**
 * A variant: how to build the headers (and body) from a correct signature, and what must come back: accepted,
 * or refused with a reject reason (REASON: the scheme's reason for a missing or wrong credential).
 */
type Variant = {
  n: number;
  title: string;
  make: (spec: Spec, secret: string, caseId: string) => { headers: Record<string, string>; body?: string };
  outcome: 'accepted' | 'REASON' | 'SIGNATURE' | 'TIMESTAMP' | 'AUTH';
};

/** Create-flow inputs for the presets (the suite's setup creates one flow per preset). */
export function authFlowInputs(): Record<Preset, { secret: string; trigger: Record<string, unknown> }> {
  const secret = {
    STANDARD_WEBHOOKS: `whsec_${randomBytes(24).toString('base64')}`,
    STRIPE: `whsec_${randomBytes(16).toString('hex')}`,
    GITHUB: randomBytes(20).toString('hex'),
    SHOPIFY: `shpss_${randomBytes(16).toString('hex')}`,
    SLACK: randomBytes(16).toString('hex'),
    HEADER_TOKEN: `tok_${randomBytes(16).toString('hex')}`,
    BASIC: `pa55:${randomBytes(8).toString('hex')}`,
  };
  const signed = (type: Preset, extra: Record<string, unknown> = {}) => ({
    secret: secret[type],
    trigger: { label: type, auth: { type, secrets: [secret[type]] }, ...extra },
  });
  return {
    STANDARD_WEBHOOKS: signed('STANDARD_WEBHOOKS'),
    STRIPE: signed('STRIPE', { idempotencyKey: '{{webhook.id}}' }),
    GITHUB: signed('GITHUB'),
    SHOPIFY: signed('SHOPIFY'),
    SLACK: signed('SLACK', { idempotencyKey: '{{webhook.trigger_id}}' }),
    HEADER_TOKEN: signed('HEADER_TOKEN'),
    BASIC: {
      secret: secret.BASIC,
      trigger: { label: 'BASIC', auth: { type: 'BASIC', username: 'shop', password: secret.BASIC } },
    },
  };
}

const orderBody = (caseId: string) =>
  JSON.stringify({ id: `evt_${caseId}`, order_id: 'A-1001', total: 129.5 });
const otherSecret = (secret: string) => `${secret.slice(0, -4)}${secret.endsWith('aaaa') ? 'bbbb' : 'aaaa'}`;
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

const standardWebhooks: Signer = (body, secret, t, caseId) => {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = `msg_${caseId}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(t),
    'webhook-signature': `v1,${hmac(key, `${id}.${t}.${body}`).toString('base64')}`,
  };
};
const stripe: Signer = (body, secret, t) => ({
  'stripe-signature': `t=${t},v1=${hmac(secret, `${t}.${body}`).toString('hex')}`,
});
const github: Signer = (body, secret, _t, caseId) => ({
  'x-github-event': 'push',
  'x-github-delivery': `gh-${caseId}`,
  'x-hub-signature-256': `sha256=${hmac(secret, body).toString('hex')}`,
});
const shopify: Signer = (body, secret, _t, caseId) => ({
  'x-shopify-topic': 'orders/create',
  'x-shopify-webhook-id': `shop-${caseId}`,
  'x-shopify-hmac-sha256': hmac(secret, body).toString('base64'),
});
const slack: Signer = (body, secret, t) => ({
  'x-slack-request-timestamp': String(t),
  'x-slack-signature': `v0=${hmac(secret, `v0:${t}:${body}`).toString('hex')}`,
});
const headerToken: Signer = (_body, secret, _t, caseId) => ({
  'x-webhook-token': secret,
  'idempotency-key': `tok-${caseId}`,
});
const basicAuth: Signer = (_body, secret, _t, caseId) => ({
  authorization: basic(`shop:${secret}`),
  'idempotency-key': `basic-${caseId}`,
});

/** The signature header's value rewritten by `f`, everything else as signed. */
const rewrite =
  (name: string, f: (value: string) => string): Variant['make'] =>
  (spec, secret, caseId) => {
    const body = spec.body(caseId);
    const headers = spec.sign(body, secret, now(), caseId);
    return { headers: { ...headers, [name]: f(headers[name]!) }, body };
  };
const hexToBase64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const base64ToHex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

const COMMON: Variant[] = [
  {
    n: 1,
    title: 'signed as the vendor documents it: accepted',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, secret, now(), caseId), body };
    },
    outcome: 'accepted',
  },
  { n: 2, title: 'no credentials at all: 401', make: () => ({ headers: {} }), outcome: 'REASON' },
  {
    n: 3,
    title: 'credentials made with another secret: 401',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, otherSecret(secret), now(), caseId), body };
    },
    outcome: 'REASON',
  },
  {
    n: 4,
    title: 'the credential header present but empty: 401',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      const headers = spec.sign(body, secret, now(), caseId);
      for (const name of Object.keys(headers))
        if (/signature|hmac|token|authorization/.test(name)) headers[name] = '';
      return { headers, body };
    },
    outcome: 'REASON',
  },
];

const SIGNED_BODY: Variant[] = [
  {
    n: 5,
    title: 'a body changed after signing: 401',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, secret, now(), caseId), body: body.replace('A-1001', 'A-1002') };
    },
    outcome: 'SIGNATURE',
  },
  {
    n: 6,
    title: 'the same JSON re-serialised with other whitespace: 401 (the raw bytes are signed)',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, secret, now(), caseId), body: ` ${body}` };
    },
    outcome: 'SIGNATURE',
  },
];

const TIMESTAMPED: Variant[] = [
  {
    n: 7,
    title: 'a timestamp ten minutes old (a replay outside the window): 401',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, secret, now() - 600, caseId), body };
    },
    outcome: 'TIMESTAMP',
  },
  {
    n: 8,
    title: 'a timestamp ten minutes ahead: 401',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, secret, now() + 600, caseId), body };
    },
    outcome: 'TIMESTAMP',
  },
  {
    n: 9,
    title: 'a timestamp in milliseconds, correctly signed: 401',
    make: (spec, secret, caseId) => {
      const body = spec.body(caseId);
      return { headers: spec.sign(body, secret, Date.now(), caseId), body };
    },
    outcome: 'SIGNATURE',
  },
];

const SPECS: Spec[] = [
  {
    code: 'STD',
    preset: 'STANDARD_WEBHOOKS',
    contentType: 'application/json',
    body: orderBody,
    sign: standardWebhooks,
    reason: 'SIGNATURE',
    timestamped: true,
    extras: [
      {
        n: 20,
        title: 'the signature in hex instead of base64: 401',
        make: rewrite('webhook-signature', (v) => `v1,${base64ToHex(v.slice(3))}`),
        outcome: 'SIGNATURE',
      },
      {
        n: 21,
        title: 'the signature without its v1, prefix: 401',
        make: rewrite('webhook-signature', (v) => v.slice(3)),
        outcome: 'SIGNATURE',
      },
      {
        n: 22,
        title: 'a v2, prefix: 401',
        make: rewrite('webhook-signature', (v) => `v2,${v.slice(3)}`),
        outcome: 'SIGNATURE',
      },
      {
        n: 23,
        title: 'a wrong signature followed by the right one: accepted (several are allowed)',
        make: rewrite('webhook-signature', (v) => `v1,${Buffer.alloc(32).toString('base64')} ${v}`),
        outcome: 'accepted',
      },
      {
        n: 24,
        title: 'the webhook-id changed after signing: 401',
        make: rewrite('webhook-id', (v) => `${v}-x`),
        outcome: 'SIGNATURE',
      },
      {
        n: 25,
        title: 'a non-numeric webhook-timestamp: 401',
        make: rewrite('webhook-timestamp', () => 'yesterday'),
        outcome: 'SIGNATURE',
      },
    ],
  },
  {
    code: 'STRIPE',
    preset: 'STRIPE',
    contentType: 'application/json; charset=utf-8',
    body: orderBody,
    sign: stripe,
    reason: 'SIGNATURE',
    timestamped: true,
    extras: [
      {
        n: 20,
        title: 'v1 in base64 instead of hex: 401',
        make: rewrite('stripe-signature', (v) =>
          v.replace(/v1=([0-9a-f]+)/, (_m, h: string) => `v1=${hexToBase64(h)}`),
        ),
        outcome: 'SIGNATURE',
      },
      {
        n: 21,
        title: 'v1 in upper-case hex: accepted (the same bytes)',
        make: rewrite('stripe-signature', (v) =>
          v.replace(/v1=([0-9a-f]+)/, (_m, h: string) => `v1=${h.toUpperCase()}`),
        ),
        outcome: 'accepted',
      },
      {
        n: 22,
        title: 'a wrong v1 beside the right one (a secret roll): accepted',
        make: rewrite('stripe-signature', (v) => `${v},v1=${'0'.repeat(64)}`),
        outcome: 'accepted',
      },
      {
        n: 23,
        title: 'spaces around the entries: accepted',
        make: rewrite('stripe-signature', (v) => v.split(',').join(' , ')),
        outcome: 'accepted',
      },
      {
        n: 24,
        title: 'no t= entry: 401',
        make: rewrite('stripe-signature', (v) => v.replace(/t=\d+,/, '')),
        outcome: 'SIGNATURE',
      },
      {
        n: 25,
        title: 'only a v0= entry: 401',
        make: rewrite('stripe-signature', (v) => v.replace('v1=', 'v0=')),
        outcome: 'SIGNATURE',
      },
    ],
  },
  {
    code: 'GH',
    preset: 'GITHUB',
    contentType: 'application/json',
    body: orderBody,
    sign: github,
    reason: 'SIGNATURE',
    timestamped: false,
    extras: [
      {
        n: 20,
        title: 'the signature in base64 instead of hex: 401',
        make: rewrite('x-hub-signature-256', (v) => `sha256=${hexToBase64(v.slice(7))}`),
        outcome: 'SIGNATURE',
      },
      {
        n: 21,
        title: 'upper-case hex: accepted (the same bytes)',
        make: rewrite('x-hub-signature-256', (v) => `sha256=${v.slice(7).toUpperCase()}`),
        outcome: 'accepted',
      },
      {
        n: 22,
        title: 'only the legacy SHA-1 header: 401',
        make: (spec, secret, caseId) => {
          const body = spec.body(caseId);
          const { 'x-hub-signature-256': _s, ...rest } = spec.sign(body, secret, now(), caseId);
          return {
            headers: {
              ...rest,
              'x-hub-signature': `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`,
            },
            body,
          };
        },
        outcome: 'SIGNATURE',
      },
      {
        n: 23,
        title: 'a sha1= prefix on the SHA-256 header: 401',
        make: rewrite('x-hub-signature-256', (v) => `sha1=${v.slice(7)}`),
        outcome: 'SIGNATURE',
      },
      {
        n: 24,
        title: 'a truncated signature: 401',
        make: rewrite('x-hub-signature-256', (v) => v.slice(0, -2)),
        outcome: 'SIGNATURE',
      },
      {
        n: 25,
        title: 'trailing whitespace after the signature: accepted (header values are trimmed)',
        make: rewrite('x-hub-signature-256', (v) => `${v}   `),
        outcome: 'accepted',
      },
    ],
  },
  {
    code: 'SHOP',
    preset: 'SHOPIFY',
    contentType: 'application/json',
    body: orderBody,
    sign: shopify,
    reason: 'SIGNATURE',
    timestamped: false,
    extras: [
      {
        n: 20,
        title: 'the HMAC in hex instead of base64: 401',
        make: rewrite('x-shopify-hmac-sha256', base64ToHex),
        outcome: 'SIGNATURE',
      },
      {
        n: 21,
        title: 'base64url instead of base64: 401',
        make: rewrite('x-shopify-hmac-sha256', (v) =>
          v.includes('+') || v.includes('/')
            ? v.replace(/\+/g, '-').replace(/\//g, '_')
            : `${v.slice(0, -2)}-_`,
        ),
        outcome: 'SIGNATURE',
      },
      {
        n: 22,
        title: 'base64 without its padding: accepted (the same bytes)',
        make: rewrite('x-shopify-hmac-sha256', (v) => v.replace(/=+$/, '')),
        outcome: 'accepted',
      },
      {
        n: 23,
        title: 'the HMAC of an empty body: 401',
        make: rewrite('x-shopify-hmac-sha256', () => hmac('x', '').toString('base64')),
        outcome: 'SIGNATURE',
      },
    ],
  },
  {
    code: 'SLACK',
    preset: 'SLACK',
    contentType: 'application/x-www-form-urlencoded',
    body: (caseId) => `token=legacy&team_id=T1&command=%2Forder&text=A-1001&trigger_id=${caseId}`,
    sign: slack,
    reason: 'SIGNATURE',
    timestamped: true,
    extras: [
      {
        n: 20,
        title: 'a v1= prefix: 401',
        make: rewrite('x-slack-signature', (v) => `v1=${v.slice(3)}`),
        outcome: 'SIGNATURE',
      },
      {
        n: 21,
        title: 'the signature in base64: 401',
        make: rewrite('x-slack-signature', (v) => `v0=${hexToBase64(v.slice(3))}`),
        outcome: 'SIGNATURE',
      },
      {
        n: 22,
        title: 'upper-case hex: accepted (the same bytes)',
        make: rewrite('x-slack-signature', (v) => `v0=${v.slice(3).toUpperCase()}`),
        outcome: 'accepted',
      },
      {
        n: 23,
        title: 'the timestamp header missing: 401',
        make: (spec, secret, caseId) => {
          const body = spec.body(caseId);
          const { 'x-slack-request-timestamp': _t, ...rest } = spec.sign(body, secret, now(), caseId);
          return { headers: rest, body };
        },
        outcome: 'SIGNATURE',
      },
      {
        n: 24,
        title: 'the timestamp changed after signing: 401',
        make: rewrite('x-slack-request-timestamp', (v) => String(Number(v) - 1)),
        outcome: 'SIGNATURE',
      },
    ],
  },
  {
    code: 'TOKEN',
    preset: 'HEADER_TOKEN',
    contentType: 'application/json',
    body: orderBody,
    sign: headerToken,
    reason: 'AUTH',
    timestamped: false,
    extras: [
      {
        n: 20,
        title: 'the token as "bearer" (lower case): accepted',
        make: (spec, secret, caseId) => ({
          headers: { authorization: `bearer ${secret}`, 'idempotency-key': `tok-${caseId}` },
          body: spec.body(caseId),
        }),
        outcome: 'accepted',
      },
      {
        n: 21,
        title: 'the token with surrounding spaces: accepted (trimmed)',
        make: rewrite('x-webhook-token', (v) => `  ${v}  `),
        outcome: 'accepted',
      },
      {
        n: 22,
        title: 'the token in the query string instead of a header: 401',
        make: () => ({ headers: {} }),
        outcome: 'AUTH',
      },
      {
        n: 23,
        title: 'a prefix of the token: 401',
        make: rewrite('x-webhook-token', (v) => v.slice(0, -1)),
        outcome: 'AUTH',
      },
      {
        n: 24,
        title: 'a wrong X-Webhook-Token beside a right Bearer: 401 (the named header wins)',
        make: (spec, secret, caseId) => ({
          headers: { 'x-webhook-token': 'wrong', authorization: `Bearer ${secret}` },
          body: spec.body(caseId),
        }),
        outcome: 'AUTH',
      },
      {
        n: 25,
        title: 'the token with characters appended: 401',
        make: rewrite('x-webhook-token', (v) => `${v}\\u0000`),
        outcome: 'AUTH',
      },
    ],
  },
  {
    code: 'BASIC',
    preset: 'BASIC',
    contentType: 'application/json',
    body: orderBody,
    sign: basicAuth,
    reason: 'AUTH',
    timestamped: false,
    extras: [
      {
        n: 20,
        title: 'the scheme in lower case ("basic"): accepted',
        make: rewrite('authorization', (v) => v.replace('Basic', 'basic')),
        outcome: 'accepted',
      },
      {
        n: 21,
        title: 'credentials without a colon: 401',
        make: rewrite('authorization', () => basic('shop')),
        outcome: 'AUTH',
      },
      {
        n: 22,
        title: 'credentials that are not base64: 401',
        make: rewrite('authorization', () => 'Basic !!not-base64!!'),
        outcome: 'AUTH',
      },
      {
        n: 23,
        title: 'the right password with another user: 401',
        make: (spec, secret, caseId) => ({
          headers: { authorization: basic(`admin:${secret}`) },
          body: spec.body(caseId),
        }),
        outcome: 'AUTH',
      },
      {
        n: 24,
        title: 'the password as a Bearer token: 401',
        make: (spec, secret, caseId) => ({
          headers: { authorization: `Bearer ${secret}` },
          body: spec.body(caseId),
        }),
        outcome: 'AUTH',
      },
      {
        n: 25,
        title: 'credentials in the URL userinfo style inside the header: 401',
        make: (spec, secret, caseId) => ({
          headers: { authorization: `Basic shop:${secret}` },
          body: spec.body(caseId),
        }),
        outcome: 'AUTH',
      },
    ],
  },
];

function sendSigned(
  ctx: HostileContext,
  spec: Spec,
  caseId: string,
  made: ReturnType<Variant['make']>,
  query = '',
) {
  return post(ctx, ctx.flows.auth[spec.preset], caseId, {
    query,
    headers: { 'content-type': spec.contentType, ...made.headers },
    body: made.body ?? spec.body(caseId),
  });
}

function variantCase(spec: Spec, v: Variant): HostileCase {
  const reason = v.outcome === 'REASON' ? spec.reason : v.outcome;
  const rejected = v.outcome !== 'accepted';
  return {
    id: `H-SIG-${spec.code}-${String(v.n).padStart(3, '0')}`,
    title: `${spec.preset}: ${v.title}`,
    send: (ctx, caseId) => {
      const made = v.make(spec, ctx.flows.auth[spec.preset].secret, caseId);
      // The token-in-the-query variant sends the right token where no scheme looks for it.
      const query = spec.code === 'TOKEN' && v.n === 22 ? `?token=${ctx.flows.auth[spec.preset].secret}` : '';
      return sendSigned(ctx, spec, caseId, made, query);
    },
    expect: rejected
      ? { status: 401, ...UNAUTHORIZED, stored: [['REJECTED', reason]] }
      : { status: 202, stored: [['ACCEPTED']] },
    check: (reply: Reply) => {
      if (spec.preset === 'BASIC' && rejected)
        expect(reply.headers?.['www-authenticate']).toBe('Basic realm="webhook"');
    },
  };
}

/** A correctly signed request sent twice: the retry is a duplicate of the first delivery, never a second run. */
function replayCase(spec: Spec): HostileCase {
  return {
    id: `H-SIG-${spec.code}-010`,
    title: `${spec.preset}: the same signed request replayed within the window is a duplicate (200)`,
    send: async (ctx, caseId) => {
      const made = COMMON[0]!.make(spec, ctx.flows.auth[spec.preset].secret, caseId);
      const first = await sendSigned(ctx, spec, caseId, made);
      const second = await sendSigned(ctx, spec, caseId, made);
      return { ...second, json: { ...second.json, first: first.json, firstStatus: first.status } };
    },
    expect: { status: 200, stored: [['ACCEPTED'], ['DUPLICATE']] },
    check: (reply) => {
      expect(reply.json.firstStatus).toBe(202);
      expect(reply.json).toMatchObject({ status: 'duplicate', deliveryId: reply.json.first.deliveryId });
    },
  };
}

export const signatureCases: HostileCase[] = SPECS.flatMap((spec) => [
  ...COMMON.map((v) => variantCase(spec, v)),
  ...(spec.reason === 'SIGNATURE' ? SIGNED_BODY : []).map((v) => variantCase(spec, v)),
  ...(spec.timestamped ? TIMESTAMPED : []).map((v) => variantCase(spec, v)),
  replayCase(spec),
  ...spec.extras.map((v) => variantCase(spec, v)),
]);
