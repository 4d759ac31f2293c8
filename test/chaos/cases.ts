/**
 * The chaos cases. Each gets a fresh database on the suite's PostgreSQL, a sink, the whole deployment and a
 * 2-step flow created through the GraphQL API, sends its deliveries while something breaks, waits for the
 * backlog to drain and counts what arrived.
 *
 *   kills          SIGKILL an ingress 3 times and a worker 3 times (once while the sink holds its request),
 *                  restart Temporal once, stop PostgreSQL for 15 s
 *   temporal-down  Temporal stopped for 30 s: every webhook still answered 2xx, every run completes after
 *   postgres-down  PostgreSQL stopped for 15 s: ingress answers 503 with Retry-After promptly, never 2xx, and
 *                  accepts again by itself once it is back
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createOrderFlow } from '../bench/hookflow';
import type { Scope } from '../bench/scope';
import { Deployment } from './deployment';
import { drive, isOk, statuses, type Attempt, type Sent } from './driver';
import type { PgCluster } from './postgres-cluster';
import { ChaosSink } from './sink';
import { tally, waitForDrain, type Tally } from './tally';

export type CaseContext = {
  scope: Scope;
  signal: AbortSignal;
  log: (msg: string) => void;
  pg: PgCluster;
  /** Deliveries to send, and how many per second. */
  count: number;
  ratePerSecond: number;
};

const STEP_KEYS = ['step1', 'step2'];
const INGRESSES = ['ingress-1', 'ingress-2'];
const WORKERS = ['worker-1', 'worker-2'];
/** Before the first fault: the deployment has taken some load. */
const LEAD_MS = 2_000;
const PAUSE_BETWEEN_FAULTS_MS = 2_000;
const HOLD_MS = 15_000;
/** An answer while PostgreSQL is down must come at least this fast … */
const PROMPT_MS = 2_000;
/** … and accepting must resume within this time after it is back. */
const RECOVERY_MS = 30_000;
const STALL_MS = 120_000;

/** How long a case may wait for its backlog: generous for the engine's tens of runs per second here. */
export const drainTimeoutMs = (count: number) => 120_000 + count * STEP_KEYS.length * 100;

type Setup = { deployment: Deployment; sink: ChaosSink; databaseUrl: string; urls: string[] };

async function setUp(ctx: CaseContext, name: string): Promise<Setup> {
  const databaseUrl = await ctx.pg.createDatabase(`chaos_${name.replaceAll('-', '_')}`);
  const sink = ctx.scope.defer('sink', await ChaosSink.start(), (s) => s.close());
  const deployment = await Deployment.start(ctx.scope, ctx.log, databaseUrl);
  const webhook = await createOrderFlow(deployment.url('api'), {
    name: `chaos ${name}`,
    sinkUrl: sink.url,
    stepPaths: STEP_KEYS.map((step) => `/chaos/${step}`),
  });
  const urls = INGRESSES.map((ingress) => `${deployment.url(ingress)}${new URL(webhook).pathname}`);
  ctx.log(`deployment ready; sending ${ctx.count} deliveries at ${ctx.ratePerSecond}/s`);
  return { deployment, sink, databaseUrl, urls };
}

function send(ctx: CaseContext, setup: Setup, name: string): Promise<Sent[]> {
  return drive({
    urls: setup.urls,
    count: ctx.count,
    ratePerSecond: ctx.ratePerSecond,
    keyPrefix: `chaos-${name}`,
    signal: ctx.signal,
  });
}

/** Waits for the backlog, then counts; a process that died by itself fails the case too. */
async function settle(ctx: CaseContext, setup: Setup, sent: Sent[]): Promise<Tally> {
  ctx.log(`sending done: answers ${JSON.stringify(statuses(sent))}`);
  const drained = await waitForDrain(
    {
      databaseUrl: setup.databaseUrl,
      sink: setup.sink,
      acknowledged: sent.filter((s) => s.acknowledged).length,
      steps: STEP_KEYS.length,
      signal: ctx.signal,
    },
    { timeoutMs: drainTimeoutMs(ctx.count), stallMs: STALL_MS },
    ctx.log,
  );
  const result = await tally({ databaseUrl: setup.databaseUrl, sink: setup.sink, sent, stepKeys: STEP_KEYS });
  if (!drained) result.failures.push('the backlog did not drain in time');
  const exits = setup.deployment.unexpectedExits;
  result.lines.push(`unexpected exits ${exits.length}`);
  for (const exit of exits) result.failures.push(`a process exited by itself: ${exit}`);
  return result;
}

type Outage = { stoppedAt: number; startingAt: number; startedAt: number };

async function postgresOutage(ctx: CaseContext, downMs: number): Promise<Outage> {
  await ctx.pg.stop();
  const stoppedAt = Date.now();
  ctx.log(`PostgreSQL stopped for ${downMs / 1000} s`);
  await sleep(downMs);
  const startingAt = Date.now();
  await ctx.pg.start();
  ctx.log('PostgreSQL is back');
  return { stoppedAt, startingAt, startedAt: Date.now() };
}

