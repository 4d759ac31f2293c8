/**
 * Runs completed per second, and the latency of a flow's first action.
 *
 * Default engine: the embedded all-in-one process (PGlite, its own dev server) as users start it. With
 * BENCH_ENGINE=cluster: PostgreSQL, one ingress+api process and two worker processes on the Temporal cluster.
 * Every step POSTs to the sink with the order id in its path; a run counts as completed when its last step
 * reached the sink.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PhaseContext } from './context';
import { createOrderFlow, startHookflow, uniqueTaskQueue } from './hookflow';
import { runLoad } from './loadgen';
import { createBenchDatabase } from './postgres';
import { peakRssMiB } from './processes';
import { seedOrder } from './seed-order';
import { Sink } from './sink';
import { latencySummary, perSecond } from './stats';

const BURST = 500;
const IN_FLIGHT = 50;
const WARMUP_RUNS = 10;
const COMPLETION_TIMEOUT_MS = 120_000;
const FIRST_ACTION = { ratePerSecond: 10, durationS: 30, graceMs: 30_000 };

type Parts = { runs: boolean; firstAction: boolean };

export async function measureRuns(ctx: PhaseContext, parts: Parts): Promise<void> {
  const { scope, out } = ctx;
  const sink = scope.defer('sink', await Sink.start(), (s) => s.close());
  const app = await startTopology(ctx);
  const flow = (name: string, stepPaths: string[]) =>
    createOrderFlow(app.apiUrl, { name, sinkUrl: sink.url, stepPaths, ingressUrl: app.ingressUrl });
  const oneStep = await flow('runs: 1 step', ['/one/s1']);
  const threeSteps = await flow('runs: 3 steps', ['/three/s1', '/three/s2', '/three/s3']);
  out.runs = {
    setup: [...app.setup, 'the benchmark process sends the webhooks and hosts the sink the steps post to'],
  };

  // Warm-up (not measured): the first runs pay for worker start-up, JIT and caches.
  for (const [url, lastStep, tag] of [
    [oneStep, '/one/s1/', 'warm1'],
    [threeSteps, '/three/s3/', 'warm3'],
  ] as const) {
    ctx.log(`warm-up ${tag}: ${JSON.stringify(await burst(ctx, sink, url, lastStep, tag, WARMUP_RUNS))}`);
  }

  if (parts.runs) {
    out.runs.oneStep = await burst(ctx, sink, oneStep, '/one/s1/', 'run1', BURST);
    ctx.log(`runs, 1 step: ${JSON.stringify(out.runs.oneStep)}`);
    out.runs.threeSteps = await burst(ctx, sink, threeSteps, '/three/s3/', 'run3', BURST);
    ctx.log(`runs, 3 steps: ${JSON.stringify(out.runs.threeSteps)}`);
  }
  if (parts.firstAction) {
    // Runs a timed-out burst left behind still compete with the trickle: say so rather than hide it.
    const unfinished = [out.runs.oneStep, out.runs.threeSteps].reduce(
      (sum, b) => sum + (b ? b.sent - b.non2xx - b.count : 0),
      0,
    );
    out.firstAction = {
      ...(await firstAction(ctx, sink, oneStep, '/one/s1/')),
      ...(unfinished > 0 && { unfinishedRunsAtStart: unfinished }),
    };
    ctx.log(`first action: ${JSON.stringify(out.firstAction)}`);
  }
  if (app.allInOnePid !== undefined) out.rssMiB = { runs: peakRssMiB(app.allInOnePid) };
}

type Topology = { apiUrl: string; ingressUrl: string; allInOnePid?: number; setup: string[] };

async function startTopology({ scope, signal, log, engine }: PhaseContext): Promise<Topology> {
  if (engine.kind === 'dev-server') {
    const app = await startHookflow(scope, 'all-in-one', { signal }, log);
    return {
      apiUrl: app.url,
      ingressUrl: app.url,
      allInOnePid: app.child.pid,
      setup: [
        'embedded all-in-one process (PGlite, api, ingress, worker) with its own Temporal dev server; not pinned',
      ],
    };
  }
  const temporal = await engine.temporal(scope);
  const db = await createBenchDatabase(scope);
  const common = { databaseUrl: db.url, temporal, taskQueue: uniqueTaskQueue('runs'), signal };
  const front = await startHookflow(scope, 'ingress+api', { ...common, roles: 'api,ingress' }, log);
  await Promise.all(
    ['worker-1', 'worker-2'].map((name) => startHookflow(scope, name, { ...common, roles: 'worker' }, log)),
  );
  return {
    apiUrl: front.url,
    ingressUrl: front.url,
    setup: [
      'PostgreSQL (local server); Temporal server on PostgreSQL',
      'one HOOKFLOW_ROLES=api,ingress process and two HOOKFLOW_ROLES=worker processes; not pinned',
    ],
  };
}

/**
 * Sends `count` webhooks as fast as they are accepted (IN_FLIGHT at a time) and waits until every run's last
 * step reached the sink. perSecond = runs completed / (last completion − first send).
 */
