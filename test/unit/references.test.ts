import path from 'node:path';
import { z } from 'zod';
import { BUILTIN_PLUGINS } from '../../src/app';
import { PluginRegistry } from '../../src/plugins-host/registry';
import {
  NO_AUTH,
  stepsSchema,
  triggerSchema,
  type StepDefinition,
  type TriggerDefinition,
} from '../../src/schema/definitions';
import { BadInputError } from '../../src/services/errors';
import { parsePath } from '../../src/templates';
import { checkPath, listPaths, ValueType } from '../../src/services/json-schema-paths';
import {
  flowWarnings,
  formatReference,
  variableSuggestions,
  type FlowDefinition,
  type OutputSchemaSource,
} from '../../src/services/references';

/** The seed's e-commerce trigger, with the element shape of `items` and a nested customer declared. */
const SEED_TRIGGER = {
  label: 'New order',
  variables: [
    { name: 'order_id', type: 'STRING', required: true, description: 'Shop order id' },
    { name: 'customer_email', type: 'STRING', required: true, description: 'Where the confirmation goes' },
    { name: 'total', type: 'NUMBER', required: true },
    {
      name: 'items',
      type: 'ARRAY',
      items: {
        type: 'OBJECT',
        properties: [
          { name: 'sku', type: 'STRING', description: 'Stock keeping unit' },
          { name: 'qty', type: 'NUMBER' },
        ],
      },
    },
    {
      name: 'customer',
      type: 'OBJECT',
      properties: [
        { name: 'name', type: 'STRING' },
        { name: 'address', type: 'OBJECT', properties: [{ name: 'city', type: 'STRING' }] },
      ],
    },
    { name: 'tags', type: 'ARRAY' },
    { name: 'extra', type: 'OBJECT' },
  ],
};

function trigger(overrides: Record<string, unknown> = {}): TriggerDefinition {
  return { ...triggerSchema.parse({ ...SEED_TRIGGER, ...overrides }), auth: NO_AUTH };
}

function steps(list: unknown[]): StepDefinition[] {
  return stepsSchema.parse(list).map((s) => {
    const [plugin, version] = s.plugin.split('@') as [string, string | undefined];
    return { ...s, plugin, pluginVersion: version ?? '0.1.0' };
  });
}

const http = (key: string, input: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  key,
  plugin: 'http',
  action: 'request',
  input,
  ...extra,
});

const seedFlow = (): FlowDefinition => ({
  trigger: trigger(),
  steps: steps([
    http('notify', {
      url: 'https://shop.example/orders/{{webhook.order_id}}',
      headers: { 'x-shop': '{{webhook.headers.x-shop-id}}' },
      body: {
        email: '{{webhook.customer_email}}',
        total: '{{webhook.total}}',
        firstSku: '{{webhook.items[0].sku}}',
        city: '{{ webhook.customer.address.city }}',
        anything: '{{webhook.tags[3].whatever}} {{webhook.extra.a.b}} {{webhook.body.undeclared}}',
        source: '{{webhook.query.source}}',
        meta: '{{flow.id}} {{flow.label}} {{run.id}} {{delivery.id}} {{delivery.receivedAt}}',
      },
    }),
  ]),
});

