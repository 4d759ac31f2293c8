/**
 * What one run costs the worker: CPU time and SQL statements. On PostgreSQL, an api+ingress process accepts a
 * burst while no worker runs, so the workflows wait in Temporal; then the worker role starts in this process and
 * runs them all. Its process.cpuUsage() and its database's statement counter are read once it is up and again
 * when every run has finished in the database. A warm-up worker (same process, stopped before the burst) has
 * already paid for loading modules and warming the JIT, so that is not counted.
 *
 * This process also hosts the sink the steps post to (cheap) and polls the database through its own connection,
 * which the statement counter does not see.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { PhaseContext } from './context';
import { createOrderFlow, SECRET_KEY, startHookflow, uniqueTaskQueue } from './hookflow';
import { runLoad } from './loadgen';
import { createBenchDatabase } from './postgres';
import { seedOrder } from './seed-order';
import { Sink } from './sink';
import { round } from './stats';
import type { TemporalEndpoint } from './temporal';
import { pollUntil } from './wait';

const RUNS = 500;
const WARMUP_RUNS = 20;
const TIMEOUT_MS = 150_000;

export async function measureRunCost(ctx: PhaseContext): Promise<void> {
  const { scope, signal, out, log, engine } = ctx;
  const sink = scope.defer('sink', await Sink.start(), (s) => s.close());
  const temporal = await engine.temporal(scope);
  const db = await createBenchDatabase(scope);
  const taskQueue = uniqueTaskQueue('statements');
  const front = await startHookflow(
    scope,
    'api+ingress',
    { roles: 'api,ingress', databaseUrl: db.url, temporal, taskQueue, signal },
    log,
  );
  const url = await createOrderFlow(front.url, {
    name: 'run cost',
    sinkUrl: sink.url,
    stepPaths: ['/cost/s1'],
  });
  const send = (tag: string, count: number) =>
    runLoad({ url, connections: 50, count, body: (i) => JSON.stringify(seedOrder(`${tag}-${i}`)), signal });
  const finishedRuns = () => db.count(`select count(*) from run where status <> 'RUNNING'`);
  const startWorker = () => {
    const app = startInProcessWorker(db.url, temporal, taskQueue);
    scope.defer('in-process worker', app, async (a) => (await a).stop());
    return app;
  };

  const warmup = await startWorker();
  await send('warm', WARMUP_RUNS);
  const warm = await pollUntil(async () => (await finishedRuns()) >= WARMUP_RUNS, {
    timeoutMs: 60_000,
    intervalMs: 200,
    signal,
  });
  if (!warm) throw new Error('the warm-up runs did not complete within 60 s');
  await warmup.stop();

  const burst = await send('cost', RUNS);
  const queued = await pollUntil(
    async () => (await db.count(`select count(*) from delivery where dispatch_state = 'PENDING'`)) === 0,
    { timeoutMs: 60_000, intervalMs: 200, signal },
  );
  if (!queued) throw new Error('the burst was not handed to Temporal within 60 s');

  const worker = await startWorker();
  const cpuBefore = process.cpuUsage();
  const statementsBefore = worker.services.db.statementCount();
  const done = await pollUntil(async () => (await finishedRuns()) >= WARMUP_RUNS + burst.ok, {
    timeoutMs: TIMEOUT_MS,
    intervalMs: 100,
    signal,
  });
  const cpu = process.cpuUsage(cpuBefore);
  const statements = worker.services.db.statementCount() - statementsBefore;
  const runs = (await finishedRuns()) - WARMUP_RUNS;
  const failed = await db.count(`select count(*) from run where status = 'FAILED'`);
  await worker.stop();

  out.cpuMsPerRun = runs > 0 ? round((cpu.user + cpu.system) / 1000 / runs, 2) : undefined;
  out.statementsPerRun = runs > 0 ? round(statements / runs, 2) : undefined;
  out.runCost = {
    runs,
    non2xx: burst.non2xx,
    failedRuns: failed,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    statements,
    setup: [
      'PostgreSQL (local server); one HOOKFLOW_ROLES=api,ingress process (no worker) accepted the burst',
      'then HOOKFLOW_ROLES=worker started in the benchmark process (startApp) and ran the queued runs',
    ],
    ...(!done && { timedOut: true }),
  };
}

function startInProcessWorker(
  databaseUrl: string,
  temporal: TemporalEndpoint,
  taskQueue: string,
): Promise<App> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-worker-'));
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    HOOKFLOW_ROLES: 'worker',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    HOOKFLOW_SECRET_KEY: SECRET_KEY,
    HOOKFLOW_EGRESS_ALLOW: '127.0.0.1',
    LOG_LEVEL: 'error',
  });
  return startApp(config, pino({ level: 'error' })).then((app) => ({
    ...app,
    stop: () => app.stop().finally(() => rmSync(dataDir, { recursive: true, force: true })),
  }));
}
