/** GraphQL abuse: depth, aliases, cost, batching, introspection and fragment bombs, oversized and odd bodies. */
import { getIntrospectionQuery } from 'graphql';
import { headersOf, type HostileCase, type HostileContext, type Reply } from '../harness';

type GqlBody = string | Record<string, unknown> | unknown[];

async function graphql(
  ctx: HostileContext,
  body: GqlBody,
  init: { headers?: Record<string, string>; key?: string | null; method?: string } = {},
): Promise<Reply> {
  const key = init.key === undefined ? ctx.app.adminKey : init.key;
  const res = await fetch(`${ctx.app.url}/graphql`, {
    method: init.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...init.headers,
    },
    body: init.method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: headersOf(res.headers) };
}

const codes = (reply: Reply): string[] =>
  ((reply.json?.errors ?? []) as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code ?? '');
const messages = (reply: Reply): string => JSON.stringify(reply.json?.errors ?? []);

/** Refused with this error code (and, when given, a message matching `about`), nothing executed. */
const refused =
  (code: string, about?: RegExp): HostileCase['check'] =>
  (reply) => {
    expect(codes(reply)).toContain(code);
    if (about) expect(messages(reply)).toMatch(about);
    expect(reply.json?.data ?? undefined).toBeUndefined();
  };
const answered: HostileCase['check'] = (reply) => {
  expect(reply.json?.errors).toBeUndefined();
  expect(reply.json?.data).toBeDefined();
};

const nestedFields = (depth: number) => `${'{ a '.repeat(depth)}${'}'.repeat(depth)}`;
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
const DELIVERIES =
  'query($id: ID!, $first: Int) { deliveries(flowId: $id, first: $first) { edges { node { id } } } }';
const TEST_WEBHOOK =
  'mutation($id: ID!, $payload: JSON!) { sendTestWebhook(flowId: $id, payload: $payload) { id status } }';