describe('save-time reference warnings', () => {
  let registry: PluginRegistry;

  beforeAll(async () => {
    registry = await PluginRegistry.load({
      packages: [
        ...BUILTIN_PLUGINS.map((name) => ({ name })),
        { name: 'hookflow-plugin-echo', dir: path.join(__dirname, '../fixtures/plugins/echo-plugin') },
      ],
    });
  });

  const warn = (flow: FlowDefinition) => flowWarnings(flow, registry);
  const oneStep = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    trigger: trigger(),
    steps: steps([http('notify', input, extra)]),
  });

  it('finds nothing wrong with the seed flow: declared and nested variables, request parts, metadata', () => {
    expect(warn(seedFlow())).toEqual([]);
  });

  it('reports an undeclared variable where it is used, with a suggestion', () => {
    expect(warn(oneStep({ url: 'https://x.test', body: { email: '{{webhook.customer_emial}}' } }))).toEqual([
      {
        path: 'steps[0].input.body.email',
        message:
          '{{webhook.customer_emial}}: "customer_emial" is not a declared variable (did you mean customer_email?) (declared: order_id, customer_email, total, items, customer, tags, extra); declare it, or use webhook.body.customer_emial for an undeclared field',
      },
    ]);
  });

  it('says so when the trigger declares no variables', () => {
    const flow = {
      trigger: trigger({ variables: [] }),
      steps: steps([http('a', { url: '{{webhook.url}}' })]),
    };
    expect(warn(flow)).toEqual([
      {
        path: 'steps[0].input.url',
        message:
          '{{webhook.url}}: "url" is not a declared variable (the trigger declares no variables); declare it, or use webhook.body.url for an undeclared field',
      },
    ]);
  });

  it.each([
    ['{{webhook.items[0].price}}', 'webhook.items[0] has no declared field "price" (fields: sku, qty)'],
    ['{{webhook.items.sku}}', 'webhook.items is an ARRAY; use an index such as webhook.items[0]'],
    ['{{webhook.total.cents}}', 'webhook.total is a NUMBER and has no fields'],
    ['{{webhook.order_id[0]}}', 'webhook.order_id is a STRING and has no fields'],
    ['{{webhook.customer[0]}}', 'webhook.customer is an OBJECT; use a field name, not an index'],
    [
      '{{webhook.customer.adress.city}}',
      'webhook.customer has no declared field "adress" (did you mean address?) (fields: name, address)',
    ],
    [
      '{{webhook.customer.address.zip}}',
      'webhook.customer.address has no declared field "zip" (fields: city)',
    ],
    ['{{webhook[0]}}', 'use webhook.body[0] to index a body that is a list'],
  ])('checks nested paths against the declared shape: %s', (template, message) => {
    expect(warn(oneStep({ url: 'https://x.test', body: template }))).toEqual([
      { path: 'steps[0].input.body', message: `${template}: ${message}` },
    ]);
  });

  it('accepts any path below variables without a declared shape and below body, headers and query', () => {
    const refs = [
      '{{webhook.tags[0]}}',
      '{{webhook.tags.1}}',
      '{{webhook.extra.a[2].b}}',
      '{{webhook.body}}',
      '{{webhook.body.x.y[0]}}',
      '{{webhook.body[0]}}',
      '{{webhook.headers}}',
      '{{webhook.headers.X-Shop-Id}}',
      '{{webhook.query.a.b}}',
      '{{webhook}}',
      '{{webhook.items.0.sku}}',
    ];
    expect(warn(oneStep({ url: 'https://x.test', body: refs }))).toEqual([]);
  });

  it('allows only earlier steps, and says which ones are earlier', () => {
    const flow: FlowDefinition = {
      trigger: trigger(),
      steps: steps([
        http('create', {
          url: 'https://x.test/{{steps.create.output.body.id}}',
          body: { later: '{{steps.follow_up.output.status}}', unknown: '{{steps.crate.output}}' },
        }),
        http('follow_up', {
          url: 'https://x.test/{{steps.create.output.body.id}}',
          body: {
            ok: '{{steps.create.output.status}} {{steps.create.output.headers.etag}} {{steps.create}}',
            missing: '{{steps.crate.output.body}}',
            notOutput: '{{steps.create.result}}',
            noKey: '{{steps}}',
          },
        }),
      ]),
    };
    expect(warn(flow)).toEqual([
      {
        path: 'steps[0].input.url',
        message:
          '{{steps.create.output.body.id}}: a step cannot use its own output (no step runs before this one)',
      },
      {
        path: 'steps[0].input.body.later',
        message:
          '{{steps.follow_up.output.status}}: step "follow_up" runs after this one, so its output does not exist yet (no step runs before this one)',
      },
      {
        path: 'steps[0].input.body.unknown',
        message:
          '{{steps.crate.output}}: there is no step "crate" (did you mean create?) (no step runs before this one)',
      },
      {
        path: 'steps[1].input.body.missing',
        message:
          '{{steps.crate.output.body}}: there is no step "crate" (did you mean create?) (earlier steps: create)',
      },
      {
        path: 'steps[1].input.body.notOutput',
        message: '{{steps.create.result}}: a step only has an output: use steps.create.output…',
      },
      { path: 'steps[1].input.body.noKey', message: '{{steps}}: name a step: steps.<key>.output' },
    ]);
  });

  it("checks output fields against the plugin action's output schema", () => {
    const flow: FlowDefinition = {
      trigger: trigger(),
      steps: steps([
        http('call', { url: 'https://x.test' }),
        { key: 'echo', plugin: 'echo@0.3.0', action: 'echo', input: { message: 'hi' } },
        http('use', {
          url: 'https://x.test',
          body: {
            a: '{{steps.call.output.statusCode}}',
            b: '{{steps.call.output.status.value}}',
            c: '{{steps.call.output.headers.x-anything}}',
            d: '{{steps.call.output.body.deep[3].path}}',
            e: '{{steps.echo.output.echoed}} {{steps.echo.output.user}}',
            f: '{{steps.echo.output.echo}}',
          },
        }),
      ]),
    };
    const version = registry.get('echo')!.version;
    flow.steps[1]!.pluginVersion = version;
    expect(warn(flow)).toEqual([
      {
        path: 'steps[2].input.body.a',
        message:
          '{{steps.call.output.statusCode}}: steps.call.output has no field "statusCode" (fields: status, headers, body)',
      },
      {
        path: 'steps[2].input.body.b',
        message:
          '{{steps.call.output.status.value}}: steps.call.output.status is an integer and has no fields',
      },
      {
        path: 'steps[2].input.body.f',
        message: '{{steps.echo.output.echo}}: steps.echo.output has no field "echo" (fields: echoed, user)',
      },
    ]);
  });

  it('checks metadata fields and unknown roots', () => {
    const flow = oneStep({
      url: 'https://x.test',
      body: {
        a: '{{flow.name}}',
        b: '{{run.id.x}}',
        c: '{{webhok.order_id}}',
        d: '{{order_id}}',
        e: '{{flow}}',
      },
    });
    expect(warn(flow)).toEqual([
      {
        path: 'steps[0].input.body.a',
        message: '{{flow.name}}: flow has no field "name" (fields: id, label)',
      },
      { path: 'steps[0].input.body.b', message: '{{run.id.x}}: run.id is a STRING and has no fields' },
      {
        path: 'steps[0].input.body.c',
        message:
          '{{webhok.order_id}}: unknown reference root "webhok" (did you mean webhook?); references start with webhook., steps., flow., run., delivery.',
      },
      {
        path: 'steps[0].input.body.d',
        message:
          '{{order_id}}: unknown reference root "order_id"; references start with webhook., steps., flow., run., delivery.',
      },
    ]);
  });

  it('reports malformed references and unclosed braces', () => {
    const flow = oneStep({
      url: 'https://x.test',
      body: {
        a: '{{webhook..order_id}}',
        b: '{{webhook.items[a]}}',
        c: 'Order {{webhook.order_id',
        d: 'JSON {"a":{"b":1}}',
      },
    });
    expect(warn(flow)).toEqual([
      {
        path: 'steps[0].input.body.a',
        message:
          '{{webhook..order_id}}: is not a valid reference (write a path such as webhook.items[0].sku)',
      },
      {
        path: 'steps[0].input.body.b',
        message: '{{webhook.items[a]}}: is not a valid reference (write a path such as webhook.items[0].sku)',
      },
      {
        path: 'steps[0].input.body.c',
        message: 'has a "{{" without a matching "}}"; it renders as plain text',
      },
    ]);
  });

  it('checks `when`, the SYNC response and the idempotency key in their own context', () => {
    const flow: FlowDefinition = {
      trigger: trigger({
        responseMode: 'SYNC',
        response: {
          status: 200,
          body: { id: '{{steps.first.output.body.id}}', bad: '{{steps.nope.output}}' },
        },
        idempotencyKey: '{{webhook.order_id}}-{{steps.first.output.status}}-{{flow.id}}',
      }),
      steps: steps([
        http('first', { url: 'https://x.test' }, { when: 'false' }),
        http('second', { url: 'https://x.test' }, { when: '{{webhook.send_it}}' }),
      ]),
    };
    expect(warn(flow)).toEqual([
      {
        path: 'steps[0].when',
        message: 'has no {{reference}}, so the step always runs; use one such as {{webhook.send_email}}',
      },
      {
        path: 'steps[1].when',
        message: expect.stringMatching(/^\{\{webhook\.send_it\}\}: "send_it" is not a declared variable/),
      },
      {
        path: 'trigger.response.body.bad',
        message: '{{steps.nope.output}}: there is no step "nope" (earlier steps: first, second)',
      },
      {
        path: 'trigger.idempotencyKey',
        message:
          '{{steps.first.output.status}}: steps.* is not available here: the idempotency key is computed from the request before anything is stored: only webhook.* has a value then',
      },
      {
        path: 'trigger.idempotencyKey',
        message:
          '{{flow.id}}: flow.* is not available here: the idempotency key is computed from the request before anything is stored: only webhook.* has a value then',
      },
    ]);
  });

  it('warns about variables that webhook.<name> cannot reach', () => {
    const flow = {
      trigger: trigger({ variables: [{ name: 'body', type: 'STRING' }, ...SEED_TRIGGER.variables] }),
      steps: [],
    };
    expect(warn(flow)).toEqual([
      {
        path: 'trigger.variables[0].name',
        message: 'webhook.body means the whole request body; reference this variable as webhook.body.body',
      },
    ]);
  });

  it('does not check outputs of plugins that are not loaded', () => {
    const flow = {
      trigger: trigger(),
      steps: steps([
        { key: 'gone', plugin: 'gone@1.0.0', action: 'x', input: {} },
        http('after', { url: '{{steps.gone.output.any.thing}}' }),
      ]),
    };
    expect(warn(flow)).toEqual([]);
  });
});

