import { parseBody, parseForm, parseJson, MAX_JSON_DEPTH } from '../../src/ingress/body';
import { buildFields, FORM_LIMITS } from '../../src/ingress/fields';
import { WebhookRejection } from '../../src/ingress/rejections';
import { buildValidator, MAX_ISSUES, validatorFor } from '../../src/ingress/validator';
import { variableSchema, type VariableDefinition } from '../../src/schema/definitions';

/** Variables as FlowService stores them (through the zod schema of the trigger input). */
const vars = (list: unknown[]) => list.map((v) => variableSchema.parse(v)) as VariableDefinition[];

const ORDER_VARIABLES = vars([
  { name: 'order_id', type: 'STRING', required: true },
  { name: 'customer_email', type: 'STRING', required: true },
  { name: 'total', type: 'NUMBER', required: true },
  { name: 'paid', type: 'BOOLEAN' },
  {
    name: 'customer',
    type: 'OBJECT',
    properties: [
      { name: 'name', type: 'STRING', required: true },
      { name: 'address', type: 'OBJECT', properties: [{ name: 'zip', type: 'STRING', required: true }] },
    ],
  },
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
  { name: 'meta', type: 'OBJECT' },
  { name: 'tags', type: 'ARRAY', items: { type: 'STRING' } },
]);

const GOOD_ORDER = {
  order_id: 'A-1',
  customer_email: 'ada@example.com',
  total: 12.5,
  paid: true,
  customer: { name: 'Ada', address: { zip: '10115' } },
  items: [{ sku: 'SKU-1', qty: 2 }],
  meta: { source: 'shop' },
  tags: ['new'],
  undeclared: { anything: [1, 2] },
};

function rejectionOf(fn: () => unknown): WebhookRejection {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookRejection) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
});

describe('payload validator', () => {
  const validate = buildValidator(ORDER_VARIABLES);

  it('accepts a payload with every declared type, nested, and leaves undeclared fields alone', () => {
    expect(validate.validate(GOOD_ORDER)).toEqual({ value: GOOD_ORDER, issues: [] });
    expect(validate(GOOD_ORDER)).toEqual([]);
  });

  it('lists every problem with its path, nested fields and array elements included', () => {
    const issues = validate({
      customer_email: 42,
      total: '12.5',
      paid: 'yes',
      customer: { address: {} },
      items: [{ sku: 'A', qty: 1 }, { qty: 'two' }, 'not an object'],
      meta: [],
      tags: ['ok', 3],
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'order_id', message: 'is required' },
        { path: 'customer_email', message: 'must be a string' },
        { path: 'total', message: 'must be a number' },
        { path: 'paid', message: 'must be a boolean' },
        { path: 'customer.name', message: 'is required' },
        { path: 'customer.address.zip', message: 'is required' },
        { path: 'items[1].sku', message: 'is required' },
        { path: 'items[1].qty', message: 'must be a number' },
        { path: 'items[2]', message: 'must be an object' },
        { path: 'meta', message: 'must be an object' },
        { path: 'tags[1]', message: 'must be a string' },
      ]),
    );
    expect(issues).toHaveLength(11);
  });

  it('treats null like a missing value: required fails, optional passes', () => {
    expect(validate({ ...GOOD_ORDER, order_id: null, paid: null, customer: null })).toEqual([
      { path: 'order_id', message: 'is required' },
    ]);
  });

  it('wants an object body when variables are declared, and accepts anything when none are', () => {
    expect(validate('plain text')).toEqual([
      { path: '', message: 'the body must be an object with the declared variables' },
    ]);
    expect(validate([1])).toHaveLength(1);
    expect(validate(undefined).map((i) => i.path)).toEqual(['order_id', 'customer_email', 'total']);
    const none = buildValidator([]);
    expect(none('text')).toEqual([]);
    expect(none(undefined)).toEqual([]);
  });

  it('reports at most MAX_ISSUES problems and says how many more there were', () => {
    const v = buildValidator(vars([{ name: 'n', type: 'ARRAY', items: { type: 'NUMBER' } }]));
    const issues = v({ n: Array.from({ length: 250 }, () => 'x') });
    expect(issues).toHaveLength(MAX_ISSUES + 1);
    expect(issues.at(-1)).toEqual({ path: '', message: `and ${250 - MAX_ISSUES} more problems` });
  });

  it('is compiled once per flow version', () => {
    const a = validatorFor('version-1', ORDER_VARIABLES);
    expect(validatorFor('version-1', [])).toBe(a);
    expect(validatorFor('version-2', ORDER_VARIABLES)).not.toBe(a);
  });
});