export const graphqlCases: HostileCase[] = [
  {
    id: 'H-GQL-001',
    title: 'a query nested 13 levels: 400, the depth limit named',
    send: (ctx) => graphql(ctx, { query: nestedFields(13) }),
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED', /nested 13 levels deep; the limit is 12/),
  },
  {
    id: 'H-GQL-002',
    title: 'a query nested 1000 levels: 400',
    send: (ctx) => graphql(ctx, { query: nestedFields(1000) }),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-003',
    title: 'a query nested 100 000 levels: 400, no stack overflow',
    send: (ctx) => graphql(ctx, { query: nestedFields(100_000) }),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-004',
    title: '31 aliases: 400, the alias limit named',
    send: (ctx) => graphql(ctx, { query: aliases(31) }),
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED', /31 aliases; the limit is 30/),
  },
  {
    id: 'H-GQL-005',
    title: '30 aliases (the limit) are answered',
    send: (ctx) => graphql(ctx, { query: aliases(30) }),
    expect: { status: 200 },
    check: answered,
  },
  {
    id: 'H-GQL-006',
    title: 'deliveries(first: 1000000): refused as bad input',
    send: (ctx) =>
      graphql(ctx, { query: DELIVERIES, variables: { id: ctx.flows.open.id, first: 1_000_000 } }),
    expect: { status: 200 },
    check: refused('BAD_USER_INPUT'),
  },
  {
    id: 'H-GQL-007',
    title: 'deliveries(first: -5): refused as bad input',
    send: (ctx) => graphql(ctx, { query: DELIVERIES, variables: { id: ctx.flows.open.id, first: -5 } }),
    expect: { status: 200 },
    check: refused('BAD_USER_INPUT'),
  },
  {
    id: 'H-GQL-008',
    title: 'first: 2^31 does not fit an Int: 400',
    send: (ctx) => graphql(ctx, { query: DELIVERIES, variables: { id: ctx.flows.open.id, first: 2 ** 31 } }),
    expect: { status: 400 },
    check: refused('BAD_USER_INPUT'),
  },
  {
    id: 'H-GQL-009',
    title: 'deliveries(first: 100), the largest page, is answered',
    send: (ctx) => graphql(ctx, { query: DELIVERIES, variables: { id: ctx.flows.open.id, first: 100 } }),
    expect: { status: 200 },
    check: answered,
  },
  {
    id: 'H-GQL-010',
    title: 'a batch of 100 operations in one request: 400 (batching is off)',
    send: (ctx) =>
      graphql(
        ctx,
        Array.from({ length: 100 }, () => ({ query: '{ flows { id } }' })),
      ),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-011',
    title: 'an introspection bomb (types → fields → type → fields …): 400',
    send: (ctx) =>
      graphql(ctx, {
        query: `{ __schema { types { ${'fields { type { '.repeat(8)}name${' } }'.repeat(8)} } } }`,
      }),
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED', /introspection/),
  },
  {
    id: 'H-GQL-012',
    title: 'the standard introspection query of tools is answered',
    send: (ctx) => graphql(ctx, { query: getIntrospectionQuery() }),
    expect: { status: 200 },
    check: answered,
  },
  {
    id: 'H-GQL-013',
    title: 'a fragment cycle: 400',
    send: (ctx) =>
      graphql(ctx, { query: '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }' }),
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED'),
  },
  {
    id: 'H-GQL-014',
    title: 'a fragment bomb (each fragment doubling the last, 2^30 fields): 400 on cost',
    send: (ctx) => {
      const fragments = Array.from(
        { length: 30 },
        (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`,
      );
      return graphql(ctx, { query: `{ ...F30 } fragment F0 on Query { __typename } ${fragments.join(' ')}` });
    },
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED', /too expensive/),
  },
  {
    id: 'H-GQL-015',
    title: 'a list inside lists inside lists: 400 on cost',
    send: (ctx) =>
      graphql(ctx, {
        query: `{ ${Array.from({ length: 20 }, (_, i) => `f${i}: flows { steps { key } versions: steps { key } }`).join(' ')} }`,
      }),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-016',
    title: '10 001 __typename fields: 400 on cost',
    send: (ctx) => graphql(ctx, { query: `{ ${'__typename '.repeat(10_001)}}` }),
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED', /too expensive/),
  },
  {
    id: 'H-GQL-017',
    title: 'one directive repeated 1000 times on a field: 400',
    send: (ctx) => graphql(ctx, { query: `{ __typename ${'@include(if: true) '.repeat(1000)}}` }),
    expect: { status: 400 },
    check: refused('GRAPHQL_VALIDATION_FAILED'),
  },
  {
    id: 'H-GQL-018',
    title: 'a 2 MiB body: 413',
    send: (ctx) => graphql(ctx, { query: `{ __typename } # ${'x'.repeat(2 * 1024 * 1024)}` }),
    expect: { status: 413 },
    check: refused('PAYLOAD_TOO_LARGE'),
  },
  {
    id: 'H-GQL-019',
    title: 'a 900 KiB comment around a small query is answered',
    send: (ctx) => graphql(ctx, { query: `{ __typename } # ${'x'.repeat(900 * 1024)}` }),
    expect: { status: 200 },
    check: answered,
  },
  {
    id: 'H-GQL-020',
    title: 'a body that is not JSON: 400',
    send: (ctx) => graphql(ctx, '{"query": "{ flows { id } }"'),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-021',
    title: 'no API key: UNAUTHENTICATED',
    send: (ctx) => graphql(ctx, { query: '{ flows { id } }' }, { key: null }),
    expect: { status: 401 },
    check: refused('UNAUTHENTICATED'),
  },
  {
    id: 'H-GQL-022',
    title: 'an unknown API key: UNAUTHENTICATED',
    send: (ctx) => graphql(ctx, { query: '{ flows { id } }' }, { key: 'hf_not_a_real_key' }),
    expect: { status: 401 },
    check: refused('UNAUTHENTICATED'),
  },
  {
    id: 'H-GQL-023',
    title: 'a variable of the wrong type: 400',
    send: (ctx) => graphql(ctx, { query: DELIVERIES, variables: { id: ctx.flows.open.id, first: 'ten' } }),
    expect: { status: 400 },
    check: refused('BAD_USER_INPUT'),
  },
  {
    id: 'H-GQL-024',
    title: 'a mutation over GET: refused',
    send: (ctx) =>
      fetch(
        `${ctx.app.url}/graphql?query=${encodeURIComponent('mutation { revokeApiKey(id: "x") { id } }')}`,
        { headers: { authorization: `Bearer ${ctx.app.adminKey}`, 'apollo-require-preflight': '1' } },
      ).then(async (r) => ({ status: r.status, text: await r.text() })),
    expect: { status: 405 },
  },
  {
    id: 'H-GQL-025',
    title: 'a simple (CSRF-able) text/plain POST: 400',
    send: (ctx) => graphql(ctx, { query: '{ flows { id } }' }, { headers: { 'content-type': 'text/plain' } }),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-026',
    title: 'an operationName that names no operation: 400',
    send: (ctx) => graphql(ctx, { query: 'query A { __typename }', operationName: 'B' }),
    expect: { status: 400 },
  },
  {
    id: 'H-GQL-027',
    title: 'an unknown persisted-query hash: refused, nothing executed',
    send: (ctx) =>
      graphql(ctx, { extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }),
    expect: { status: 200 },
    check: refused('PERSISTED_QUERY_NOT_FOUND'),
  },
  {
    id: 'H-GQL-028',
    title: 'a document of 500 operations, one chosen by name, is answered',
    send: (ctx) =>
      graphql(ctx, {
        query: Array.from({ length: 500 }, (_, i) => `query Q${i} { __typename }`).join(' '),
        operationName: 'Q499',
      }),
    expect: { status: 200 },
    check: answered,
  },
  {
    id: 'H-GQL-029',
    title: 'sendTestWebhook with \\u0000 in the payload: BAD_USER_INPUT naming the field, nothing stored',
    send: (ctx) =>
      graphql(
        ctx,
        `{"query":${JSON.stringify(TEST_WEBHOOK)},"variables":{"id":"${ctx.flows.open.id}","payload":{"note":"\\u0000"}}}`,
      ),
    expect: { status: 200 },
    check: async (reply, ctx) => {
      refused('BAD_USER_INPUT', /payload\.note: the value contains U\+0000/)!(reply, ctx, '');
      const { rows } = await ctx.pg.query(
        `select count(*)::int as n from delivery where is_test and flow_id = $1`,
        [ctx.flows.open.id],
      );
      expect(rows[0].n).toBe(0);
    },
  },
  {
    id: 'H-GQL-030',
    title: 'sendTestWebhook with a lone surrogate in a key: BAD_USER_INPUT',
    send: (ctx) =>
      graphql(
        ctx,
        `{"query":${JSON.stringify(TEST_WEBHOOK)},"variables":{"id":"${ctx.flows.open.id}","payload":{"\\udc00":1}}}`,
      ),
    expect: { status: 200 },
    check: refused('BAD_USER_INPUT', /unpaired UTF-16 surrogate/),
  },
  {
    id: 'H-GQL-031',
    title: 'a test payload nested 5000 levels: BAD_USER_INPUT',
    send: (ctx) =>
      graphql(
        ctx,
        `{"query":${JSON.stringify(TEST_WEBHOOK)},"variables":{"id":"${ctx.flows.open.id}","payload":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}`,
      ),
    expect: { status: 200 },
    check: refused('BAD_USER_INPUT'),
  },
  {
    id: 'H-GQL-032',
    title: 'a query string of 100 000 tokens without nesting is answered or refused, never a crash',
    send: (ctx) => graphql(ctx, { query: `{ __typename ${'# c\n'.repeat(100_000)}}` }),
    expect: { status: 200 },
    check: answered,
  },
];
