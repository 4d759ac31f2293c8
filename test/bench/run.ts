/**
 * `npm run bench`: one bounded run on loopback that measures accept throughput, runs per second against a
 * bare-Temporal probe, first-action latency, relay catch-up, memory, CPU and SQL statements per run; writes
 * bench/results/<UTC timestamp>.json and prints a table.
 *
 *   BENCH_ONLY=accept,runs,firstAction,relay,statements   a subset (default: all; `probe` alone also works)
 *   BENCH_ENGINE=cluster   runs, first action, run cost and the probe on Temporal's own server on PostgreSQL
 *                          (figures under `cluster`) instead of the dev server
 *
 * Each phase has a hard time limit (a phase past it is recorded as `timedOut: true`) and the whole run stays
 * within BUDGET_MS; whatever a phase started is stopped and dropped when it ends, fails or times out.
 */
import 'reflect-metadata';
import { acceptCeiling, acceptPglite, acceptPostgres } from './accept';
import { getAt, mergeInto, setAt, type Engine, type PhaseContext, type Results } from './context';
import { measureTemporalCeiling } from './probe';
import { measureRelay } from './relay';
import { formatTable, machineInfo, writeReport } from './report';
import { measureRuns } from './runs';
import { Scope } from './scope';
import { measureRunCost } from './statements';
import { startCluster, startDevServer, type EngineKind, type TemporalEndpoint } from './temporal';

const BUDGET_MS = 13 * 60_000;
const SELECTABLE = ['accept', 'runs', 'firstAction', 'relay', 'statements', 'probe'];

type Phase = {
  name: string;
  /** Figures it writes (dotted paths); those still missing when it stops early are marked. */
  outputs: string[];
  /** Measured on the engine under test: with BENCH_ENGINE=cluster its figures go under `cluster`. */
  onEngine: boolean;
  timeoutMs: number;
  run(ctx: PhaseContext): Promise<void>;
};

function phasesFor(only: Set<string>): Phase[] {
  const runs = only.has('runs');
  const firstAction = only.has('firstAction');
  const all: (Phase | false)[] = [
    only.has('accept') && {
      name: 'accept: bare node:http ceiling',
      outputs: ['accept.ceilingNodeHttpPerSecond', 'accept.ceilingNodeHttp'],
      onEngine: false,
      timeoutMs: 60_000,
      run: acceptCeiling,
    },
    only.has('accept') && {
      name: 'accept: PostgreSQL ingress role',
      outputs: ['accept.postgres', 'cpuMsPerAccept'],
      onEngine: false,
      timeoutMs: 120_000,
      run: acceptPostgres,
    },
    only.has('accept') && {
      name: 'accept: embedded all-in-one',
      outputs: ['accept.pglite'],
      onEngine: false,
      timeoutMs: 120_000,
      run: acceptPglite,
    },
    (runs || firstAction) && {
      name: [runs && 'runs', firstAction && 'first action'].filter(Boolean).join(' + '),
      outputs: [
        ...(runs ? ['runs.oneStep', 'runs.threeSteps'] : []),
        ...(firstAction ? ['firstAction'] : []),
      ],
      onEngine: true,
      timeoutMs: 420_000,
      run: (ctx) => measureRuns(ctx, { runs, firstAction }),
    },
    // Right after the runs, on a machine where nothing else runs any more.
    (runs || only.has('probe')) && {
      name: 'bare-Temporal probe',
      outputs: ['probe'],
      onEngine: true,
      timeoutMs: 180_000,
      run: measureTemporalCeiling,
    },
    only.has('relay') && {
      name: 'relay catch-up',
      outputs: ['relay.startsPerSecond'],
      onEngine: false,
      timeoutMs: 180_000,
      run: measureRelay,
    },
    only.has('statements') && {
      name: 'CPU and SQL statements per run',
      outputs: ['cpuMsPerRun', 'statementsPerRun'],
      onEngine: true,
      timeoutMs: 240_000,
      run: measureRunCost,
    },
  ];
  return all.filter((p): p is Phase => p !== false);
}

function selection(): Set<string> {
  const names = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !SELECTABLE.includes(n));
  if (unknown.length)
    throw new Error(`BENCH_ONLY: unknown ${unknown.join(', ')} (choose from ${SELECTABLE.join(', ')})`);
  return new Set(names.length ? names : SELECTABLE);
}

