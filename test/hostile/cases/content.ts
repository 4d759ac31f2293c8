/** Content-type confusion, JSON shapes and text encodings. */
import {
  pathOf,
  post,
  postJson,
  rawRequest,
  storedFor,
  type HostileCase,
  type HostileContext,
} from '../harness';

const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const ACCEPTED: HostileCase['expect'] = { status: 202, stored: [['ACCEPTED']] };
const MALFORMED = (message?: string): HostileCase['expect'] => ({
  status: 400,
  error: 'bad_request',
  ...(message ? { message } : {}),
  stored: [['REJECTED', 'MALFORMED_BODY']],
});
const UNSUPPORTED_TYPE: HostileCase['expect'] = {
  status: 415,
  error: 'unsupported_media_type',
  stored: [['REJECTED', 'UNSUPPORTED_MEDIA_TYPE']],
};
const INVALID_JSON = MALFORMED('the body is not valid JSON');
const NOT_MATCHING: HostileCase['expect'] = {
  status: 422,
  error: 'validation_failed',
  stored: [['REJECTED', 'VALIDATION']],
};
const UNSUPPORTED_TEXT: HostileCase['expect'] = {
  status: 422,
  error: 'unsupported_text',
  message: 'the payload contains U+0000 (NUL) or an unpaired UTF-16 surrogate, which cannot be stored',
  stored: [['REJECTED', 'UNSUPPORTED_TEXT']],
};
const SURROGATE = 'the value contains an unpaired UTF-16 surrogate';
const NUL = 'the value contains U+0000 (NUL)';

/** The one issue of an UNSUPPORTED_TEXT answer, recorded the same way; nothing of the payload is kept. */
const unsupportedAt =
  (path: string, message: string): HostileCase['check'] =>
  async (reply, ctx, id) => {
    expect(reply.json.issues).toEqual([{ path, message }]);
    const [row] = await storedFor(ctx, id);
    expect(row).toMatchObject({ body: null, validation_errors: [{ path, message }] });
  };

const storedBody =
  (expected: unknown): HostileCase['check'] =>
  async (_r, ctx, id) =>
    expect((await storedFor(ctx, id))[0]!.body).toEqual(expected);

/** Object.prototype was not touched by a `__proto__` or `constructor` key anywhere in the process. */
const notPolluted: HostileCase['check'] = () => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
};

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

