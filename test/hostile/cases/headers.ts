/** Headers, request lines and methods: duplicates, long values, bytes HTTP forbids, spoofing, odd targets. */
import {
  CASE_HEADER,
  pathOf,
  post,
  raw,
  rawRequest,
  storedFor,
  type HostileCase,
  type HostileContext,
  type Reply,
} from '../harness';

const JSON_TYPE = { 'content-type': 'application/json' };
const ACCEPTED: HostileCase['expect'] = { status: 202, stored: [['ACCEPTED']] };
const BAD_REQUEST_BY_SERVER: HostileCase['expect'] = { status: 400, stored: [] };
const NOT_FOUND: HostileCase['expect'] = { status: 404, error: 'not_found', stored: [] };
const NOT_ALLOWED: HostileCase['expect'] = {
  status: 405,
  error: 'method_not_allowed',
  stored: [['REJECTED', 'METHOD_NOT_ALLOWED']],
};
const CLOSE = { untilClosed: true, timeoutMs: 5_000 };

const postOpen = (ctx: HostileContext, id: string, headers: Record<string, string>) =>
  post(ctx, ctx.flows.open, id, { headers: { ...JSON_TYPE, ...headers }, body: '{}' });

/** A raw request whose head is written as given (after the request line, Host and the case id). */
const rawHead = (ctx: HostileContext, id: string, lines: string, body = '{}') =>
  raw(
    ctx,
    [
      `POST ${pathOf(ctx.flows.open)} HTTP/1.1\r\nHost: x\r\n${CASE_HEADER}: ${id}\r\n${lines}Content-Length: ${body.length}\r\n\r\n${body}`,
    ],
    CLOSE,
  );

/** Sends the same request twice: the second reply is the case's, and must name the first delivery. */
async function twice(send: () => Promise<Reply>): Promise<Reply> {
  const first = await send();
  const second = await send();
  return { ...second, json: { ...second.json, first: first.json, firstStatus: first.status } };
}
const sameDelivery: HostileCase['check'] = (reply) => {
  expect(reply.json.firstStatus).toBe(202);
  expect(reply.json.deliveryId).toBe(reply.json.first.deliveryId);
  expect(reply.json.status).toBe('duplicate');
};
const DUPLICATE: HostileCase['expect'] = { status: 200, stored: [['ACCEPTED'], ['DUPLICATE']] };

