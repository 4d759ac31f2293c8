import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Client as WsClient } from 'graphql-ws';
import { startApp, type App } from '../../src/app';
import type { Config } from '../../src/config';
import { freePort } from '../../src/temporal/dev-server';
import * as harness from './api-harness';

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
    host: '127.0.0.1',
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
    retention: { days: 30 },
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
}

export async function startTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const config = await testConfig(overrides);
  const app = await startApp(config, pino({ level: config.logLevel }));
  return { ...app, adminKey: config.adminKey!, config };
}

export type { GqlResponse as GqlResult } from './api-harness';

export function gql<T = any>(
  app: { config: Pick<Config, 'publicUrl'> },
  key: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
) {
  return harness.gql<T>({ url: `${app.config.publicUrl}/graphql` }, key, query, variables);
}

/** Like gql, but fails the test on any GraphQL error. */
export function gqlOk<T = any>(
  app: { config: Pick<Config, 'publicUrl'> },
  key: string,
  query: string,
  variables = {},
) {
  return harness.gqlOk<T>({ url: `${app.config.publicUrl}/graphql` }, key, query, variables);
}

export function wsClient(app: { config: Pick<Config, 'publicUrl'> }, key: string | undefined): WsClient {
  const wsUrl = `${app.config.publicUrl.replace(/^http/, 'ws')}/graphql`;
  return harness.wsClient({ wsUrl }, key ? { authorization: `Bearer ${key}` } : {});
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

export { eventually } from './api-harness';

export const CREATE_FLOW = `mutation($input: CreateFlowInput!) {
  createFlow(input: $input) { id name version webhookUrl status trigger { label variables { name type required } } steps { key plugin pluginVersion action } }
}`;

export const DELIVERY_WITH_RUN = `query($id: ID!) {
  delivery(id: $id) {
    id status rejectReason validationErrors { path message } body
    run { id status startedAt finishedAt steps { stepKey status attempts durationMs output error input } }
  }
}`;