function engineKind(): EngineKind {
  const kind = process.env.BENCH_ENGINE ?? 'dev-server';
  if (kind !== 'dev-server' && kind !== 'cluster')
    throw new Error('BENCH_ENGINE must be dev-server or cluster');
  return kind;
}

const startedAt = Date.now();
const log = (msg: string) =>
  console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const runScope = new Scope(log);
let phaseScope: Scope | undefined;

/** Dev servers are started per measurement; the cluster once per run, on first use. */
function engineFor(kind: EngineKind): Engine {
  let cluster: Promise<TemporalEndpoint> | undefined;
  return {
    kind,
    async temporal(scope) {
      if (kind === 'cluster') return (cluster ??= startCluster(runScope, log));
      const server = await startDevServer(scope, log);
      return { address: server.address, namespace: 'default' };
    },
  };
}

/** Runs one phase within its time limit and merges its figures into `target`; returns once it is cleaned up. */
async function runPhase(phase: Phase, target: Results, engine: Engine, timeoutMs: number, report: Results) {
  const scope = (phaseScope = new Scope(log));
  const abort = new AbortController();
  const out: Results = {};
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
  );
  const running = phase.run({ scope, signal: abort.signal, log, out, engine });
  running.catch(() => undefined); // after a timeout its rejection (children killed under it) is expected
  const finish = (problem?: object) => {
    mergeInto(target, structuredClone(out)); // a copy: what the phase writes after this is ignored
    if (problem)
      for (const output of phase.outputs)
        if (getAt(target, output) === undefined) setAt(target, output, problem);
  };
  log(`${phase.name}: started (limit ${Math.round(timeoutMs / 1000)} s)`);
  try {
    if ((await Promise.race([running.then(() => 'done' as const), timedOut])) === 'timeout') {
      log(`${phase.name}: TIMED OUT after ${Math.round(timeoutMs / 1000)} s`);
      finish({ timedOut: true });
    } else {
      log(`${phase.name}: done`);
      finish();
    }
  } catch (err) {
    const message = (err as Error).message;
    log(`${phase.name}: FAILED: ${(err as Error).stack ?? message}`);
    finish({ error: message.split('\n')[0] });
    (report.errors ??= []).push({ phase: phase.name, error: message });
  } finally {
    clearTimeout(timer);
    abort.abort();
    await scope.close();
    phaseScope = undefined;
  }
}

/** Figures that combine two measurements. */
function derive(report: Results): void {
  for (const target of [report, report.cluster]) {
    for (const [runs, probe] of [
      [target?.runs?.oneStep, target?.probe?.oneActivity],
      [target?.runs?.threeSteps, target?.probe?.threeActivities],
    ]) {
      if (!runs?.perSecond || !probe?.perSecond) continue;
      runs.temporalCeilingPerSecond = probe.perSecond;
      runs.ratio = Math.round((runs.perSecond / probe.perSecond) * 100) / 100;
    }
  }
  const peaks = Object.values(report.rssMiB).filter((v): v is number => typeof v === 'number');
  if (peaks.length) report.rssMiB.allInOne = Math.max(...peaks);
}

async function main() {
  const only = selection();
  const kind = engineKind();
  const report: Results = { machine: machineInfo(kind), accept: {}, runs: {}, relay: {}, rssMiB: {} };
  const engine = engineFor(kind);
  if (kind === 'cluster')
    report.cluster = { engine: 'Temporal server (not the CLI dev server) on the local PostgreSQL', runs: {} };
  const phases = phasesFor(only);
  log(`${phases.length} phases (${[...only].join(', ')}; engine ${kind}); budget ${BUDGET_MS / 60_000} min`);
  for (const phase of phases) {
    const left = startedAt + BUDGET_MS - Date.now();
    const target = phase.onEngine && report.cluster ? report.cluster : report;
    if (left < 15_000) {
      for (const output of phase.outputs) setAt(target, output, { skipped: 'time budget used up' });
      continue;
    }
    await runPhase(phase, target, engine, Math.min(phase.timeoutMs, left), report);
  }
  await runScope.close();
  derive(report);
  report.elapsedSeconds = Math.round((Date.now() - startedAt) / 1000);
  const file = writeReport(report);
  console.log(`\n${formatTable(report)}\n\nwritten to ${file}`);
}

// A late failure inside a phase that already timed out must not end the whole run.
process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.message ?? err}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`);
    void Promise.all([phaseScope?.close(), runScope.close()]).finally(() => process.exit(130));
  });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(err);
    await Promise.all([phaseScope?.close(), runScope.close()]);
    process.exit(1);
  },
);
