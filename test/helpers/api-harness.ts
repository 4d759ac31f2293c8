import { BUILTIN_PLUGINS } from '../../src/app';
import { PluginRegistry } from '../../src/plugins-host/registry';
/**
 * The GraphQL API alone (no Temporal, no ingress) on real PostgreSQL: a fresh database, the real services with
 * a fake plugin catalog (http.request@0.1.0), an in-process event bus, express + http server on a free port.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { createClient, type Client as WsClient } from 'graphql-ws';
import pino from 'pino';
import { mountGraphql, type MountedGraphql } from '../../src/resolvers/server';
import type { QueryLimits } from '../../src/resolvers/limits';
import type { Services } from '../../src/services';
import { bootstrap } from '../../src/services/api-keys';
import { SecretBox } from '../../src/services/crypto';
import { openDatabase } from '../../src/services/database';
import { InProcessEventBus } from '../../src/services/events';
import { FlowService } from '../../src/services/flows';
import { createTestDatabase } from './postgres';

export type ApiHarness = {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  services: Services;
  graphql: MountedGraphql;
  databaseUrl: string;
  /** The bootstrap ADMIN key of the first workspace. */
  adminKey: string;
  /** The SecretBox key, so a second harness on the same database can read this one's tokens. */
  secretKey: Buffer;
  /** Logged errors (the formatError logger), for asserting that internals were logged, not leaked. */
  loggedErrors: unknown[];
  close(): Promise<void>;
};

export type ApiHarnessOptions = {
  /** Share a database with another harness (it is then not dropped by this one). */
  databaseUrl?: string;
  publicUrl?: string;
  secretKey?: Buffer;
  limits?: Partial<QueryLimits>;
};

export async function startApiHarness(opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const ownDb = opts.databaseUrl ? undefined : await createTestDatabase();
  const databaseUrl = opts.databaseUrl ?? ownDb!.url;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hookflow-api-'));
  const db = await openDatabase({ databaseUrl, dataDir });
  const secretKey = opts.secretKey ?? randomBytes(32);
  const box = new SecretBox(secretKey);
  const publicUrl = opts.publicUrl ?? 'http://hooks.test';
  const registry = await PluginRegistry.load({ packages: BUILTIN_PLUGINS.map((name) => ({ name })) });
  const events = new InProcessEventBus();
  const services: Services = {
    db,
    box,
    publicUrl,
    events,
    registry,
    flows: new FlowService({ catalog: registry, box, publicUrl, events }),
  };
  const boot = await bootstrap(db.em(), `hf_admin_${randomBytes(16).toString('hex')}`);

  const loggedErrors: unknown[] = [];
  const base = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const log = {
    info: base.info.bind(base),
    warn: base.warn.bind(base),
    error: (obj: unknown, msg?: string) => {
      loggedErrors.push(obj);
      base.error(obj, msg);
    },
  };

  const app = express();
  const server = http.createServer(app);
  const graphql = await mountGraphql({ app, httpServer: server, services, log, limits: opts.limits });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  let closing: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    services,
    graphql,
    databaseUrl,
    // undefined when the shared database was bootstrapped by another harness: use createWorkspace then.
    adminKey: boot?.key ?? '',
    secretKey,
    loggedErrors,
    close: () => (closing ??= close()),
  };

  async function close() {
    // GraphQL first: it closes the WebSocket connections that would keep server.close() waiting.
    await graphql.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await services.events.close();
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
    await ownDb?.drop();
  }
}

export type GqlResponse<T = any> = {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
};

/** One GraphQL request over HTTP; `key` undefined sends no Authorization header. */
export async function gql<T = any>(
  h: Pick<ApiHarness, 'url'>,
  key: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResponse<T>> {
  const res = await fetch(h.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GqlResponse<T>, 'status'>;
  return { status: res.status, ...body };
}

/** Like gql, but throws on any GraphQL error. */
export async function gqlOk<T = any>(
  h: Pick<ApiHarness, 'url'>,
  key: string,
  query: string,
  variables = {},
): Promise<T> {
  const r = await gql<T>(h, key, query, variables);
  if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
  return r.data as T;
}

/** The code of the first error, for short assertions. */
export function errorCode(r: { errors?: { extensions?: Record<string, any> }[] }): string | undefined {
  return r.errors?.[0]?.extensions?.code;
}

/** A graphql-ws client (Node's global WebSocket) that does not retry. */
export function wsClient(
  h: Pick<ApiHarness, 'wsUrl'>,
  connectionParams: Record<string, unknown> | undefined,
): WsClient {
  return createClient({
    url: h.wsUrl,
    connectionParams,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
  });
}

export type Collected<T> = {
  results: { data?: T | null; errors?: readonly any[] }[];
  error?: unknown;
  completed: boolean;
  /** Resolves once the operation completed or failed. */
  done: Promise<void>;
  dispose(): void;
};

/** Starts one operation on a graphql-ws client and collects what it emits. */
export function collect<T = any>(
  client: WsClient,
  query: string,
  variables: Record<string, unknown> = {},
): Collected<T> {
  let finish!: () => void;
  const out: Collected<T> = {
    results: [],
    completed: false,
    done: new Promise<void>((r) => (finish = r)),
    dispose: () => undefined,
  };
  out.dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => void out.results.push(v as Collected<T>['results'][number]),
      error: (e) => {
        out.error = e;
        finish();
      },
      complete: () => {
        out.completed = true;
        finish();
      },
    },
  );
  return out;
}

/** Polls until check returns a value other than undefined (a throw counts as "not yet"), or fails after timeoutMs. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
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
    await new Promise((r) => setTimeout(r, 20));
  }
}