export const headerCases: HostileCase[] = [
  {
    id: 'H-HDR-001',
    title: 'two Idempotency-Key headers are one key ("a, b"): the retry is a duplicate',
    send: (ctx, id) =>
      twice(() =>
        rawRequest(ctx, id, {
          path: pathOf(ctx.flows.open),
          headers: { ...JSON_TYPE, 'idempotency-key': [`${id}-a`, `${id}-b`], 'content-length': '2' },
          body: ['{}'],
        }),
      ),
    expect: DUPLICATE,
    check: sameDelivery,
  },
  {
    id: 'H-HDR-002',
    title: 'a 10 KiB Idempotency-Key is kept (hashed) and still deduplicates',
    send: (ctx, id) => twice(() => postOpen(ctx, id, { 'idempotency-key': `${id}-${'k'.repeat(10_240)}` })),
    expect: DUPLICATE,
    check: sameDelivery,
  },
  {
    id: 'H-HDR-003',
    title: 'webhook-id outranks Idempotency-Key: a new Idempotency-Key does not make a retry new',
    send: async (ctx, id) => {
      const first = await postOpen(ctx, id, { 'webhook-id': `${id}-w`, 'idempotency-key': `${id}-1` });
      const second = await postOpen(ctx, id, { 'webhook-id': `${id}-w`, 'idempotency-key': `${id}-2` });
      return { ...second, json: { ...second.json, first: first.json, firstStatus: first.status } };
    },
    expect: DUPLICATE,
    check: sameDelivery,
  },
  {
    id: 'H-HDR-004',
    title: 'a whitespace-only Idempotency-Key is no key: both requests are accepted',
    send: (ctx, id) => twice(() => postOpen(ctx, id, { 'idempotency-key': '   ' })),
    expect: { status: 202, stored: [['ACCEPTED'], ['ACCEPTED']] },
  },
  {
    id: 'H-HDR-005',
    title: 'an Idempotency-Key with latin1 bytes is a key like any other',
    send: (ctx, id) =>
      twice(() =>
        raw(ctx, [
          Buffer.concat([
            Buffer.from(
              `POST ${pathOf(ctx.flows.open)} HTTP/1.1\r\nHost: x\r\n${CASE_HEADER}: ${id}\r\nIdempotency-Key: ${id}-`,
            ),
            Buffer.from([0xe9, 0xff]),
            Buffer.from('\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'),
          ]),
        ]),
      ),
    expect: DUPLICATE,
    check: sameDelivery,
  },
  {
    id: 'H-HDR-006',
    title: 'a bare CR inside a header value: 400 from the HTTP server, nothing stored',
    send: (ctx, id) => rawHead(ctx, id, 'X-Evil: a\rInjected: 1\r\n'),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-007',
    title: 'a NUL inside a header value: 400, nothing stored',
    send: (ctx, id) => rawHead(ctx, id, 'Idempotency-Key: a\u0000b\r\n'),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-008',
    title: 'a header name with a space: 400, nothing stored',
    send: (ctx, id) => rawHead(ctx, id, 'X Evil: 1\r\n'),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-009',
    title: 'a header name with a separator character: 400, nothing stored',
    send: (ctx, id) => rawHead(ctx, id, 'X-Evil(: 1\r\n'),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-010',
    title: 'a line ended by a bare LF: 400, nothing stored',
    send: (ctx, id) => rawHead(ctx, id, 'X-Lf: 1\nX-Other: 2\r\n'),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-011',
    title: 'a header without a colon: 400, nothing stored',
    send: (ctx, id) => rawHead(ctx, id, 'X-No-Colon\r\n'),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-012',
    title: 'a latin1 header value is stored as latin1 text',
    send: (ctx, id) =>
      raw(ctx, [
        Buffer.concat([
          Buffer.from(
            `POST ${pathOf(ctx.flows.open)} HTTP/1.1\r\nHost: x\r\n${CASE_HEADER}: ${id}\r\nX-Shop: caf`,
          ),
          Buffer.from([0xe9]),
          Buffer.from('\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'),
        ]),
      ]),
    expect: ACCEPTED,
    check: async (_r, ctx, id) =>
      expect((await storedFor(ctx, id))[0]).toMatchObject({ headers: { 'x-shop': 'café' } }),
  },
  {
    id: 'H-HDR-013',
    title: 'an 8 KiB cookie is accepted and stored redacted',
    send: (ctx, id) => postOpen(ctx, id, { cookie: `session=${'c'.repeat(8192)}` }),
    expect: ACCEPTED,
    check: async (_r, ctx, id) =>
      expect((await storedFor(ctx, id))[0]).toMatchObject({ headers: { cookie: '[redacted]' } }),
  },
  {
    id: 'H-HDR-014',
    title: 'an Authorization header on a flow without auth is stored redacted',
    send: (ctx, id) => postOpen(ctx, id, { authorization: 'Bearer sk_live_should_not_be_kept' }),
    expect: ACCEPTED,
    check: async (_r, ctx, id) =>
      expect((await storedFor(ctx, id))[0]).toMatchObject({ headers: { authorization: '[redacted]' } }),
  },
  {
    id: 'H-HDR-015',
    title: 'X-Forwarded-For does not change the recorded source address',
    send: (ctx, id) => postOpen(ctx, id, { 'x-forwarded-for': '10.9.8.7', 'x-real-ip': '10.9.8.7' }),
    expect: ACCEPTED,
    check: async (_r, ctx, id) =>
      expect((await storedFor(ctx, id))[0]).toMatchObject({ source_ip: '127.0.0.1' }),
  },
  {
    id: 'H-HDR-016',
    title: 'X-HTTP-Method-Override is ignored',
    send: (ctx, id) => postOpen(ctx, id, { 'x-http-method-override': 'DELETE' }),
    expect: ACCEPTED,
    check: async (_r, ctx, id) => expect((await storedFor(ctx, id))[0]).toMatchObject({ method: 'POST' }),
  },
  {
    id: 'H-HDR-017',
    title: 'a foreign Host header changes nothing',
    send: (ctx, id) =>
      raw(ctx, [
        `POST ${pathOf(ctx.flows.open)} HTTP/1.1\r\nHost: evil.example\r\n${CASE_HEADER}: ${id}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      ]),
    expect: ACCEPTED,
  },
  {
    id: 'H-HDR-018',
    title: 'an absolute-form request target naming another host reaches the same webhook',
    send: (ctx, id) =>
      raw(ctx, [
        `POST http://evil.example${pathOf(ctx.flows.open)} HTTP/1.1\r\nHost: evil.example\r\n${CASE_HEADER}: ${id}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      ]),
    expect: ACCEPTED,
  },
  {
    id: 'H-HDR-019',
    title: 'an asterisk request target: 404, nothing stored',
    send: (ctx, id) =>
      raw(ctx, [`POST * HTTP/1.1\r\nHost: x\r\n${CASE_HEADER}: ${id}\r\nContent-Length: 2\r\n\r\n{}`]),
    expect: { status: 404, stored: [] },
  },
  {
    id: 'H-HDR-020',
    title: 'a doubled slash before the path: 404, nothing stored',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: `/${pathOf(ctx.flows.open)}`,
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: { status: 404, stored: [] },
  },
  {
    id: 'H-HDR-021',
    title: 'a token with %00: the common 404',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: `${pathOf(ctx.flows.open)}%00`,
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: NOT_FOUND,
  },
  {
    id: 'H-HDR-022',
    title: 'a token with broken percent-encoding: 400, nothing stored',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: '/api/webhook/%E0%A4%A',
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-HDR-023',
    title: 'a 4000-character token: the common 404',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: `/api/webhook/${'t'.repeat(4000)}`,
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: NOT_FOUND,
  },
  {
    id: 'H-HDR-024',
    title: 'a token that is a path traversal: the common 404',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: '/api/webhook/..%2F..%2Fgraphql',
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: NOT_FOUND,
  },
  {
    id: 'H-HDR-025',
    title: 'a trailing slash after the token reaches the webhook',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: `${pathOf(ctx.flows.open)}/`,
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: ACCEPTED,
  },
  {
    id: 'H-HDR-026',
    title: 'a token in other letter case is another token: 404',
    send: (ctx, id) => {
      const path = pathOf(ctx.flows.open);
      const flipped = path
        .replace(/[a-z]/, (c) => c.toUpperCase())
        .replace(/[A-Z](?=[^/]*$)/, (c) => c.toLowerCase());
      return rawRequest(ctx, id, {
        path: flipped === path ? `${path}x` : flipped,
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      });
    },
    expect: NOT_FOUND,
  },
  ...(['PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const).map((method, i): HostileCase => ({
    id: `H-HDR-${String(27 + i).padStart(3, '0')}`,
    title: `${method} on a POST/PUT flow: 405 with Allow`,
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        method,
        path: pathOf(ctx.flows.open),
        headers: { ...JSON_TYPE, 'content-length': '2' },
        body: ['{}'],
      }),
    expect: NOT_ALLOWED,
    check: (reply) => expect(reply.headers?.allow).toBe('POST, PUT'),
  })),
  {
    id: 'H-HDR-031',
    title: 'HEAD on a POST/PUT flow: 405 without a body',
    send: (ctx, id) => rawRequest(ctx, id, { method: 'HEAD', path: pathOf(ctx.flows.open) }),
    expect: { status: 405, stored: [['REJECTED', 'METHOD_NOT_ALLOWED']] },
  },
  {
    id: 'H-HDR-032',
    title: 'PUT, which the flow allows, is accepted',
    send: (ctx, id) => post(ctx, ctx.flows.open, id, { method: 'PUT', headers: JSON_TYPE, body: '{}' }),
    expect: ACCEPTED,
  },
  {
    id: 'H-HDR-033',
    title: 'an unknown method: 400 from the HTTP server, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { method: 'FOO', path: pathOf(ctx.flows.open), headers: { 'content-length': '0' } },
        CLOSE,
      ),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-034',
    title: 'a method in lower case: 400, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { method: 'post', path: pathOf(ctx.flows.open), headers: { 'content-length': '0' } },
        CLOSE,
      ),
    expect: BAD_REQUEST_BY_SERVER,
  },
  {
    id: 'H-HDR-035',
    title: 'CONNECT to the webhook host: the connection is closed without an answer, nothing stored',
    send: (ctx, id) =>
      raw(
        ctx,
        [`CONNECT 127.0.0.1:5432 HTTP/1.1\r\nHost: 127.0.0.1:5432\r\n${CASE_HEADER}: ${id}\r\n\r\n`],
        CLOSE,
      ),
    expect: { status: 0, stored: [] },
  },
  {
    id: 'H-HDR-036',
    title: 'a WebSocket upgrade on a webhook URL: 404, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          method: 'GET',
          path: pathOf(ctx.flows.open),
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          },
        },
        CLOSE,
      ),
    expect: { status: 404, stored: [] },
  },
  {
    id: 'H-HDR-037',
    title: 'Connection: close from the client: accepted, then closed',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.open),
          headers: { ...JSON_TYPE, connection: 'close', 'content-length': '2' },
          body: ['{}'],
        },
        CLOSE,
      ),
    expect: ACCEPTED,
    check: (reply) => expect(reply.closed).toBe(true),
  },
  {
    id: 'H-HDR-038',
    title: '100 repeats of one custom header are joined into one value',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.open),
        headers: { ...JSON_TYPE, 'x-repeat': Array(100).fill('r'), 'content-length': '2' },
        body: ['{}'],
      }),
    expect: ACCEPTED,
    check: async (_r, ctx, id) =>
      expect((await storedFor(ctx, id))[0]).toMatchObject({
        headers: { 'x-repeat': Array(100).fill('r').join(', ') },
      }),
  },
  {
    id: 'H-HDR-039',
    title: 'a 5 KiB header name is accepted',
    send: (ctx, id) => postOpen(ctx, id, { [`x-${'n'.repeat(5 * 1024)}`]: '1' }),
    expect: ACCEPTED,
  },
  {
    id: 'H-HDR-040',
    title: 'an 8 KiB User-Agent is accepted',
    send: (ctx, id) => postOpen(ctx, id, { 'user-agent': 'u'.repeat(8 * 1024) }),
    expect: ACCEPTED,
  },
  {
    id: 'H-HDR-041',
    title: 'secret-looking custom headers (X-Api-Key, X-Auth-Token) are stored redacted',
    send: (ctx, id) => postOpen(ctx, id, { 'x-api-key': 'k-123', 'x-auth-token': 't-456' }),
    expect: ACCEPTED,
    check: async (_r, ctx, id) =>
      expect((await storedFor(ctx, id))[0]).toMatchObject({
        headers: { 'x-api-key': '[redacted]', 'x-auth-token': '[redacted]' },
      }),
  },
];
