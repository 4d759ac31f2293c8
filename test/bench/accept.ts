/**
 * Accepted webhooks per second at saturation: the load generator (its own process on core 1) keeps 50
 * keep-alive connections busy with the 678-byte seed order against a server process on core 0, first for a
 * short warm-up, then for the measured window.
 */
import { freePort } from '../../src/temporal/dev-server';
import type { PhaseContext } from './context';
import { createOrderFlow, startHookflow } from './hookflow';
import type { LoadOptions, LoadResult } from './loadgen';
import { createBenchDatabase } from './postgres';
import {
  benchScript,
  cpuTimeMs,
  peakRssMiB,
  pinProcess,
  runScript,
  spawnNode,
  TASKSET,
  waitForHttp,
} from './processes';
import { seedOrderBody } from './seed-order';
import { Sink } from './sink';
import { round } from './stats';
import { startDevServer } from './temporal';

const CONNECTIONS = 50;
const WARMUP_MS = 2_000;
const MEASURE_MS = 10_000;
const SERVER_CORE = 0;
const LOAD_CORE = 1;

type AcceptFigures = {
  perSecond?: number;
  p50Ms?: number;
  p99Ms?: number;
  non2xx: number;
  requests: number;
  /** CPU time the server process used in the window, per accepted request. */
  serverCpuMsPerAccept?: number;
  /** Share of one core the server process used in the window: near 1 means the server was the bottleneck. */
  serverCoreBusy?: number;
  durationMs: number;
  connections: number;
  bodyBytes: number;
  setup: string[];
};

/** One run of the load generator in its own process, on the other core. */
function load(url: string, durationMs: number): Promise<LoadResult> {
  const opts: LoadOptions = { url, connections: CONNECTIONS, durationMs, body: seedOrderBody() };
  return runScript<LoadResult>('loadgen', [JSON.stringify(opts)], { core: LOAD_CORE });
}

async function measureAccept(url: string, serverPid: number, setup: string[]): Promise<AcceptFigures> {
  await load(url, WARMUP_MS);
  const cpuBefore = cpuTimeMs(serverPid);
  const result = await load(url, MEASURE_MS);
  const cpuMs = cpuTimeMs(serverPid) - cpuBefore;
  return {
    perSecond: result.perSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    non2xx: result.non2xx,
    requests: result.requests,
    serverCpuMsPerAccept: result.ok > 0 ? round(cpuMs / result.ok, 3) : undefined,
    serverCoreBusy: round(cpuMs / result.durationMs, 2),
    durationMs: result.durationMs,
    connections: CONNECTIONS,
    bodyBytes: Buffer.byteLength(seedOrderBody()),
    setup: [
      ...setup,
      `load generator: ${CONNECTIONS} keep-alive connections (undici Pool), own process${TASKSET ? ` on core ${LOAD_CORE}` : ''}; ` +
        `${WARMUP_MS / 1000} s warm-up, then ${MEASURE_MS / 1000} s measured`,
    ],
  };
}

const onServerCore = (what: string) =>
  `${what}${TASKSET ? ` on core ${SERVER_CORE}` : ' (taskset not available: not pinned)'}`;

/** A bare node:http server: what accepting a webhook costs with no framework, validation or database. */
export async function acceptCeiling({ scope, signal, out }: PhaseContext): Promise<void> {
  const port = await freePort();
  const server = scope.defer(
    'ceiling server',
    spawnNode('ceiling-server', benchScript('ceiling-server'), [String(port)], { core: SERVER_CORE }),
    (c) => c.stop(),
  );
  await waitForHttp(`http://127.0.0.1:${port}/`, { timeoutMs: 10_000, child: server, signal });
  const figures = await measureAccept(`http://127.0.0.1:${port}/api/webhook/ceiling`, server.pid, [
    onServerCore('bare node:http server (read body, JSON.parse, 202 with a small JSON body)'),
  ]);
  out.accept = { ceilingNodeHttpPerSecond: figures.perSecond, ceilingNodeHttp: figures };
}

/** The embedded all-in-one process (PGlite, its own dev server, worker): every accepted delivery starts a run. */
export async function acceptPglite({ scope, signal, out, log }: PhaseContext): Promise<void> {
  const sink = scope.defer('sink', await Sink.start(), (s) => s.close());
  const app = await startHookflow(scope, 'all-in-one', { core: SERVER_CORE, signal }, log);
  const url = await createOrderFlow(app.url, {
    name: 'accept pglite',
    sinkUrl: sink.url,
    stepPaths: ['/accept/s1'],
  });
  const figures = await measureAccept(url, app.child.pid, [
    onServerCore(
      'embedded all-in-one process (api, ingress, worker, PGlite) and its Temporal dev server child',
    ),
    'flow: 1 http.request step posting to a sink in the benchmark process (unpinned)',
  ]);
  out.accept = { pglite: figures };
  out.rssMiB = { acceptPglite: peakRssMiB(app.child.pid) };
}

/**
 * The ingress role alone on PostgreSQL. An api process creates the flow; no worker runs, so the relay and the
 * dispatcher only start workflows, against a dev server started here. Both share core 1 with the load generator,
 * so that core 0 is the ingress process's alone (PostgreSQL itself is not pinned).
 */
export async function acceptPostgres({ scope, signal, out, log }: PhaseContext): Promise<void> {
  const temporal = await startDevServer(scope, log);
  const devServerPinned = temporal.pid !== undefined && pinProcess(temporal.pid, LOAD_CORE);
  const db = await createBenchDatabase(scope);
  const endpoint = { address: temporal.address, namespace: 'default' };
  const api = await startHookflow(
    scope,
    'api',
    { roles: 'api', databaseUrl: db.url, core: LOAD_CORE, signal },
    log,
  );
  const ingress = await startHookflow(
    scope,
    'ingress',
    { roles: 'ingress', databaseUrl: db.url, temporal: endpoint, core: SERVER_CORE, signal },
    log,
  );
  const url = await createOrderFlow(api.url, {
    name: 'accept postgres',
    sinkUrl: 'http://127.0.0.1:9',
    stepPaths: ['/accept/s1'],
    ingressUrl: ingress.url,
  });
  const figures = await measureAccept(url, ingress.child.pid, [
    onServerCore('HOOKFLOW_ROLES=ingress process on PostgreSQL (local server, not pinned)'),
    `HOOKFLOW_ROLES=api process${TASKSET ? ` on core ${LOAD_CORE}` : ''} (created the flow; idle during the measurement)`,
    `Temporal dev server (SQLite file, app pragmas)${devServerPinned ? ` on core ${LOAD_CORE}` : ' (not pinned)'}: receives the workflow starts; no worker runs`,
  ]);
  out.accept = { postgres: figures };
  out.cpuMsPerAccept = figures.serverCpuMsPerAccept;
}
