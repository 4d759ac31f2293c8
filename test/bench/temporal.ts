/**
 * The Temporal servers the measurements run against: the CLI dev server with the embedded app's own settings
 * (SQLite file and pragmas), or, with BENCH_ENGINE=cluster, Temporal's own server on PostgreSQL shared by all
 * measurements of the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTemporalCli } from '../../src/temporal/cli';
import { EMBEDDED_SQLITE_PRAGMAS, TemporalDevServer } from '../../src/temporal/dev-server';
import { dropDatabase, PG_ADMIN_URL } from './postgres';
import type { Scope } from './scope';
import { startTemporalCluster } from './temporal-cluster';

export type TemporalEndpoint = { address: string; namespace: string };
export type EngineKind = 'dev-server' | 'cluster';
const NAMESPACE = 'default';

let cliPath: Promise<string> | undefined;
/** The CLI binary, found (or built) once per benchmark run and handed to every app process. */
export function temporalCli(log: (msg: string) => void): Promise<string> {
  cliPath ??= findTemporalCli({ cliPath: process.env.TEMPORAL_CLI_PATH, log });
  return cliPath;
}

/** A dev server as the embedded app starts it: its own SQLite file (in a temp dir) with the app's pragmas. */
export async function startDevServer(
  scope: Scope,
  log: (msg: string) => void,
  opts: { port?: number } = {},
): Promise<TemporalDevServer> {
  const dir = scope.defer(
    'dev server dir',
    mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-temporal-')),
    (d) => rmSync(d, { recursive: true, force: true }),
  );
  let errorsShown = 0;
  const server = new TemporalDevServer({
    cliPath: await temporalCli(log),
    dbFile: path.join(dir, 'temporal.db'),
    sqlitePragmas: EMBEDDED_SQLITE_PRAGMAS,
    port: opts.port,
    namespace: NAMESPACE,
    // An overloaded server logs an error per failed task: show the first few only.
    log: (level, msg) => level === 'error' && errorsShown++ < 5 && log(msg),
  });
  scope.defer('dev server', server, (s) => s.stop());
  await server.start();
  return server;
}

/** Temporal's own server on fresh PostgreSQL databases; the caller's scope stops it and drops them. */
export async function startCluster(scope: Scope, log: (msg: string) => void): Promise<TemporalEndpoint> {
  const prefix = `hookflow_bench_temporal_${randomBytes(4).toString('hex')}`;
  scope.defer('temporal cluster databases', prefix, async (p) => {
    await dropDatabase(p);
    await dropDatabase(`${p}_visibility`);
  });
  const cluster = await startTemporalCluster({ pgAdminUrl: PG_ADMIN_URL, databasePrefix: prefix, log });
  scope.defer('temporal cluster', cluster, (c) => c.stop());
  return { address: cluster.address, namespace: cluster.namespace };
}
