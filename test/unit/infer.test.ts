import { triggerSchema } from '../../src/schema/definitions';
import { VariableType } from '../../src/schema/enums';
import { BadInputError } from '../../src/services/errors';
import { inferVariables } from '../../src/services/infer';

/** The seed's e-commerce order, as the shop sends it. */
const ORDER = {
  order_id: 'A-1001',
  customer_email: 'ada@example.com',
  total: 129.5,
  items: [
    { sku: 'SKU-1', qty: 2 },
    { sku: 'SKU-9', qty: 1 },
  ],
};

/** A proposal must save as it is. */
const saves = (variables: unknown) => triggerSchema.safeParse({ label: 'x', variables }).success;

describe('inferVariables', () => {
  it('proposes the seed variables, with the element shape of items, all optional', () => {
    const { variables, skipped } = inferVariables(ORDER);
    expect(variables).toEqual([
      { name: 'order_id', type: 'STRING', required: false },
      { name: 'customer_email', type: 'STRING', required: false },
      { name: 'total', type: 'NUMBER', required: false },
      {
        name: 'items',
        type: 'ARRAY',
        required: false,
        items: {
          type: 'OBJECT',
          properties: [
            { name: 'sku', type: 'STRING', required: false },
            { name: 'qty', type: 'NUMBER', required: false },
          ],
        },
      },
    ]);
    expect(skipped).toEqual([]);
    expect(saves(variables)).toBe(true);
  });

  it('nests objects, merges the fields of every list element, and types scalar lists', () => {
    const { variables, skipped } = inferVariables({
      paid: true,
      customer: { name: 'Ada', address: { city: 'London', lines: ['1 Main St'] } },
      lines: [{ sku: 'A' }, { sku: 'B', gift: true }, { sku: 'C', note: null }],
      tags: ['a', 'b'],
      matrix: [
        [1, 2],
        [3, 4],
      ],
      empty: [],
      emptyObject: {},
    });
    expect(variables).toEqual([
      { name: 'paid', type: 'BOOLEAN', required: false },
      {
        name: 'customer',
        type: 'OBJECT',
        required: false,
        properties: [
          { name: 'name', type: 'STRING', required: false },
          {
            name: 'address',
            type: 'OBJECT',
            required: false,
            properties: [
              { name: 'city', type: 'STRING', required: false },
              { name: 'lines', type: 'ARRAY', required: false, items: { type: 'STRING' } },
            ],
          },
        ],
      },
      {
        name: 'lines',
        type: 'ARRAY',
        required: false,
        items: {
          type: 'OBJECT',
          properties: [
            { name: 'sku', type: 'STRING', required: false },
            { name: 'gift', type: 'BOOLEAN', required: false },
          ],
        },
      },
      { name: 'tags', type: 'ARRAY', required: false, items: { type: 'STRING' } },
      { name: 'matrix', type: 'ARRAY', required: false, items: { type: 'ARRAY' } },
      { name: 'empty', type: 'ARRAY', required: false },
      { name: 'emptyObject', type: 'OBJECT', required: false },
    ]);
    expect(skipped).toEqual([{ path: 'lines[].note', reason: 'null in the sample, so its type is unknown' }]);
    expect(saves(variables)).toBe(true);
  });

  it('skips and reports names that cannot be variables, nulls, mixed types and prototype keys', () => {
    const sample = JSON.parse(
      '{"ok":1,"first-name":"Ada","1st":"x","":"y","gone":null,"__proto__":{"polluted":true},"constructor":"c","mixed":[1,"a"],"odd":[{"a":1},{"a":"1"}]}',
    );
    const { variables, skipped } = inferVariables(sample);
    expect(variables).toEqual([
      { name: 'ok', type: 'NUMBER', required: false },
      { name: 'mixed', type: 'ARRAY', required: false },
      { name: 'odd', type: 'ARRAY', required: false, items: { type: 'OBJECT' } },
    ]);
    const invalidName = 'not a valid variable name (letters, digits and _, not starting with a digit)';
    expect(skipped).toEqual([
      { path: 'first-name', reason: invalidName },
      { path: '1st', reason: invalidName },
      { path: '', reason: invalidName },
      { path: 'gone', reason: 'null in the sample, so its type is unknown' },
      { path: '__proto__', reason: 'a reserved JavaScript name' },
      { path: 'constructor', reason: 'a reserved JavaScript name' },
      { path: 'mixed[]', reason: 'the elements have different types' },
      { path: 'odd[].a', reason: 'has values of different types' },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(saves(variables)).toBe(true);
  });

  it('stops nesting at the depth the trigger schema allows, keeping the type', () => {
    const deep = { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } };
    const { variables } = inferVariables(deep);
    expect(saves(variables)).toBe(true);
    let level = variables[0]!;
    const names = [level.name];
    while (level.properties?.length) {
      level = level.properties[0]!;
      names.push(level.name);
    }
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(level).toEqual({ name: 'e', type: VariableType.OBJECT, required: false });
  });

  it('keeps at most 200 fields per object, so the proposal saves', () => {
    const wide = Object.fromEntries(Array.from({ length: 205 }, (_, i) => [`f${i}`, i]));
    const { variables, skipped } = inferVariables(wide);
    expect(variables).toHaveLength(200);
    expect(skipped).toHaveLength(5);
    expect(skipped[0]).toEqual({ path: 'f200', reason: 'more than 200 fields' });
    expect(saves(variables)).toBe(true);
  });

  it.each([[[1, 2]], ['text'], [42], [null]])('refuses a sample that is not an object: %j', (sample) => {
    expect(() => inferVariables(sample)).toThrow(BadInputError);
    expect(() => inferVariables(sample)).toThrow(
      'cannot infer variables: sample: must be a JSON object (the fields of a webhook payload)',
    );
  });
});
