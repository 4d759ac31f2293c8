/**
 * The engine's ceiling on this machine: one worker in this process runs workflows that call N no-op activities
 * in sequence, 50 workflows in flight, against the same kind of Temporal server the runs were measured on
 * (run.ts divides the runs figures by it: a ratio near 1 means Hookflow adds little on top of the engine).
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { PhaseContext } from './context';
import type { probeWorkflow, ProbeActivities } from './probe-workflows';
import { perSecond } from './stats';
import type { TemporalEndpoint } from './temporal';

const WORKFLOWS = 500;
const IN_FLIGHT = 50;
const WARMUP = 20;
const BURST_TIMEOUT_MS = 120_000;

const silent = () => undefined;
const bundlerLog = {
  trace: silent,
  debug: silent,
  info: silent,
  warn: silent,
  error: console.error,
  log: silent,
};

export async function measureTemporalCeiling(ctx: PhaseContext): Promise<void> {
  const { scope, out, engine } = ctx;
  const endpoint = await engine.temporal(scope);
  const taskQueue = `bench-probe-${randomBytes(3).toString('hex')}`;
  const activities: ProbeActivities = { noop: async () => undefined };
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./probe-workflows'),
    logger: bundlerLog,
  });
  quietRuntime();
  const workerConnection = await NativeConnection.connect({ address: endpoint.address });
  scope.defer('probe worker connection', workerConnection, (c) => c.close());
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: endpoint.namespace,
    taskQueue,
    workflowBundle,
    activities,
  });
  const running = worker.run();
  // Registered after the connection, so it runs first: the worker must be down before its connection closes.
  scope.defer('probe worker', worker, async (w) => {
    if (w.getState() === 'RUNNING') w.shutdown();
    await running;
  });
  const client = await connectClient(ctx, endpoint);

  const stopped = running.then(() => Promise.reject(new Error('the probe worker stopped early')));
  const { oneActivity, threeActivities } = await Promise.race([measure(ctx, client, taskQueue), stopped]);
  out.probe = {
    oneActivity,
    threeActivities,
    inFlight: IN_FLIGHT,
    worker: 'one @temporalio/worker Worker in the benchmark process, default options',
  };
}

async function measure(ctx: PhaseContext, client: Client, taskQueue: string) {
  const run = (activityCount: number, count: number, tag: string) =>
    burst(ctx, client, { activityCount, count, taskQueue, tag });
  await run(1, WARMUP, 'warm');
  const oneActivity = await run(1, WORKFLOWS, 'one');
  ctx.log(`probe, 1 activity: ${oneActivity.count} workflows, ${oneActivity.perSecond}/s`);
  const threeActivities = await run(3, WORKFLOWS, 'three');
  ctx.log(`probe, 3 activities: ${threeActivities.count} workflows, ${threeActivities.perSecond}/s`);
  return { oneActivity, threeActivities };
}

/**
 * Without this the SDK's default runtime logs every worker state change. The runtime is process-wide: if a
 * worker of the app already installed it, that one is used. It shuts itself down once its last worker and
 * connection are closed, so the app can install its own afterwards.
 */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed
  }
}

async function connectClient({ scope }: PhaseContext, endpoint: TemporalEndpoint): Promise<Client> {
  const connection = await Connection.connect({ address: endpoint.address });
  scope.defer('probe client connection', connection, (c) => c.close());
  return new Client({ connection, namespace: endpoint.namespace });
}

/** Executes `count` workflows with IN_FLIGHT at a time; perSecond = completed / (last completion − first start). */
async function burst(
  { signal }: PhaseContext,
  client: Client,
  opts: { activityCount: number; count: number; taskQueue: string; tag: string },
) {
  const prefix = `probe-${opts.tag}-${randomBytes(3).toString('hex')}`;
  const deadline = performance.now() + BURST_TIMEOUT_MS;
  const completedAt: number[] = [];
  let next = 0;
  const startedAt = performance.now();
  const lane = async () => {
    while (next < opts.count && performance.now() < deadline && !signal.aborted) {
      const id = `${prefix}-${next++}`;
      await client.workflow.execute<typeof probeWorkflow>('probeWorkflow', {
        taskQueue: opts.taskQueue,
        workflowId: id,
        args: [opts.activityCount],
      });
      completedAt.push(performance.now());
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return {
    perSecond: perSecond(completedAt.length, Math.max(...completedAt) - startedAt),
    count: completedAt.length,
    activities: opts.activityCount,
    ...(completedAt.length < opts.count && { timedOut: true }),
  };
}
