/**
 * Introspection: every authenticated key may introspect, whatever its role and in production too (the schema
 * is published in the repository as schema.graphql); a request without a valid key learns nothing.
 */
import { getIntrospectionQuery } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';
import {
  collect,
  errorCode,
  gql,
  gqlOk,
  startApiHarness,
  wsClient,
  type ApiHarness,
} from '../helpers/api-harness';
import { query as sql } from '../helpers/postgres';

const CREATE_KEY = `mutation($name: String!, $role: ApiKeyRole!) { createApiKey(name: $name, role: $role) { key apiKey { id } } }`;
const TYPE_NAMES = '{ __schema { queryType { name } mutationType { name } types { name } } }';

describe('GraphQL introspection in production mode', () => {
  let h: ApiHarness;
  let viewerKey: string;
  const clients: WsClient[] = [];
  const savedNodeEnv = process.env.NODE_ENV;

  beforeAll(async () => {
    // Apollo reads NODE_ENV when the server is built; left to its default it turns introspection off in production.
    process.env.NODE_ENV = 'production';
    try {
      h = await startApiHarness();
    } finally {
      process.env.NODE_ENV = savedNodeEnv;
    }
    const created = await gqlOk(h, h.adminKey, CREATE_KEY, { name: 'viewer', role: 'VIEWER' });
    viewerKey = created.createApiKey.key;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await h?.close();
  });

  it('lets a VIEWER key introspect the whole schema, over HTTP and WebSocket', async () => {
    const full = await gql(h, viewerKey, getIntrospectionQuery({ descriptions: true }));
    expect(full.errors).toBeUndefined();
    expect(full.data.__schema.queryType.name).toBe('Query');
    const mutations = full.data.__schema.types.find((t: { name: string }) => t.name === 'Mutation');
    expect(mutations.fields.map((f: { name: string }) => f.name)).toEqual(
      expect.arrayContaining(['createFlow', 'createApiKey']),
    );

    const client = wsClient(h, { authorization: `Bearer ${viewerKey}` });
    clients.push(client);
    const overWs = collect(client, TYPE_NAMES);
    await overWs.done;
    expect(overWs.error).toBeUndefined();
    expect(overWs.results[0]?.data?.__schema.mutationType.name).toBe('Mutation');
  });

  it('gives a VIEWER no more rights for knowing the schema: a mutation is FORBIDDEN and changes nothing', async () => {
    const before = await sql(h.databaseUrl, 'select count(*)::int as n from flow');
    const r = await gql(h, viewerKey, 'mutation { createFlow(input: { name: "x" }) { id } }');
    expect(errorCode(r)).toBe('FORBIDDEN');
    expect(r.data).toBeNull();
    expect(await sql(h.databaseUrl, 'select count(*)::int as n from flow')).toEqual(before);
  });

  it('refuses introspection without a key, with an unknown key and with a revoked key: 401, no data', async () => {
    const revoked = await gqlOk(h, h.adminKey, CREATE_KEY, { name: 'revoked', role: 'VIEWER' });
    await gqlOk(h, h.adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', {
      id: revoked.createApiKey.apiKey.id,
    });
    for (const key of [undefined, 'hf_not_a_real_key_0000000000000000', revoked.createApiKey.key]) {
      const r = await gql(h, key, TYPE_NAMES);
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('UNAUTHENTICATED');
      expect(r.data).toBeUndefined();
      expect(JSON.stringify(r)).not.toContain('Mutation');
    }
    const client = wsClient(h, undefined);
    clients.push(client);
    const overWs = collect(client, TYPE_NAMES);
    await overWs.done;
    expect(overWs.results).toEqual([]);
    expect((overWs.error as { code?: number }).code).toBe(4401);
  });
});
