/** Sizes and transport: lying lengths, chunked and endless bodies, compression bombs, huge heads, stalls. */
import { brotliCompressSync, constants, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { CASE_HEADER, pathOf, post, raw, rawRequest, storedFor, type HostileCase } from '../harness';
import { chunk, head } from '../raw-http';

const LIMIT = 1024; // the `small` flow's maxBodyBytes
const JSON_TYPE = { 'content-type': 'application/json' };
const TOO_LARGE = {
  status: 413,
  error: 'payload_too_large',
  message: 'the body is larger than this webhook accepts',
};
const TIMEOUT = { status: 408, error: 'request_timeout', message: 'the body did not arrive in time' };
const stored413: HostileCase['expect']['stored'] = [['REJECTED', 'PAYLOAD_TOO_LARGE']];

/** A JSON object of exactly `bytes` bytes. */
const jsonOf = (bytes: number) => `{"pad":"${'x'.repeat(bytes - 10)}"}`;
/** Half the body timeout (10 s): the answer did not wait for a body (generous: the machine may be busy). */
const AT_ONCE_MS = 5_000;

async function expectRecordedSize(
  ctx: Parameters<NonNullable<HostileCase['check']>>[1],
  id: string,
  size: number,
) {
  const [row] = await storedFor(ctx, id);
  expect(row?.size_bytes).toBe(size);
}

/** The answer came before the body could have been read, and the connection was closed after it. */
function answeredAtOnceAndClosed(reply: {
  elapsedMs?: number;
  closed?: boolean;
  headers?: Record<string, string>;
}) {
  expect(reply.elapsedMs).toBeLessThan(AT_ONCE_MS);
  expect(reply.headers?.connection).toBe('close');
  expect(reply.closed).toBe(true);
}

/** 20 MiB of zeros, compressed fast: the test process is the app's process too. */
const bomb =
  (compress: (b: Buffer) => Buffer, encoding: string): HostileCase['send'] =>
  (ctx, id) =>
    post(ctx, ctx.flows.open, id, {
      headers: { ...JSON_TYPE, 'content-encoding': encoding },
      body: compress(Buffer.from(`{"a":"${'0'.repeat(20 * 1024 * 1024)}"}`)),
    });

export const transportCases: HostileCase[] = [
  {
    id: 'H-SIZE-001',
    title: 'Content-Length one byte over the limit, no body sent: 413 at once, connection closed',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { path: pathOf(ctx.flows.small), headers: { ...JSON_TYPE, 'content-length': String(LIMIT + 1) } },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: async (reply, ctx, id) => {
      answeredAtOnceAndClosed(reply);
      await expectRecordedSize(ctx, id, LIMIT + 1);
    },
  },
  {
    id: 'H-SIZE-002',
    title: 'Content-Length of 10 GiB: 413 at once, the announced size recorded (capped to the column)',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { path: pathOf(ctx.flows.small), headers: { ...JSON_TYPE, 'content-length': String(10 * 2 ** 30) } },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: async (reply, ctx, id) => {
      answeredAtOnceAndClosed(reply);
      await expectRecordedSize(ctx, id, 2 ** 31 - 1);
    },
  },
  {
    id: 'H-SIZE-003',
    title: 'Content-Length 2^53+1 on the default 1 MiB flow: 413 at once',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { path: pathOf(ctx.flows.open), headers: { ...JSON_TYPE, 'content-length': '9007199254740993' } },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: (reply) => answeredAtOnceAndClosed(reply),
  },
  {
    id: 'H-SIZE-004',
    title: 'Content-Length beyond 64 bits: refused by the HTTP parser (400), nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.open),
          headers: { ...JSON_TYPE, 'content-length': '99999999999999999999999' },
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-005',
    title: 'a body of exactly the limit is accepted',
    send: (ctx, id) => post(ctx, ctx.flows.small, id, { headers: JSON_TYPE, body: jsonOf(LIMIT) }),
    expect: { status: 202, stored: [['ACCEPTED']] },
    check: (_r, ctx, id) => expectRecordedSize(ctx, id, LIMIT),
  },
  {
    id: 'H-SIZE-006',
    title: 'a body one byte under the limit is accepted',
    send: (ctx, id) => post(ctx, ctx.flows.small, id, { headers: JSON_TYPE, body: jsonOf(LIMIT - 1) }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-007',
    title: 'a body one byte over the limit (fetch, honest Content-Length): 413 with its size',
    send: (ctx, id) => post(ctx, ctx.flows.small, id, { headers: JSON_TYPE, body: jsonOf(LIMIT + 1) }),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: (_r, ctx, id) => expectRecordedSize(ctx, id, LIMIT + 1),
  },
  {
    id: 'H-SIZE-008',
    title: 'an endless chunked body is cut off with 413 as soon as it passes the limit',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
          body: [chunk('{"pad":"'), { repeat: chunk('x'.repeat(256)), forMs: 8_000 }],
        },
        { untilClosed: true, timeoutMs: 10_000 },
      ),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: async (reply, ctx, id) => {
      answeredAtOnceAndClosed(reply);
      const [row] = await storedFor(ctx, id);
      expect(row!.size_bytes).toBeGreaterThan(LIMIT);
      expect(row!.size_bytes).toBeLessThan(LIMIT + 64 * 1024);
    },
  },
  {
    id: 'H-SIZE-009',
    title: 'an endless chunked body to the default 1 MiB flow is cut off too',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.open),
          headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
          body: [{ repeat: chunk('x'.repeat(64 * 1024)), forMs: 8_000 }],
        },
        { untilClosed: true, timeoutMs: 10_000 },
      ),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: (reply) => {
      expect(reply.elapsedMs).toBeLessThan(5_000);
      expect(reply.closed).toBe(true);
    },
  },
  {
    id: 'H-SIZE-010',
    title: 'a chunked body under the limit, in three chunks, is accepted',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
        body: [chunk('{"order'), chunk('_id":"A-'), chunk('1"}'), chunk('')],
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
    check: async (_r, ctx, id) => expect((await storedFor(ctx, id))[0]!.body).toEqual({ order_id: 'A-1' }),
  },
  {
    id: 'H-SIZE-011',
    title: 'a chunked body of exactly the limit is accepted',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
        body: [chunk(jsonOf(LIMIT).slice(0, 500)), chunk(jsonOf(LIMIT).slice(500)), chunk('')],
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-012',
    title: 'chunk extensions are ignored',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
        body: ['2;name=value\r\n{}\r\n', chunk('')],
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-013',
    title: 'an invalid chunk size: the HTTP parser answers 400; the broken read is recorded',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
          body: ['zz\r\n{}\r\n0\r\n\r\n'],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [['REJECTED', 'MALFORMED_BODY']] },
  },
  {
    id: 'H-SIZE-014',
    title: 'Content-Length together with Transfer-Encoding (request smuggling): 400, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': '2', 'transfer-encoding': 'chunked' },
          body: [chunk('{}'), chunk('')],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-015',
    title: 'two different Content-Length headers: 400, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': ['2', '3'] },
          body: ['{} '],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-016',
    title: 'a Content-Length that is not a number: 400, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { path: pathOf(ctx.flows.small), headers: { ...JSON_TYPE, 'content-length': '2abc' }, body: ['{}'] },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-017',
    title: 'a negative Content-Length: 400, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        { path: pathOf(ctx.flows.small), headers: { ...JSON_TYPE, 'content-length': '-1' }, body: ['{}'] },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-018',
    title:
      'a Content-Length shorter than the body: the bytes after it are a bad request, the connection ends in 400',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': '2' },
          body: ['{}{"smuggled":true}'],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400 },
    check: async (reply, ctx, id) => {
      expect(reply.raw!.responses.map((r) => r.status)).toEqual([400]);
      // The first request was complete: whether it is stored depends on how far it got before the connection died.
      const rows = await storedFor(ctx, id);
      expect(rows.length).toBeLessThanOrEqual(1);
      expect(rows.every((r) => r.status === 'ACCEPTED' || r.reject_reason === 'MALFORMED_BODY')).toBe(true);
    },
  },
  {
    id: 'H-SIZE-019',
    title: 'Content-Length: 0 with a JSON content type is an empty payload, accepted',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'content-length': '0' },
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-020',
    title: 'a POST with neither Content-Length nor Transfer-Encoding has an empty body, accepted',
    send: (ctx, id) => rawRequest(ctx, id, { path: pathOf(ctx.flows.small), headers: JSON_TYPE }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-021',
    title: 'Expect: 100-continue with a Content-Length over the limit ends in 413',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': '5000', expect: '100-continue' },
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: (reply) => answeredAtOnceAndClosed(reply),
  },
  {
    id: 'H-SIZE-022',
    title: 'Expect: 100-continue with a small body: 100, then 202',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'content-length': '2', expect: '100-continue' },
        body: [{ pauseMs: 100 }, '{}'],
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
    check: (reply) => expect(reply.raw!.responses.map((r) => r.status)).toEqual([100, 202]),
  },
  {
    id: 'H-SIZE-023',
    title: 'an unknown Expect: 417 from the HTTP server, nothing stored',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'content-length': '2', expect: 'the-unexpected' },
        body: ['{}'],
      }),
    expect: { status: 417, stored: [] },
  },
  {
    id: 'H-SIZE-024',
    title: 'a gzip bomb (20 MiB of zeros in ~90 KiB) is refused as soon as the inflated body passes 1 MiB',
    send: bomb((b) => gzipSync(b, { level: 1 }), 'gzip'),
    expect: { ...TOO_LARGE, stored: stored413 },
    check: (reply) => expect(reply.elapsedMs).toBeLessThan(AT_ONCE_MS),
  },
  {
    id: 'H-SIZE-025',
    title: 'a deflate bomb is refused the same way',
    send: bomb((b) => deflateSync(b, { level: 1 }), 'deflate'),
    expect: { ...TOO_LARGE, stored: stored413 },
  },
  {
    id: 'H-SIZE-026',
    title: 'a brotli bomb is refused the same way',
    send: bomb((b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }), 'br'),
    expect: { ...TOO_LARGE, stored: stored413 },
  },
  {
    id: 'H-SIZE-027',
    title: 'a zstd bomb is refused the same way',
    send: bomb((b) => zstdCompressSync(b, { params: { [constants.ZSTD_c_compressionLevel]: 1 } }), 'zstd'),
    expect: { ...TOO_LARGE, stored: stored413 },
  },
  {
    id: 'H-SIZE-028',
    title: 'a compressed body smaller than the limit on the wire but larger inflated: 413',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        body: gzipSync(jsonOf(LIMIT * 4)),
      }),
    expect: { ...TOO_LARGE, stored: stored413 },
  },
  {
    id: 'H-SIZE-029',
    title: 'a gzip-encoded JSON body is inflated and accepted',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        body: gzipSync('{"order_id":"A-9"}'),
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
    check: async (_r, ctx, id) => expect((await storedFor(ctx, id))[0]!.body).toEqual({ order_id: 'A-9' }),
  },
  {
    id: 'H-SIZE-030',
    title: 'Content-Encoding in capitals (GZIP) is accepted',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'GZIP' },
        body: gzipSync('{}'),
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-031',
    title: 'an unknown Content-Encoding (compress): 415',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'compress' },
        body: '{}',
      }),
    expect: {
      status: 415,
      error: 'unsupported_media_type',
      message: 'the content encoding is not supported',
      stored: [['REJECTED', 'UNSUPPORTED_MEDIA_TYPE']],
    },
  },
  {
    id: 'H-SIZE-032',
    title: 'stacked encodings (gzip, gzip): 415',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip, gzip' },
        body: gzipSync(gzipSync('{}')),
      }),
    expect: {
      status: 415,
      error: 'unsupported_media_type',
      stored: [['REJECTED', 'UNSUPPORTED_MEDIA_TYPE']],
    },
  },
  {
    id: 'H-SIZE-033',
    title: 'Content-Encoding: gzip on a body that is not gzip: 400',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        body: '{"plain":true}',
      }),
    expect: {
      status: 400,
      error: 'bad_request',
      message: 'the body could not be decompressed',
      stored: [['REJECTED', 'MALFORMED_BODY']],
    },
  },
  {
    id: 'H-SIZE-034',
    title: 'a truncated gzip stream: 400',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        body: gzipSync('{"order_id":"A-1","note":"truncated"}').subarray(0, 20),
      }),
    expect: { status: 400, error: 'bad_request', stored: [['REJECTED', 'MALFORMED_BODY']] },
  },
  {
    id: 'H-SIZE-035',
    title: 'Content-Encoding: identity is the plain body',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'content-encoding': 'identity' },
        body: '{}',
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-036',
    title: 'an empty body declared as gzip: 400',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.small),
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip', 'content-length': '0' },
      }),
    expect: { status: 400, error: 'bad_request', stored: [['REJECTED', 'MALFORMED_BODY']] },
  },
  {
    id: 'H-SIZE-037',
    title: 'one 20 KiB header: 431 from the HTTP server, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'x-big': 'a'.repeat(20 * 1024), 'content-length': '2' },
          body: ['{}'],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 431, stored: [] },
  },
  {
    id: 'H-SIZE-038',
    title: '1000 small headers (over 16 KiB in all): 431, nothing stored',
    send: (ctx, id) => {
      const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, 'v'.repeat(12)]));
      return rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, ...many, 'content-length': '2' },
          body: ['{}'],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      );
    },
    expect: { status: 431, stored: [] },
  },
  {
    id: 'H-SIZE-039',
    title: '300 small headers (under 16 KiB): accepted',
    send: (ctx, id) => {
      const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h${i}`, 'v'.repeat(12)]));
      return post(ctx, ctx.flows.small, id, { headers: { ...JSON_TYPE, ...many }, body: '{}' });
    },
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-040',
    title: 'a 20 KiB query string: 431, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small, `?q=${'a'.repeat(20 * 1024)}`),
          headers: { ...JSON_TYPE, 'content-length': '2' },
          body: ['{}'],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 431, stored: [] },
  },
  {
    id: 'H-SIZE-041',
    title: 'a query string with 1001 parameters: 400',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        query: `?${Array.from({ length: 1001 }, (_, i) => `p${i}=1`).join('&')}`,
        headers: JSON_TYPE,
        body: '{}',
      }),
    expect: { status: 400, error: 'bad_request', stored: [['REJECTED', 'MALFORMED_BODY']] },
  },
  {
    id: 'H-SIZE-042',
    title: 'a 15 KiB header value (under the 16 KiB head limit) is accepted and stored',
    send: (ctx, id) =>
      post(ctx, ctx.flows.small, id, {
        headers: { ...JSON_TYPE, 'x-long': 'b'.repeat(15 * 1024) },
        body: '{}',
      }),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-043',
    title: 'a method the flow refuses, with a large body not yet sent: 405 at once, connection closed',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          method: 'PUT',
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': String(50 * 2 ** 20) },
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 405, error: 'method_not_allowed', stored: [['REJECTED', 'METHOD_NOT_ALLOWED']] },
    check: (reply) => answeredAtOnceAndClosed(reply),
  },
  {
    id: 'H-SIZE-044',
    title: 'an unknown token with a 1 GiB Content-Length: 404 at once, connection closed, nothing stored',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: `/api/webhook/${'Z'.repeat(43)}`,
          headers: { ...JSON_TYPE, 'content-length': String(2 ** 30) },
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 404, error: 'not_found', stored: [] },
    check: (reply) => answeredAtOnceAndClosed(reply),
  },
  {
    id: 'H-SIZE-045',
    title: 'two pipelined requests in one write are both accepted',
    send: async (ctx, id) => {
      const one = head('POST', pathOf(ctx.flows.small), {
        [CASE_HEADER]: id,
        ...JSON_TYPE,
        'content-length': '2',
      });
      const reply = await raw(ctx, [`${one}{}${one}{}`], { answers: 2 });
      return { ...reply, status: reply.raw!.responses[0]!.status };
    },
    expect: { status: 202, stored: [['ACCEPTED'], ['ACCEPTED']] },
    check: (reply) => expect(reply.raw!.responses.map((r) => r.status)).toEqual([202, 202]),
  },
  {
    id: 'H-SIZE-046',
    title: 'HTTP/1.0 without a Host header is accepted',
    send: (ctx, id) =>
      raw(
        ctx,
        [
          `POST ${pathOf(ctx.flows.small)} HTTP/1.0\r\n${CASE_HEADER}: ${id}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
        ],
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 202, stored: [['ACCEPTED']] },
  },
  {
    id: 'H-SIZE-047',
    title: 'HTTP/1.1 without a Host header: 400 from the HTTP server, nothing stored',
    send: (ctx, id) =>
      raw(
        ctx,
        [
          `POST ${pathOf(ctx.flows.small)} HTTP/1.1\r\n${CASE_HEADER}: ${id}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
        ],
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-048',
    title: 'Transfer-Encoding: identity (not chunked) on a request: 400, the broken read recorded',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'transfer-encoding': 'identity' },
          body: ['{}'],
        },
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [['REJECTED', 'MALFORMED_BODY']] },
  },
  {
    id: 'H-SIZE-049',
    title: 'an obsolete folded header line: 400, nothing stored',
    send: (ctx, id) =>
      raw(
        ctx,
        [
          `POST ${pathOf(ctx.flows.small)} HTTP/1.1\r\nHost: x\r\n${CASE_HEADER}: ${id}\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\n{}`,
        ],
        { untilClosed: true, timeoutMs: 5_000 },
      ),
    expect: { status: 400, stored: [] },
  },
  {
    id: 'H-SIZE-050',
    title: 'the client disconnects in the middle of the body: nothing to answer, the broken read is recorded',
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': '100' },
          body: ['{"order_id":', { pauseMs: 200 }],
        },
        { timeoutMs: 300 },
      ),
    expect: { status: 0, stored: [['REJECTED', 'MALFORMED_BODY']] },
  },

  // Stalls: each waits for a timeout, so they start with the suite and overlap the table.
  {
    id: 'H-SLOW-001',
    title: 'a body that stops halfway: 408 after the body timeout, recorded, connection closed',
    slow: true,
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': '100' },
          body: ['{"order_id":"A-'],
        },
        { untilClosed: true, timeoutMs: 20_000 },
      ),
    expect: { ...TIMEOUT, stored: [['REJECTED', 'REQUEST_TIMEOUT']] },
    check: async (reply, ctx, id) => {
      expect(reply.elapsedMs).toBeGreaterThan(9_000);
      expect(reply.closed).toBe(true);
      expect(reply.headers?.connection).toBe('close');
      await expectRecordedSize(ctx, id, 15);
    },
  },
  {
    id: 'H-SLOW-002',
    title:
      'a body trickled one byte a second (slowloris): 408 at the body timeout although bytes keep coming',
    slow: true,
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'content-length': '60' },
          body: Array.from({ length: 60 }, () => [' ', { pauseMs: 1_000 }]).flat(),
        },
        { untilClosed: true, timeoutMs: 20_000 },
      ),
    expect: { ...TIMEOUT, stored: [['REJECTED', 'REQUEST_TIMEOUT']] },
    check: (reply) => expect(reply.elapsedMs).toBeLessThan(15_000),
  },
  {
    id: 'H-SLOW-003',
    title: 'a chunked body that stalls after one chunk: 408, recorded',
    slow: true,
    send: (ctx, id) =>
      rawRequest(
        ctx,
        id,
        {
          path: pathOf(ctx.flows.small),
          headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
          body: [chunk('{"a":')],
        },
        { untilClosed: true, timeoutMs: 20_000 },
      ),
    expect: { ...TIMEOUT, stored: [['REJECTED', 'REQUEST_TIMEOUT']] },
  },
  {
    id: 'H-SLOW-004',
    title: 'headers sent a line every two seconds, never finished: 408 from the server, nothing stored',
    slow: true,
    send: (ctx, id) =>
      raw(
        ctx,
        [
          `POST ${pathOf(ctx.flows.small)} HTTP/1.1\r\nHost: x\r\n${CASE_HEADER}: ${id}\r\n`,
          ...Array.from({ length: 30 }, (_, i) => [`X-Slow-${i}: 1\r\n`, { pauseMs: 2_000 }]).flat(),
        ],
        { untilClosed: true, timeoutMs: 25_000 },
      ),
    expect: { status: 408, stored: [] },
    check: (reply) => {
      expect(reply.elapsedMs).toBeLessThan(15_000);
      expect(reply.closed).toBe(true);
    },
  },
  {
    id: 'H-SLOW-005',
    title: 'a connection that never sends a byte is answered 408 and closed after the headers timeout',
    slow: true,
    send: (ctx) => raw(ctx, [], { untilClosed: true, timeoutMs: 25_000 }),
    expect: { status: 408 },
    check: (reply) => {
      expect(reply.elapsedMs).toBeLessThan(15_000);
      expect(reply.closed).toBe(true);
    },
  },
  {
    id: 'H-SLOW-006',
    title: 'a GraphQL body that stops halfway: 408 from the server at the request timeout',
    slow: true,
    send: (ctx) =>
      raw(
        ctx,
        [
          head('POST', '/graphql', {
            'content-type': 'application/json',
            'content-length': '100',
            authorization: `Bearer ${ctx.app.adminKey}`,
          }),
          '{"query":',
        ],
        { untilClosed: true, timeoutMs: 40_000 },
      ),
    expect: { status: 408 },
    check: (reply) => expect(reply.closed).toBe(true),
  },
  {
    id: 'H-SLOW-007',
    title: 'a second request on a kept-alive connection that stops halfway: 408 too',
    slow: true,
    send: (ctx, id) => {
      const first = head('POST', pathOf(ctx.flows.small), {
        [CASE_HEADER]: id,
        ...JSON_TYPE,
        'content-length': '2',
      });
      const second = head('POST', pathOf(ctx.flows.small), {
        [CASE_HEADER]: id,
        ...JSON_TYPE,
        'content-length': '50',
      });
      return raw(ctx, [`${first}{}`, { pauseMs: 300 }, `${second}{"a"`], {
        answers: 2,
        untilClosed: true,
        timeoutMs: 20_000,
      });
    },
    expect: { ...TIMEOUT, stored: [['ACCEPTED'], ['REJECTED', 'REQUEST_TIMEOUT']] },
    check: (reply) => expect(reply.raw!.responses.map((r) => r.status)).toEqual([202, 408]),
  },
];
