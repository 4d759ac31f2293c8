import { listReferences, parsePath, renderValue, type TemplateScope } from '../../src/templates';

const scope: TemplateScope = {
  webhook: {
    body: {
      order_id: 'A-1',
      total: 12.5,
      paid: false,
      items: [{ sku: 'S1' }],
      note: '{{webhook.order_id}}',
      nested: { a: { b: 1 } },
    },
    headers: { 'x-shop-id': 'shop-7', authorization: '[redacted]' },
    query: { source: 'zapier' },
  },
  steps: { first: { output: { status: 201, body: { id: 99 } } } },
  flow: { id: 'f1', label: 'New order' },
  run: { id: 'r1' },
  delivery: { id: 'd1', receivedAt: '2026-11-29T00:00:00.000Z' },
};

describe('templates', () => {
  it.each([
    ['{{webhook.order_id}}', 'A-1'],
    ['{{ webhook.total }}', 12.5],
    ['{{webhook.paid}}', false],
    ['{{webhook.items}}', [{ sku: 'S1' }]],
    ['{{webhook.items[0].sku}}', 'S1'],
    ['{{webhook.nested.a.b}}', 1],
    ['{{webhook.body.order_id}}', 'A-1'],
    ['{{webhook.headers.X-Shop-Id}}', 'shop-7'],
    ['{{webhook.query.source}}', 'zapier'],
    ['{{steps.first.output.body.id}}', 99],
    ['{{flow.label}}', 'New order'],
    ['{{run.id}}/{{delivery.id}}', 'r1/d1'],
    ['Total: {{webhook.total}} ({{webhook.items}})', 'Total: 12.5 ([{"sku":"S1"}])'],
  ])('renders %s', (template, expected) => {
    expect(renderValue(template, scope)).toEqual({ value: expected, missing: [] });
  });

  it('renders missing references empty and reports them', () => {
    expect(renderValue({ a: '{{webhook.nope}}', b: 'x{{steps.later.output}}y' }, scope)).toEqual({
      value: { a: '', b: 'xy' },
      missing: ['webhook.nope', 'steps.later.output'],
    });
  });

  it('never renders templates that arrive inside the payload', () => {
    expect(renderValue('{{webhook.note}}', scope).value).toBe('{{webhook.order_id}}');
    expect(renderValue('note: {{webhook.note}}', scope).value).toBe('note: {{webhook.order_id}}');
  });

  it('does not walk into prototypes', () => {
    expect(renderValue('{{webhook.__proto__}}', scope)).toEqual({
      value: '',
      missing: ['webhook.__proto__'],
    });
    expect(renderValue('{{webhook.constructor.name}}', scope).value).toBe('');
  });

  it('rejects malformed paths', () => {
    expect(parsePath('a..b')).toBeUndefined();
    expect(parsePath('a[x]')).toBeUndefined();
    expect(parsePath('a["x y"].b')).toEqual(['a', 'x y', 'b']);
  });

  it('lists references', () => {
    expect(listReferences({ a: ['{{webhook.a}} and {{ steps.s.output.x }}'], b: 1 })).toEqual([
      'webhook.a',
      'steps.s.output.x',
    ]);
  });
});