/** Holds the next step request at the sink and kills the worker that sent it, while it waits for the answer. */
async function killWorkerMidRequest(ctx: CaseContext, setup: Setup, failures: string[]): Promise<void> {
  const clientPort = await setup.sink.holdNextRequest(HOLD_MS, 30_000);
  const owner =
    clientPort === undefined ? undefined : setup.deployment.ownerOfConnection(clientPort, WORKERS);
  if (!owner) failures.push('no worker was caught mid-request (no held request, or its sender not found)');
  ctx.log(`the sink holds a request from port ${clientPort}, sent by ${owner ?? 'no worker found'}`);
  await setup.deployment.killAndRestart(owner ?? WORKERS[0]!);
}

async function kills(ctx: CaseContext): Promise<Tally> {
  const setup = await setUp(ctx, 'kills');
  const { deployment } = setup;
  const failures: string[] = [];
  const sending = send(ctx, setup, 'kills');
  // Ingress faults first, while deliveries arrive; worker and engine faults then hit the backlog of runs.
  const faults: [string, () => Promise<unknown>][] = [
    ['kill ingress-1', () => deployment.killAndRestart('ingress-1')],
    ['kill ingress-2', () => deployment.killAndRestart('ingress-2')],
    ['kill ingress-1', () => deployment.killAndRestart('ingress-1')],
    ['stop PostgreSQL', () => postgresOutage(ctx, 15_000)],
    ['kill a worker mid-request', () => killWorkerMidRequest(ctx, setup, failures)],
    ['restart Temporal', () => deployment.temporalOutage(0)],
    ['kill worker-2', () => deployment.killAndRestart('worker-2')],
    ['kill worker-1', () => deployment.killAndRestart('worker-1')],
  ];
  await sleep(LEAD_MS);
  for (const [what, fault] of faults) {
    ctx.signal.throwIfAborted();
    ctx.log(`fault: ${what}`);
    await fault();
    await sleep(PAUSE_BETWEEN_FAULTS_MS);
  }
  const result = await settle(ctx, setup, await sending);
  result.failures.push(...failures);
  return result;
}

async function temporalDown(ctx: CaseContext): Promise<Tally> {
  const setup = await setUp(ctx, 'temporal-down');
  const sending = send(ctx, setup, 'temporal-down');
  await sleep(LEAD_MS);
  await setup.deployment.temporalOutage(30_000);
  const sent = await sending;
  const refused = sent.flatMap((s) => s.attempts).filter((a) => !isOk(a));
  const result = await settle(ctx, setup, sent);
  result.lines.push(`answers not 2xx ${refused.length}`);
  if (refused.length) result.failures.push(`not every webhook got a 2xx: ${JSON.stringify(statuses(sent))}`);
  return result;
}

async function postgresDown(ctx: CaseContext): Promise<Tally> {
  const setup = await setUp(ctx, 'postgres-down');
  const sending = send(ctx, setup, 'postgres-down');
  await sleep(LEAD_MS);
  const outage = await postgresOutage(ctx, 15_000);
  const sent = await sending;
  const attempts = sent.flatMap((s) => s.attempts);
  const whileDown = attempts.filter((a) => a.sentAt >= outage.stoppedAt && a.answeredAt <= outage.startingAt);
  const wrong = whileDown.filter((a) => a.status !== 503 || !a.retryAfter);
  const slowestMs = Math.max(0, ...whileDown.map((a) => a.answeredAt - a.sentAt));
  const firstAccept = Math.min(
    ...attempts.filter((a) => a.sentAt >= outage.startedAt && isOk(a)).map((a) => a.answeredAt),
  );
  const recoveryMs = firstAccept - outage.startedAt;

  const result = await settle(ctx, setup, sent);
  result.lines.push(
    `answers while down ${whileDown.length} (503 with Retry-After ${whileDown.length - wrong.length}, slowest ${slowestMs} ms)`,
    `first 2xx ${Number.isFinite(recoveryMs) ? `${(recoveryMs / 1000).toFixed(1)} s` : 'never'} after PostgreSQL was back`,
  );
  if (!whileDown.length) result.failures.push('no webhook was sent while PostgreSQL was down');
  if (wrong.length)
    result.failures.push(`answers while down other than 503 with Retry-After: ${summary(wrong)}`);
  if (slowestMs > PROMPT_MS)
    result.failures.push(`an answer while down took ${slowestMs} ms (> ${PROMPT_MS})`);
  if (!(recoveryMs <= RECOVERY_MS))
    result.failures.push(`ingress did not accept again within ${RECOVERY_MS} ms`);
  return result;
}

function summary(attempts: Attempt[]): string {
  const counts: Record<string, number> = {};
  for (const a of attempts) {
    const what = a.status ? `${a.status}${a.retryAfter ? '' : ' without Retry-After'}` : `error ${a.error}`;
    counts[what] = (counts[what] ?? 0) + 1;
  }
  return JSON.stringify(counts);
}

export const CASES: Record<string, (ctx: CaseContext) => Promise<Tally>> = {
  kills,
  'temporal-down': temporalDown,
  'postgres-down': postgresDown,
};