describe('string coercion for form, multipart and query senders', () => {
  const validate = buildValidator(ORDER_VARIABLES);
  const asForm = (body: unknown) => validate.validate(body, { stringsOnly: true });

  it('converts only where the declared type asks for it, nested fields included', () => {
    const { value, issues } = asForm({
      order_id: '123',
      customer_email: 'ada@example.com',
      total: '12.5',
      paid: 'TRUE',
      customer: '{"name":"Ada","address":{"zip":"10115"}}',
      items: [{ sku: '77', qty: '2' }],
      meta: '{"source":"zapier"}',
      tags: '["a","b"]',
      undeclared: '42',
    });
    expect(issues).toEqual([]);
    expect(value).toEqual({
      order_id: '123',
      customer_email: 'ada@example.com',
      total: 12.5,
      paid: true,
      customer: { name: 'Ada', address: { zip: '10115' } },
      items: [{ sku: '77', qty: 2 }],
      meta: { source: 'zapier' },
      tags: ['a', 'b'],
      undeclared: '42',
    });
  });

  it('accepts the number notations a form sends and nothing else', () => {
    for (const [text, number] of [
      ['-3', -3],
      ['1e3', 1000],
      ['.5', 0.5],
      [' 7 ', 7],
    ] as const) {
      expect(asForm({ ...GOOD_ORDER, total: text }).value).toMatchObject({ total: number });
    }
    for (const text of ['0x10', '12abc', 'NaN', 'Infinity', '1,5']) {
      expect(asForm({ ...GOOD_ORDER, total: text }).issues).toEqual([
        { path: 'total', message: 'must be a number' },
      ]);
    }
  });

  it('reads booleans only from true/false, and JSON text only when it has the declared type', () => {
    expect(asForm({ ...GOOD_ORDER, paid: 'false' }).value).toMatchObject({ paid: false });
    expect(asForm({ ...GOOD_ORDER, paid: '1' }).issues).toEqual([
      { path: 'paid', message: 'must be a boolean' },
    ]);
    expect(asForm({ ...GOOD_ORDER, meta: '[1]' }).issues).toEqual([
      { path: 'meta', message: 'must be an object' },
    ]);
    expect(asForm({ ...GOOD_ORDER, tags: '{"a":1}' }).issues).toEqual([
      { path: 'tags', message: 'must be an array' },
    ]);
    expect(asForm({ ...GOOD_ORDER, meta: '{broken' }).issues).toEqual([
      { path: 'meta', message: 'must be an object' },
    ]);
  });

  it('counts a blank field as absent, except for strings', () => {
    const { value, issues } = asForm({ ...GOOD_ORDER, total: '', paid: '', order_id: '' });
    expect(issues).toEqual([{ path: 'total', message: 'is required' }]);
    expect(value).not.toHaveProperty('paid');
    expect(value).toMatchObject({ order_id: '' });
  });

  it('never coerces JSON payloads', () => {
    expect(validate.validate({ ...GOOD_ORDER, total: '12.5' }).issues).toEqual([
      { path: 'total', message: 'must be a number' },
    ]);
  });
});

describe('JSON parsing', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses more with a clear message`, () => {
    expect(() => parseJson(nested(MAX_JSON_DEPTH))).not.toThrow();
    const r = rejectionOf(() => parseJson(nested(MAX_JSON_DEPTH + 1)));
    expect(r.code).toBe('MALFORMED_BODY');
    expect(r.message).toBe(`the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(rejectionOf(() => parseJson(nested(100_000))).code).toBe('MALFORMED_BODY');
  });

  it('refuses invalid JSON', () => {
    const r = rejectionOf(() => parseJson('{"a":'));
    expect([r.code, r.httpStatus, r.message]).toEqual(['MALFORMED_BODY', 400, 'the body is not valid JSON']);
  });

  it('keeps __proto__ and constructor as plain data that reaches no prototype', () => {
    const body = parseJson(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    ) as object;
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.keys(body)).toEqual(['__proto__', 'constructor']);
    const v = buildValidator(
      vars([
        { name: 'constructor', type: 'OBJECT' },
        { name: 'x', type: 'NUMBER' },
      ]),
    );
    const { value, issues } = v.validate(body, { stringsOnly: true });
    expect(issues).toEqual([]);
    expect(Object.keys(value as object)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(value)).toBe(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    );
  });
});

