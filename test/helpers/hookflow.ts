import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { startApp, type App } from '../../src/app';
import type { Config } from '../../src/config';
import { freePort } from '../../src/temporal/dev-server';

export type TestApp = App & { adminKey: string; config: Config };

export function temporalAddress(): string {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEST_TEMPORAL_ADDRESS is not set: the Jest global setup starts the Temporal dev server');
  return address;
}

/** A configuration like main.ts would build, on a free port, its own task queue and a temporary DATA_DIR. */
export async function testConfig(overrides: Partial<Config> = {}): Promise<Config> {
  const port = overrides.port ?? (await freePort());
  return {
    port,
    publicUrl: `http://127.0.0.1:${port}`,
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'hookflow-test-')),
    temporal: {
      address: temporalAddress(),
      namespace: 'default',
      taskQueue: `test-${randomBytes(4).toString('hex')}`,
    },
    roles: ['api', 'ingress', 'worker'],
    secretKey: randomBytes(32),
    adminKey: `hf_test_${randomBytes(16).toString('hex')}`,
    egressAllow: ['127.0.0.1', 'localhost'],
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
}

export async function startTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const config = await testConfig(overrides);
  const app = await startApp(config, pino({ level: config.logLevel }));
  return { ...app, adminKey: config.adminKey!, config };
}

export type GqlResult<T = any> = {
  data?: T;
  errors?: { message: string; extensions?: Record<string, any> }[];
};

export async function gql<T = any>(
  app: { config: Config },
  key: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResult<T>> {
  const res = await fetch(`${app.config.publicUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GqlResult<T>;
}

/** Like gql, but fails the test on any GraphQL error. */
export async function gqlOk<T = any>(
  app: { config: Config },
  key: string,
  query: string,
  variables = {},
): Promise<T> {
  const r = await gql<T>(app, key, query, variables);
  if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
  return r.data as T;
}

export function wsClient(app: { config: Config }, key: string | undefined): WsClient {
  return createClient({
    url: `${app.config.publicUrl.replace(/^http/, 'ws')}/graphql`,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
  });
}

/** Collects subscription events until stopped. */
export function subscribe<T = any>(client: WsClient, query: string, variables: Record<string, unknown> = {}) {
  const events: T[] = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => (v.data ? events.push(v.data) : errors.push(v.errors)),
      error: (e) => errors.push(e),
      complete: () => undefined,
    },
  );
  return { events, errors, dispose };
}

/** Polls until check returns a value (not undefined) or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const CREATE_FLOW = `mutation($input: CreateFlowInput!) {
  createFlow(input: $input) { id name version webhookUrl status trigger { label variables { name type required } } steps { key plugin pluginVersion action } }
}`;

export const DELIVERY_WITH_RUN = `query($id: ID!) {
  delivery(id: $id) {
    id status rejectReason validationErrors { path message } body
    run { id status startedAt finishedAt steps { stepKey status attempts durationMs output error input } }
  }
}`;