const multipart = (boundary: string, parts: string[]) =>
  `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
const field = (name: string, value: string) =>
  `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`;

const sendTyped = (ctx: HostileContext, id: string, contentType: string, body: string | Buffer) =>
  post(ctx, ctx.flows.typed, id, { headers: { 'content-type': contentType }, body });
const sendOpen = (ctx: HostileContext, id: string, contentType: string, body: string | Buffer) =>
  post(ctx, ctx.flows.open, id, { headers: { 'content-type': contentType }, body });

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

export const contentTypeCases: HostileCase[] = [
  {
    id: 'H-CT-001',
    title: 'JSON sent as text/plain is kept as text',
    send: (ctx, id) => sendOpen(ctx, id, 'text/plain', '{"order_id":"A-1"}'),
    expect: ACCEPTED,
    check: storedBody('{"order_id":"A-1"}'),
  },
  {
    id: 'H-CT-002',
    title: 'JSON sent as text/plain to a flow with variables: 422 (text is not an object)',
    send: (ctx, id) => sendTyped(ctx, id, 'text/plain', '{"order_id":"A-1","total":1}'),
    expect: NOT_MATCHING,
  },
  {
    id: 'H-CT-003',
    title: 'a form body sent as application/json: 400',
    send: (ctx, id) => sendOpen(ctx, id, 'application/json', 'order_id=A-1&total=1'),
    expect: INVALID_JSON,
  },
  {
    id: 'H-CT-004',
    title: 'JSON sent as a form: one odd field, accepted by a flow without variables',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], '{"order_id":"A-1"}'),
    expect: ACCEPTED,
    check: storedBody({ '{"order_id":"A-1"}': '' }),
  },
  {
    id: 'H-CT-005',
    title: 'JSON sent as a form to a flow with variables: 422',
    send: (ctx, id) => sendTyped(ctx, id, FORM_TYPE['content-type'], '{"order_id":"A-1","total":1}'),
    expect: NOT_MATCHING,
  },
  {
    id: 'H-CT-006',
    title: 'a form with the declared fields is coerced and accepted',
    send: (ctx, id) => sendTyped(ctx, id, FORM_TYPE['content-type'], 'order_id=A-1&total=12.5'),
    expect: ACCEPTED,
    check: storedBody({ order_id: 'A-1', total: 12.5 }),
  },
  {
    id: 'H-CT-007',
    title: 'multipart/form-data without a boundary: 400',
    send: (ctx, id) => sendOpen(ctx, id, 'multipart/form-data', multipart('b', [field('a', '1')])),
    expect: MALFORMED(),
  },
  {
    id: 'H-CT-008',
    title: 'multipart/form-data whose body is not multipart: 400',
    send: (ctx, id) => sendOpen(ctx, id, 'multipart/form-data; boundary=xyz', '{"order_id":"A-1"}'),
    expect: MALFORMED(),
  },
  {
    id: 'H-CT-009',
    title: 'multipart/form-data with an empty boundary ("--" delimiters) is still parsed',
    send: (ctx, id) =>
      sendOpen(ctx, id, 'multipart/form-data; boundary=""', multipart('', [field('a', '1')])),
    expect: ACCEPTED,
    check: storedBody({ a: '1' }),
  },
  {
    id: 'H-CT-010',
    title: 'multipart fields are accepted',
    send: (ctx, id) =>
      sendTyped(
        ctx,
        id,
        'multipart/form-data; boundary=zz',
        multipart('zz', [field('order_id', 'A-1'), field('total', '3')]),
      ),
    expect: ACCEPTED,
    check: storedBody({ order_id: 'A-1', total: 3 }),
  },
  {
    id: 'H-CT-011',
    title: 'a multipart file becomes {filename, contentType, base64}',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        'multipart/form-data; boundary=zz',
        multipart('zz', [
          'Content-Disposition: form-data; name="doc"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\u0000\u0001binary',
        ]),
      ),
    expect: ACCEPTED,
    check: storedBody({
      doc: {
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        base64: Buffer.from('\u0000\u0001binary').toString('base64'),
      },
    }),
  },
  {
    id: 'H-CT-012',
    title: 'multipart with 1100 parts: 400',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        'multipart/form-data; boundary=zz',
        multipart(
          'zz',
          Array.from({ length: 1100 }, (_, i) => field(`f${i}`, 'x')),
        ),
      ),
    expect: MALFORMED(),
  },
  {
    id: 'H-CT-013',
    title: 'multipart/mixed is not a form: 415',
    send: (ctx, id) => sendOpen(ctx, id, 'multipart/mixed; boundary=zz', multipart('zz', [field('a', '1')])),
    expect: UNSUPPORTED_TYPE,
  },
  {
    id: 'H-CT-014',
    title: 'JSON in UTF-16LE with its charset declared is decoded',
    send: (ctx, id) =>
      sendOpen(ctx, id, 'application/json; charset=utf-16le', Buffer.from('{"note":"crème"}', 'utf16le')),
    expect: ACCEPTED,
    check: storedBody({ note: 'crème' }),
  },
  {
    id: 'H-CT-015',
    title: 'JSON in UTF-16BE with its charset declared is decoded',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        'application/json; charset=utf-16be',
        Buffer.from('{"note":"x"}', 'utf16le').swap16(),
      ),
    expect: ACCEPTED,
    check: storedBody({ note: 'x' }),
  },
  {
    id: 'H-CT-016',
    title: 'an unknown charset: 415 naming it',
    send: (ctx, id) => sendOpen(ctx, id, 'application/json; charset=bogus-8', '{}'),
    expect: { ...UNSUPPORTED_TYPE, message: 'the charset "bogus-8" is not supported' },
  },
  {
    id: 'H-CT-017',
    title: 'UTF-7 (a charset of XSS fame) is not supported: 415',
    send: (ctx, id) => sendOpen(ctx, id, 'text/plain; charset=utf-7', '+ADw-script+AD4-'),
    expect: UNSUPPORTED_TYPE,
  },
  {
    id: 'H-CT-018',
    title: 'a quoted charset is understood',
    send: (ctx, id) => sendOpen(ctx, id, 'application/json; charset="utf-8"', '{"a":"é"}'),
    expect: ACCEPTED,
    check: storedBody({ a: 'é' }),
  },
  {
    id: 'H-CT-019',
    title: 'latin1 bytes with charset=iso-8859-1 are decoded',
    send: (ctx, id) =>
      sendOpen(ctx, id, 'application/json; charset=iso-8859-1', bytes('{"a":"', [0xe9], '"}')),
    expect: ACCEPTED,
    check: storedBody({ a: 'é' }),
  },
  {
    id: 'H-CT-020',
    title: 'UTF-16 bytes declared as UTF-8: 400 (they are not JSON)',
    send: (ctx, id) =>
      sendOpen(ctx, id, 'application/json; charset=utf-8', Buffer.from('{"a":1}', 'utf16le')),
    expect: INVALID_JSON,
  },
  {
    id: 'H-CT-021',
    title: 'a +json media type is JSON',
    send: (ctx, id) => sendOpen(ctx, id, 'application/vnd.api+json', '{"data":{"id":"1"}}'),
    expect: ACCEPTED,
    check: storedBody({ data: { id: '1' } }),
  },
  {
    id: 'H-CT-022',
    title: 'a media type in capitals is the same type',
    send: (ctx, id) => sendOpen(ctx, id, 'APPLICATION/JSON', '{"a":1}'),
    expect: ACCEPTED,
    check: storedBody({ a: 1 }),
  },
  {
    id: 'H-CT-023',
    title: 'empty parameters after the media type are ignored',
    send: (ctx, id) => sendOpen(ctx, id, 'application/json;;;', '{"a":1}'),
    expect: ACCEPTED,
  },
  {
    id: 'H-CT-024',
    title: 'parameters without a media type: 415',
    send: (ctx, id) => sendOpen(ctx, id, '; charset=utf-8', '{}'),
    expect: UNSUPPORTED_TYPE,
  },
  {
    id: 'H-CT-025',
    title: 'application/xml: 415',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        'application/xml',
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
      ),
    expect: UNSUPPORTED_TYPE,
  },
  {
    id: 'H-CT-026',
    title: 'image/png: 415',
    send: (ctx, id) => sendOpen(ctx, id, 'image/png', bytes([0x89, 0x50, 0x4e, 0x47])),
    expect: UNSUPPORTED_TYPE,
  },
  {
    id: 'H-CT-027',
    title: 'a list of media types in one header: 415',
    send: (ctx, id) => sendOpen(ctx, id, 'application/json, text/plain', '{}'),
    expect: UNSUPPORTED_TYPE,
  },
  {
    id: 'H-CT-028',
    title: 'text/html is kept as text, not interpreted',
    send: (ctx, id) => sendOpen(ctx, id, 'text/html', '<script>alert(1)</script>'),
    expect: ACCEPTED,
    check: storedBody('<script>alert(1)</script>'),
  },
  {
    id: 'H-CT-029',
    title: 'no content type: the bytes are kept as base64',
    send: (ctx, id) => post(ctx, ctx.flows.open, id, { body: bytes([0xde, 0xad, 0xbe, 0xef]) }),
    expect: ACCEPTED,
    check: storedBody({ contentType: 'application/octet-stream', base64: '3q2+7w==' }),
  },
  {
    id: 'H-CT-030',
    title: 'two Content-Type headers: the first one counts',
    send: (ctx, id) =>
      rawRequest(ctx, id, {
        path: pathOf(ctx.flows.open),
        headers: { 'content-type': ['application/json', 'text/plain'], 'content-length': '7' },
        body: ['{"a":1}'],
      }),
    expect: ACCEPTED,
    check: storedBody({ a: 1 }),
  },
  {
    id: 'H-CT-031',
    title: 'a content type with 2 KiB of parameters is still JSON',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        `application/json; ${Array.from({ length: 200 }, (_, i) => `p${i}=v`).join('; ')}`,
        '{"a":1}',
      ),
    expect: ACCEPTED,
  },
  {
    id: 'H-CT-032',
    title: 'a form field nested 9 levels deep: 400',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], `a${'[b]'.repeat(9)}=1`),
    expect: MALFORMED('a field name is nested deeper than 8 levels'),
  },
  {
    id: 'H-CT-033',
    title: 'a form with 1001 fields: 400',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        FORM_TYPE['content-type'],
        Array.from({ length: 1001 }, (_, i) => `f${i}=1`).join('&'),
      ),
    expect: MALFORMED('the request has more than 1000 fields'),
  },
  {
    id: 'H-CT-034',
    title: 'a form field __proto__[polluted] stays an own key and pollutes nothing',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], '__proto__[polluted]=yes&a=1'),
    expect: ACCEPTED,
    check: async (r, ctx, id) => {
      notPolluted(r, ctx, id);
      expect(JSON.stringify((await storedFor(ctx, id))[0]!.body)).toBe(
        '{"a":"1","__proto__":{"polluted":"yes"}}',
      );
    },
  },
  {
    id: 'H-CT-035',
    title: 'a form field constructor[prototype][polluted] pollutes nothing',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], 'constructor[prototype][polluted]=yes'),
    expect: ACCEPTED,
    check: notPolluted,
  },
  {
    id: 'H-CT-036',
    title: 'a huge form index becomes an object key, not a sparse array',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], 'items[99999999]=x'),
    expect: ACCEPTED,
    check: storedBody({ items: { '99999999': 'x' } }),
  },
  {
    id: 'H-CT-037',
    title: 'a multipart field named __proto__ pollutes nothing',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        'multipart/form-data; boundary=zz',
        multipart('zz', [field('__proto__[polluted]', 'yes')]),
      ),
    expect: ACCEPTED,
    check: notPolluted,
  },
  {
    id: 'H-CT-038',
    title: 'an empty octet-stream body is an empty payload',
    send: (ctx, id) => sendOpen(ctx, id, 'application/octet-stream', ''),
    expect: ACCEPTED,
    check: storedBody(null),
  },
];

export const jsonCases: HostileCase[] = [
  {
    id: 'H-JSON-001',
    title: 'JSON nested 32 levels is accepted',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, nested(32)),
    expect: ACCEPTED,
  },
  {
    id: 'H-JSON-002',
    title: 'JSON nested 33 levels: 400',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, nested(33)),
    expect: MALFORMED('the JSON body is nested deeper than 32 levels'),
  },
  {
    id: 'H-JSON-003',
    title: 'arrays nested 100 000 levels: 400, no stack overflow',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    expect: MALFORMED('the JSON body is nested deeper than 32 levels'),
  },
  {
    id: 'H-JSON-004',
    title: 'unbalanced nesting 100 000 levels deep: 400',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '['.repeat(100_000)),
    expect: INVALID_JSON,
  },
  {
    id: 'H-JSON-005',
    title: 'an array of 150 000 numbers is accepted',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, `{"items":[${Array(150_000).fill(7).join(',')}]}`),
    expect: ACCEPTED,
    check: async (_r, ctx, id) => {
      const [row] = await storedFor(ctx, id);
      expect((row!.body as { items: number[] }).items).toHaveLength(150_000);
    },
  },
  {
    id: 'H-JSON-006',
    title: 'an object with 50 000 keys is accepted',
    send: (ctx, id) =>
      postJson(
        ctx,
        ctx.flows.open,
        id,
        `{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":1`).join(',')}}`,
      ),
    expect: ACCEPTED,
  },
  {
    id: 'H-JSON-007',
    title: 'duplicate keys: the last one wins, as in JSON.parse',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"total":1,"total":999}'),
    expect: ACCEPTED,
    check: storedBody({ total: 999 }),
  },
  {
    id: 'H-JSON-008',
    title: 'a __proto__ key is kept as data and pollutes nothing',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"__proto__":{"polluted":"yes"},"a":1}'),
    expect: ACCEPTED,
    check: async (r, ctx, id) => {
      notPolluted(r, ctx, id);
      expect(JSON.stringify((await storedFor(ctx, id))[0]!.body)).toBe(
        '{"a":1,"__proto__":{"polluted":"yes"}}',
      );
    },
  },
  {
    id: 'H-JSON-009',
    title: 'constructor.prototype keys pollute nothing',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"constructor":{"prototype":{"polluted":"yes"}}}'),
    expect: ACCEPTED,
    check: notPolluted,
  },
  {
    id: 'H-JSON-010',
    title: 'a __proto__ object does not supply required variables',
    send: (ctx, id) => postJson(ctx, ctx.flows.typed, id, '{"__proto__":{"order_id":"A-1","total":1}}'),
    expect: NOT_MATCHING,
  },
  {
    id: 'H-JSON-011',
    title: 'keys named like Object.prototype methods are ordinary fields',
    send: (ctx, id) =>
      postJson(
        ctx,
        ctx.flows.typed,
        id,
        '{"order_id":"A-1","total":1,"hasOwnProperty":1,"toString":"x","valueOf":null}',
      ),
    expect: ACCEPTED,
  },
  {
    id: 'H-JSON-012',
    title: '1e400 is beyond a double: accepted, stored as null (documented)',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"n":1e400}'),
    expect: ACCEPTED,
    check: storedBody({ n: null }),
  },
  {
    id: 'H-JSON-013',
    title: '1e400 for a NUMBER variable: 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.typed, id, '{"order_id":"A-1","total":1e400}'),
    expect: NOT_MATCHING,
  },
  {
    id: 'H-JSON-014',
    title: '-0 is stored as 0',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"n":-0}'),
    expect: ACCEPTED,
    check: storedBody({ n: 0 }),
  },
  {
    id: 'H-JSON-015',
    title: '1e-400 underflows to 0',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"n":1e-400}'),
    expect: ACCEPTED,
    check: storedBody({ n: 0 }),
  },
  {
    id: 'H-JSON-016',
    title: 'an integer above 2^53 is kept as the nearest double',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"n":12345678901234567890}'),
    expect: ACCEPTED,
    check: storedBody({ n: 12345678901234567000 }),
  },
  {
    id: 'H-JSON-017',
    title: 'a number with 400 digits is accepted',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, `{"n":0.${'1'.repeat(400)}}`),
    expect: ACCEPTED,
  },
  ...(
    [
      ['H-JSON-018', 'NaN', '{"n":NaN}'],
      ['H-JSON-019', 'Infinity', '{"n":Infinity}'],
      ['H-JSON-020', 'a trailing comma', '{"a":1,}'],
      ['H-JSON-021', 'single quotes', "{'a':1}"],
      ['H-JSON-022', 'a comment', '{"a":1 /* c */}'],
      ['H-JSON-023', 'two concatenated objects', '{}{}'],
      ['H-JSON-024', 'a whitespace-only body', '   \n '],
      ['H-JSON-025', 'a hex number', '{"n":0x10}'],
      ['H-JSON-026', 'a leading zero', '{"n":012}'],
      ['H-JSON-027', 'an unquoted key', '{a:1}'],
      ['H-JSON-028', 'a raw tab inside a string', '{"a":"x\ty"}'],
      ['H-JSON-029', 'undefined', '{"a":undefined}'],
    ] as const
  ).map(([id, what, body]): HostileCase => ({
    id,
    title: `invalid JSON (${what}): 400`,
    send: (ctx, caseId) => postJson(ctx, ctx.flows.open, caseId, body),
    expect: INVALID_JSON,
  })),
  ...(
    [
      ['H-JSON-030', 'a number', '42', 42],
      ['H-JSON-031', 'a string', '"hello"', 'hello'],
      ['H-JSON-032', 'null', 'null', null],
      ['H-JSON-033', 'true', 'true', true],
      ['H-JSON-034', 'an empty array', '[]', []],
    ] as const
  ).map(([id, what, body, stored]): HostileCase => ({
    id,
    title: `a top-level ${what} is accepted by a flow without variables`,
    send: (ctx, caseId) => postJson(ctx, ctx.flows.open, caseId, body),
    expect: ACCEPTED,
    check: storedBody(stored),
  })),
  {
    id: 'H-JSON-035',
    title: 'a top-level array for a flow with variables: 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.typed, id, '[{"order_id":"A-1","total":1}]'),
    expect: NOT_MATCHING,
  },
  {
    id: 'H-JSON-036',
    title: 'a UTF-16 byte order mark (FF FE) before JSON declared as UTF-8: 400',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes([0xff, 0xfe], '{"a":1}') }),
    expect: INVALID_JSON,
  },
  {
    id: 'H-JSON-037',
    title: 'a real UTF-8 byte order mark before the JSON is ignored',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes([0xef, 0xbb, 0xbf], '{"a":1}') }),
    expect: ACCEPTED,
    check: storedBody({ a: 1 }),
  },
  {
    id: 'H-JSON-038',
    title: 'a 900 KiB string is accepted',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, { note: 'n'.repeat(900 * 1024) }),
    expect: ACCEPTED,
  },
  {
    id: 'H-JSON-039',
    title: 'an empty key and a 10 KiB key are ordinary keys',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, { '': 1, ['k'.repeat(10_240)]: 2 }),
    expect: ACCEPTED,
  },
  {
    id: 'H-JSON-040',
    title: 'a string for a NUMBER variable is not coerced in JSON: 422 naming the field',
    send: (ctx, id) => postJson(ctx, ctx.flows.typed, id, { order_id: 'A-1', total: '12' }),
    expect: NOT_MATCHING,
    check: (reply) => expect(reply.json.issues).toEqual([{ path: 'total', message: 'must be a number' }]),
  },
  {
    id: 'H-JSON-041',
    title: 'an empty JSON body for a flow with required variables: 422',
    send: (ctx, id) => post(ctx, ctx.flows.typed, id, { headers: JSON_TYPE }),
    expect: NOT_MATCHING,
  },
];