describe('variable suggestions', () => {
  let registry: PluginRegistry;
  beforeAll(async () => {
    registry = await PluginRegistry.load({ packages: BUILTIN_PLUGINS.map((name) => ({ name })) });
  });

  const METADATA = [
    { reference: 'flow.id', type: 'STRING', description: 'The flow id', source: 'METADATA' },
    { reference: 'flow.label', type: 'STRING', description: "The trigger's label", source: 'METADATA' },
    { reference: 'run.id', type: 'STRING', description: 'The run id', source: 'METADATA' },
    { reference: 'delivery.id', type: 'STRING', description: 'The delivery id', source: 'METADATA' },
    {
      reference: 'delivery.receivedAt',
      type: 'STRING',
      description: 'When the request arrived (ISO 8601, UTC)',
      source: 'METADATA',
    },
  ];
  const REQUEST_PARTS = [
    {
      reference: 'webhook.body',
      type: 'ANY',
      description: 'The whole parsed request body',
      source: 'WEBHOOK',
    },
    {
      reference: 'webhook.headers',
      type: 'OBJECT',
      description: 'Request headers by lower-case name (credentials and signatures are redacted)',
      source: 'WEBHOOK',
    },
    { reference: 'webhook.query', type: 'OBJECT', description: 'Query string parameters', source: 'WEBHOOK' },
  ];

  it('lists the seed variables (nested, list elements as [0]), the request parts and metadata for the first step', () => {
    expect(variableSuggestions(seedFlow(), 'notify', registry)).toEqual([
      { reference: 'webhook.order_id', type: 'STRING', description: 'Shop order id', source: 'WEBHOOK' },
      {
        reference: 'webhook.customer_email',
        type: 'STRING',
        description: 'Where the confirmation goes',
        source: 'WEBHOOK',
      },
      { reference: 'webhook.total', type: 'NUMBER', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.items', type: 'ARRAY', description: null, source: 'WEBHOOK' },
      {
        reference: 'webhook.items[0]',
        type: 'OBJECT',
        description: 'An element of webhook.items',
        source: 'WEBHOOK',
      },
      {
        reference: 'webhook.items[0].sku',
        type: 'STRING',
        description: 'Stock keeping unit',
        source: 'WEBHOOK',
      },
      { reference: 'webhook.items[0].qty', type: 'NUMBER', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.customer', type: 'OBJECT', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.customer.name', type: 'STRING', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.customer.address', type: 'OBJECT', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.customer.address.city', type: 'STRING', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.tags', type: 'ARRAY', description: null, source: 'WEBHOOK' },
      { reference: 'webhook.extra', type: 'OBJECT', description: null, source: 'WEBHOOK' },
      ...REQUEST_PARTS,
      ...METADATA,
    ]);
  });

  it("adds earlier steps' outputs from the plugin's output schema, and nothing of later steps", () => {
    const flow: FlowDefinition = {
      trigger: trigger({ variables: [{ name: 'name', type: 'STRING' }] }),
      steps: steps([http('create', { url: 'https://x.test' }), http('follow_up', { url: 'https://x.test' })]),
    };
    const fromStep = (key: string) =>
      variableSuggestions(flow, key, registry).filter((s) => s.source === 'STEP');
    expect(fromStep('create')).toEqual([]);
    expect(fromStep('follow_up')).toEqual([
      {
        reference: 'steps.create.output',
        type: 'OBJECT',
        description: 'Output of step "create", http.request (API Call)',
        source: 'STEP',
      },
      { reference: 'steps.create.output.status', type: 'NUMBER', description: null, source: 'STEP' },
      { reference: 'steps.create.output.headers', type: 'OBJECT', description: null, source: 'STEP' },
      {
        reference: 'steps.create.output.body',
        type: 'ANY',
        description: 'Parsed JSON when the response is JSON, otherwise text',
        source: 'STEP',
      },
    ]);
    expect(
      variableSuggestions(flow, 'follow_up', registry)
        .map((s) => s.reference)
        .slice(0, 1),
    ).toEqual(['webhook.name']);
  });

  it('offers only references that pass the save-time checks', () => {
    const flow = seedFlow();
    flow.steps.push(...steps([http('second', { url: 'https://x.test' })]));
    const all = variableSuggestions(flow, 'second', registry);
    const probe = {
      ...flow,
      steps: [
        ...flow.steps.slice(0, 2),
        ...steps([http('probe', { url: 'https://x.test', all: all.map((s) => `{{${s.reference}}}`) })]),
      ],
    };
    expect(flowWarnings(probe, registry)).toEqual([]);
    expect(all.filter((s) => s.source === 'STEP').map((s) => s.reference)).toContain(
      'steps.notify.output.body',
    );
  });

  it('refuses a step the flow does not have', () => {
    expect(() => variableSuggestions(seedFlow(), 'nope', registry)).toThrow(BadInputError);
    expect(() => variableSuggestions(seedFlow(), 'nope', registry)).toThrow(
      'unknown step: stepKey: the flow has no step "nope" (steps: notify)',
    );
  });
});

describe('JSON Schema paths', () => {
  const schema = z.toJSONSchema(
    z.object({
      id: z.string().describe('The id'),
      maybe: z.number().nullable(),
      tags: z.array(z.object({ name: z.string() })),
      pair: z.tuple([z.string(), z.number()]),
      meta: z.record(z.string(), z.object({ v: z.boolean() })),
      either: z.union([z.object({ a: z.string() }), z.object({ b: z.number() })]),
      anything: z.unknown(),
    }),
    { io: 'output' },
  ) as Record<string, unknown>;

  it.each([
    [['id'], undefined],
    [['maybe'], undefined],
    [['tags', 0, 'name'], undefined],
    [['tags', '2', 'name'], undefined],
    [['pair', 1], undefined],
    [['meta', 'anyKey', 'v'], undefined],
    [['either', 'a'], undefined],
    [['either', 'b'], undefined],
    [['anything', 'x', 3], undefined],
    [
      ['nope'],
      { at: 0, message: 'has no field "nope" (fields: id, maybe, tags, pair, meta, either, anything)' },
    ],
    [['id', 'x'], { at: 1, message: 'is a string and has no fields' }],
    [['tags', 'name'], { at: 1, message: 'is a list; use an index such as [0]' }],
    [['tags', 0, 'nam'], { at: 2, message: 'has no field "nam" (fields: name)' }],
    [['meta', 'k', 'w'], { at: 2, message: 'has no field "w" (fields: v)' }],
    [['either', 'c'], { at: 1, message: 'has no field "c" (fields: a)' }],
  ])('checkPath %j', (segments, expected) => {
    expect(checkPath(schema, segments as (string | number)[])).toEqual(expected);
  });

  it('follows $ref and skips null branches when listing paths', () => {
    const withRefs = {
      $defs: { Item: { type: 'object', properties: { sku: { type: 'string', description: 'SKU' } } } },
      type: 'object',
      properties: {
        item: { anyOf: [{ $ref: '#/$defs/Item' }, { type: 'null' }] },
        list: { type: 'array', items: { $ref: '#/$defs/Item' } },
      },
      additionalProperties: false,
    };
    expect(listPaths(withRefs)).toEqual([
      { segments: ['item'], type: ValueType.OBJECT, description: undefined },
      { segments: ['item', 'sku'], type: ValueType.STRING, description: 'SKU' },
      { segments: ['list'], type: ValueType.ARRAY, description: undefined },
      { segments: ['list', 0], type: ValueType.OBJECT, description: undefined },
      { segments: ['list', 0, 'sku'], type: ValueType.STRING, description: 'SKU' },
    ]);
    expect(checkPath(withRefs, ['item', 'sku'])).toBeUndefined();
    expect(checkPath(withRefs, ['list', 0, 'x'])).toBeUndefined(); // Item does not close its fields
  });

  it('stops at self-referencing schemas', () => {
    const tree = {
      $defs: { Node: { type: 'object', properties: { child: { $ref: '#/$defs/Node' } } } },
      $ref: '#/$defs/Node',
    };
    const paths = listPaths(tree);
    expect(paths.map((p) => formatReference(['x', ...p.segments]))).toEqual([
      'x.child',
      'x.child.child',
      'x.child.child.child',
      'x.child.child.child.child',
    ]);
  });

  it('formats references so that parsePath reads them back', () => {
    expect(formatReference(['webhook', 'items', 0, 'sku'])).toBe('webhook.items[0].sku');
    expect(formatReference(['steps', 'a', 'output', 'headers', 'x-id'])).toBe('steps.a.output.headers.x-id');
    expect(formatReference(['webhook', 'body', 'a b'])).toBe('webhook.body["a b"]');
    for (const segments of [
      ['webhook', 'items', 0, 'sku'],
      ['steps', 'a', 'output', 'headers', 'x-id'],
      ['webhook', 'body', 'a b', 'c.d'],
    ]) {
      expect(parsePath(formatReference(segments))).toEqual(segments);
    }
  });
});

// Keeps the exported source type honest: the real registry is one.
const _registryIsASource: (r: PluginRegistry) => OutputSchemaSource = (r) => r;
void _registryIsASource;