async function burst(
  { signal }: PhaseContext,
  sink: Sink,
  webhookUrl: string,
  lastStepPrefix: string,
  tag: string,
  count: number,
) {
  const sent = await runLoad({
    url: webhookUrl,
    connections: IN_FLIGHT,
    count,
    body: (i) => JSON.stringify(seedOrder(`${tag}-${i}`)),
    signal,
  });
  const accepted = count - sent.non2xx;
  const complete = await sink.waitFor(`${lastStepPrefix}${tag}-`, accepted, {
    timeoutMs: COMPLETION_TIMEOUT_MS,
    signal,
  });
  const completions = [...sink.received(`${lastStepPrefix}${tag}-`).values()];
  const lastCompletion = Math.max(...completions);
  return {
    perSecond: perSecond(completions.length, lastCompletion - sent.startedAt),
    count: completions.length,
    sent: count,
    non2xx: sent.non2xx,
    ...(sent.non2xx > 0 && { statuses: sent.statuses, transportErrors: sent.errors }),
    acceptedInMs: sent.durationMs,
    ...(!complete && { timedOut: true }),
  };
}

/**
 * A steady trickle (10 webhooks/s for 30 s) to the 1-step flow; latency = the sink receiving the step's request
 * − the webhook being sent, both on this process's clock.
 */
async function firstAction({ signal }: PhaseContext, sink: Sink, webhookUrl: string, stepPrefix: string) {
  const total = FIRST_ACTION.ratePerSecond * FIRST_ACTION.durationS;
  const sentAt = new Map<string, number>();
  const answers: Promise<boolean>[] = [];
  const start = performance.now();
  for (let i = 0; i < total && !signal.aborted; i++) {
    await sleep(Math.max(0, start + (i * 1000) / FIRST_ACTION.ratePerSecond - performance.now()));
    const orderId = `fa-${i}`;
    sentAt.set(orderId, performance.now());
    answers.push(
      fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(seedOrder(orderId)),
      }).then(
        async (res) => (await res.arrayBuffer(), res.ok),
        () => false,
      ),
    );
  }
  const non2xx = (await Promise.all(answers)).filter((ok) => !ok).length;
  const complete = await sink.waitFor(`${stepPrefix}fa-`, sentAt.size - non2xx, {
    timeoutMs: FIRST_ACTION.graceMs,
    signal,
  });
  const latencies = [...sink.received(stepPrefix)]
    .filter(([orderId]) => sentAt.has(orderId))
    .map(([orderId, receivedAt]) => receivedAt - sentAt.get(orderId)!);
  const { p50Ms, p99Ms, maxMs } = latencySummary(latencies);
  return {
    ratePerSecond: FIRST_ACTION.ratePerSecond,
    p50Ms,
    p99Ms,
    maxMs,
    count: latencies.length,
    sent: sentAt.size,
    non2xx,
    ...(!complete && { timedOut: true }),
  };
}