export const encodingCases: HostileCase[] = [
  {
    id: 'H-ENC-001',
    title: 'a lone high surrogate escape (\\ud800): 422 UNSUPPORTED_TEXT naming the field, not 503',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"a\\ud800b"}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('note', SURROGATE),
  },
  {
    id: 'H-ENC-002',
    title: 'a lone low surrogate escape (\\udc00): 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"\\udc00"}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('note', SURROGATE),
  },
  {
    id: 'H-ENC-003',
    title: 'a surrogate pair in the wrong order: 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"\\ude00\\ud83d"}'),
    expect: UNSUPPORTED_TEXT,
  },
  {
    id: 'H-ENC-004',
    title: 'a lone surrogate in a key: 422, the path escaped so it can be stored',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"k\\ud800":1}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('k\\ud800', 'the key contains an unpaired UTF-16 surrogate'),
  },
  {
    id: 'H-ENC-005',
    title: 'a lone surrogate deep in an array: 422 with its path',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"items":[{"sku":"ok"},{"sku":"\\udbff"}]}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('items[1].sku', SURROGATE),
  },
  {
    id: 'H-ENC-006',
    title: 'a top-level string that is a lone surrogate: 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '"\\ud800"'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('', SURROGATE),
  },
  {
    id: 'H-ENC-007',
    title: '\\u0000 in a value: 422 UNSUPPORTED_TEXT, not 503',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"a\\u0000b"}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('note', NUL),
  },
  {
    id: 'H-ENC-008',
    title: '\\u0000 in a key: 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"a\\u0000":{"b":1}}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('a\\u0000', 'the key contains U+0000 (NUL)'),
  },
  {
    id: 'H-ENC-009',
    title: '\\u0000 at the end of a 500 KiB string: 422',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, `{"note":"${'n'.repeat(500 * 1024)}\\u0000"}`),
    expect: UNSUPPORTED_TEXT,
  },
  {
    id: 'H-ENC-010',
    title: '100 000 escaped NULs: 422, quickly',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, `{"note":"${'\\u0000'.repeat(100_000)}"}`),
    expect: UNSUPPORTED_TEXT,
    check: (reply) => expect(reply.elapsedMs).toBeLessThan(2_000),
  },
  {
    id: 'H-ENC-011',
    title: '\\u0000 in a payload that also fails the variables: 422 UNSUPPORTED_TEXT (checked first)',
    send: (ctx, id) => postJson(ctx, ctx.flows.typed, id, '{"order_id":"\\u0000"}'),
    expect: UNSUPPORTED_TEXT,
  },
  {
    id: 'H-ENC-012',
    title: 'a valid surrogate pair (an emoji) is accepted',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"\\ud83d\\ude00"}'),
    expect: ACCEPTED,
    check: storedBody({ note: '😀' }),
  },
  {
    id: 'H-ENC-013',
    title: 'an escaped control character other than NUL (\\u0001) is stored',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"\\u0001\\u001f"}'),
    expect: ACCEPTED,
    check: storedBody({ note: '\u0001\u001f' }),
  },
  {
    id: 'H-ENC-014',
    title: 'the text "\\\\u0000" (an escaped backslash) is only text, accepted',
    send: (ctx, id) => postJson(ctx, ctx.flows.open, id, '{"note":"\\\\u0000"}'),
    expect: ACCEPTED,
    check: storedBody({ note: '\\u0000' }),
  },
  {
    id: 'H-ENC-015',
    title: 'a raw NUL byte inside a JSON string is invalid JSON: 400',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes('{"a":"', [0], '"}') }),
    expect: INVALID_JSON,
  },
  {
    id: 'H-ENC-016',
    title: 'invalid UTF-8 (0xFF) is replaced by U+FFFD (documented) and accepted',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes('{"a":"x', [0xff], 'y"}') }),
    expect: ACCEPTED,
    check: storedBody({ a: 'x\ufffdy' }),
  },
  {
    id: 'H-ENC-017',
    title: 'an overlong encoding of "/" (C0 AF) is replaced, not decoded to "/"',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes('{"a":"..', [0xc0, 0xaf], '"}') }),
    expect: ACCEPTED,
    check: storedBody({ a: '..\ufffd\ufffd' }),
  },
  {
    id: 'H-ENC-018',
    title: 'a UTF-8-encoded surrogate (ED A0 80) is replaced, so it cannot reach the database',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes('{"a":"', [0xed, 0xa0, 0x80], '"}') }),
    expect: ACCEPTED,
    check: storedBody({ a: '\ufffd\ufffd\ufffd' }),
  },
  {
    id: 'H-ENC-019',
    title: 'a truncated UTF-8 sequence at the end of a string is replaced',
    send: (ctx, id) =>
      post(ctx, ctx.flows.open, id, { headers: JSON_TYPE, body: bytes('{"a":"', [0xe2, 0x82], '"}') }),
    expect: ACCEPTED,
  },
  {
    id: 'H-ENC-020',
    title: 'a text/plain body with a NUL byte: 422 UNSUPPORTED_TEXT',
    send: (ctx, id) => sendOpen(ctx, id, 'text/plain', bytes('abc', [0], 'def')),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('', NUL),
  },
  {
    id: 'H-ENC-021',
    title: 'a text/plain body with invalid UTF-8 is accepted with replacements',
    send: (ctx, id) => sendOpen(ctx, id, 'text/plain', bytes('abc', [0xfe, 0xff])),
    expect: ACCEPTED,
    check: storedBody('abc\ufffd\ufffd'),
  },
  {
    id: 'H-ENC-022',
    title: 'binary with NUL bytes as application/octet-stream is kept (base64)',
    send: (ctx, id) => sendOpen(ctx, id, 'application/octet-stream', bytes([0, 0, 0, 1])),
    expect: ACCEPTED,
    check: storedBody({ contentType: 'application/octet-stream', base64: 'AAAAAQ==' }),
  },
  {
    id: 'H-ENC-023',
    title: 'a form value %00: 422 naming the field',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], 'order_id=A%00'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('order_id', NUL),
  },
  {
    id: 'H-ENC-024',
    title: 'a form key %00: 422',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], 'a%00b=1'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('a\\u0000b', 'the key contains U+0000 (NUL)'),
  },
  {
    id: 'H-ENC-025',
    title: 'a form value with invalid UTF-8 (%FF) is accepted with a replacement',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], 'a=%FF'),
    expect: ACCEPTED,
    check: storedBody({ a: '\ufffd' }),
  },
  {
    id: 'H-ENC-026',
    title: 'a form value with a percent-encoded surrogate (%ED%A0%80) is accepted with replacements',
    send: (ctx, id) => sendOpen(ctx, id, FORM_TYPE['content-type'], 'a=%ED%A0%80'),
    expect: ACCEPTED,
  },
  {
    id: 'H-ENC-027',
    title: 'a query parameter %00 on a POST: 422 naming query.x, the query not stored',
    send: (ctx, id) => post(ctx, ctx.flows.open, id, { query: '?x=%00', headers: JSON_TYPE, body: '{}' }),
    expect: UNSUPPORTED_TEXT,
    check: async (reply, ctx, id) => {
      await unsupportedAt('query.x', NUL)!(reply, ctx, id);
      expect((await storedFor(ctx, id))[0]).toMatchObject({ query: {} });
    },
  },
  {
    id: 'H-ENC-028',
    title: 'a query key %00 on a POST: 422',
    send: (ctx, id) => post(ctx, ctx.flows.open, id, { query: '?%00=1', headers: JSON_TYPE, body: '{}' }),
    expect: UNSUPPORTED_TEXT,
  },
  {
    id: 'H-ENC-029',
    title: 'a GET whose query (the payload) holds %00: 422 naming the field',
    send: (ctx, id) => post(ctx, ctx.flows.get, id, { method: 'GET', query: '?note=%00' }),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('note', NUL),
  },
  {
    id: 'H-ENC-030',
    title: 'a GET with an invalid UTF-8 query value is accepted with a replacement',
    send: (ctx, id) => post(ctx, ctx.flows.get, id, { method: 'GET', query: '?note=%C3%28' }),
    expect: ACCEPTED,
  },
  {
    id: 'H-ENC-031',
    title: 'a multipart field value with a NUL: 422',
    send: (ctx, id) =>
      sendOpen(ctx, id, 'multipart/form-data; boundary=zz', multipart('zz', [field('note', 'a\u0000b')])),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('note', NUL),
  },
  {
    id: 'H-ENC-032',
    title: 'UTF-16LE bytes of a lone surrogate are replaced on decoding: accepted',
    send: (ctx, id) =>
      sendOpen(
        ctx,
        id,
        'application/json; charset=utf-16le',
        Buffer.concat([
          Buffer.from('{"a":"', 'utf16le'),
          Buffer.from([0x00, 0xd8]),
          Buffer.from('"}', 'utf16le'),
        ]),
      ),
    expect: ACCEPTED,
    check: storedBody({ a: '\ufffd' }),
  },
  {
    id: 'H-ENC-033',
    title: 'a NUL character decoded from UTF-16 inside a JSON string is invalid JSON: 400',
    send: (ctx, id) =>
      sendOpen(ctx, id, 'application/json; charset=utf-16le', Buffer.from('{"a":"\u0000"}', 'utf16le')),
    expect: INVALID_JSON,
  },
  {
    id: 'H-ENC-034',
    title: 'a NUL in an undeclared field of an otherwise valid payload: 422 UNSUPPORTED_TEXT',
    send: (ctx, id) => postJson(ctx, ctx.flows.typed, id, '{"order_id":"A-1","total":1,"note":"\\u0000"}'),
    expect: UNSUPPORTED_TEXT,
    check: unsupportedAt('note', NUL),
  },
];