describe('form fields with bracket nesting', () => {
  it('builds nested objects and arrays the way PHP, Zapier and Make name fields', () => {
    expect(
      parseForm(
        'order_id=A-1&items[0][sku]=SKU-1&items[0][qty]=2&items[1][sku]=SKU-9&customer[address][zip]=10115&tags[]=a&tags[]=b&repeat=1&repeat=2&plain=a%20b+c',
      ),
    ).toEqual({
      order_id: 'A-1',
      items: [{ sku: 'SKU-1', qty: '2' }, { sku: 'SKU-9' }],
      customer: { address: { zip: '10115' } },
      tags: ['a', 'b'],
      repeat: ['1', '2'],
      plain: 'a b c',
    });
  });

  it('keeps unbalanced names literally, fills index gaps with null and turns large indexes into keys', () => {
    expect(parseForm('a[b=1&c]d=2&e[x]y]=3')).toEqual({ 'a[b': '1', 'c]d': '2', 'e[x]y]': '3' });
    expect(parseForm('a[0]=x&a[2]=y')).toEqual({ a: ['x', null, 'y'] });
    expect(parseForm('a[0]=x&a[5000]=y')).toEqual({ a: { 0: 'x', 5000: 'y' } });
    expect(parseForm('a[0]=x&a[k]=y')).toEqual({ a: { 0: 'x', k: 'y' } });
    expect(parseForm('a=1&a[b]=2')).toEqual({ a: { b: '2' } });
  });

  it('refuses more fields or deeper names than its limits', () => {
    const many = Array.from({ length: FORM_LIMITS.MAX_FIELDS + 1 }, (_, i) => `f${i}=1`).join('&');
    expect(rejectionOf(() => parseForm(many)).message).toBe(
      `the request has more than ${FORM_LIMITS.MAX_FIELDS} fields`,
    );
    const deep = `a${'[x]'.repeat(FORM_LIMITS.MAX_DEPTH + 1)}=1`;
    expect(rejectionOf(() => parseForm(deep)).message).toBe(
      `a field name is nested deeper than ${FORM_LIMITS.MAX_DEPTH} levels`,
    );
    expect(() => parseForm(`a${'[x]'.repeat(FORM_LIMITS.MAX_DEPTH)}=1`)).not.toThrow();
  });

  it('cannot pollute prototypes with __proto__, constructor or prototype in field names', () => {
    const fields = parseForm(
      '__proto__[polluted]=1&constructor[prototype][polluted]=1&a[__proto__][polluted]=1&b[constructor][prototype][polluted]=1&__proto__=x',
    );
    expect(JSON.parse(JSON.stringify(fields))).toEqual(
      JSON.parse(
        '{"__proto__":"x","constructor":{"prototype":{"polluted":"1"}},"a":{"__proto__":{"polluted":"1"}},"b":{"constructor":{"prototype":{"polluted":"1"}}}}',
      ),
    );
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(fields.a)).toBe(Object.prototype);
    expect(buildFields([['x[__proto__]', 'y']]).x).toEqual(JSON.parse('{"__proto__":"y"}'));
  });
});

describe('content types', () => {
  const raw = (s: string) => Buffer.from(s);

  it('parses JSON, +json, form, text and octet-stream; coercion applies to form senders only', async () => {
    expect(await parseBody(raw('{"a":1}'), 'application/json; charset=utf-8')).toEqual({
      value: { a: 1 },
      stringsOnly: false,
    });
    expect(await parseBody(raw('{"a":1}'), 'application/vnd.shop+json')).toEqual({
      value: { a: 1 },
      stringsOnly: false,
    });
    expect(await parseBody(raw('a=1'), 'application/x-www-form-urlencoded')).toEqual({
      value: { a: '1' },
      stringsOnly: true,
    });
    expect(await parseBody(raw('héllo'), 'text/plain')).toEqual({ value: 'héllo', stringsOnly: false });
    expect(await parseBody(Buffer.from([0xe9]), 'text/plain; charset=latin1')).toEqual({
      value: 'é',
      stringsOnly: false,
    });
    expect(await parseBody(Buffer.from([0, 1, 255]), 'application/octet-stream')).toEqual({
      value: { contentType: 'application/octet-stream', base64: 'AAH/' },
      stringsOnly: false,
    });
    expect(await parseBody(Buffer.alloc(0), 'application/json')).toEqual({
      value: undefined,
      stringsOnly: false,
    });
  });

  it('parses multipart fields with bracket names and files as {filename, contentType, base64}', async () => {
    const boundary = 'XyZ';
    const body = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="order_id"',
      '',
      'A-1',
      `--${boundary}`,
      'Content-Disposition: form-data; name="items[0][sku]"',
      '',
      'SKU-1',
      `--${boundary}`,
      'Content-Disposition: form-data; name="invoice"; filename="invoice.txt"',
      'Content-Type: text/plain',
      '',
      'hello file',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const parsed = await parseBody(raw(body), `multipart/form-data; boundary=${boundary}`);
    expect(parsed.stringsOnly).toBe(true);
    expect(JSON.parse(JSON.stringify(parsed.value))).toEqual({
      order_id: 'A-1',
      items: [{ sku: 'SKU-1' }],
      invoice: {
        filename: 'invoice.txt',
        contentType: 'text/plain',
        base64: Buffer.from('hello file').toString('base64'),
      },
    });
  });

  it('refuses other types (415) and broken multipart (400)', async () => {
    for (const type of ['application/xml', 'image/png', 'application/jsonx']) {
      await expect(parseBody(raw('<a/>'), type)).rejects.toMatchObject({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        httpStatus: 415,
      });
    }
    await expect(parseBody(raw('x'), 'multipart/form-data')).rejects.toMatchObject({
      code: 'MALFORMED_BODY',
      httpStatus: 400,
    });
    await expect(parseBody(raw('x'), 'text/plain; charset=klingon')).rejects.toMatchObject({
      httpStatus: 415,
    });
  });
});
