import { setTimeout as sleep } from 'node:timers/promises';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundle,
} from '@temporalio/worker';
import type { FlowActivities } from '../workflows/types';

export type WorkerOptions = {
  address: string;
  namespace: string;
  taskQueue: string;
  activities: FlowActivities;
  log: { info(msg: string): void; warn(msg: string): void };
};

let bundle: Promise<WorkflowBundle> | undefined;
let runtimeLog: WorkerOptions['log'] | undefined;

/** The SDK's runtime is process-wide and installed once; it forwards warnings and errors to our log. */
function installRuntime(log: WorkerOptions['log']) {
  if (!runtimeLog) {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry) =>
        runtimeLog?.warn(
          `temporal: ${entry.message}${entry.meta?.error ? `: ${String(entry.meta.error)}` : ''}`,
        ),
      ),
    });
  }
  runtimeLog = log;
}

/** The workflow code is bundled once per process and shared by every worker. */
function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: quietBundlerLogger,
  });
  return bundle;
}

const noop = () => undefined;
const quietBundlerLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: console.error,
  log: noop,
};

/**
 * Runs a worker until stop() is called. While Temporal is unreachable it keeps trying to connect, so a
 * worker started before the server (or across a server restart) picks up work once the server is back.
 */
export class FlowWorker {
  private worker?: Worker;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly opts: WorkerOptions) {}

  start(): void {
    installRuntime(this.opts.log);
    this.loop = this.runForever();
  }

  private async runForever(): Promise<void> {
    let announcedWaiting = false;
    while (!this.stopped) {
      let connection: NativeConnection | undefined;
      try {
        connection = await NativeConnection.connect({ address: this.opts.address });
        if (this.stopped) break;
        this.worker = await Worker.create({
          connection,
          namespace: this.opts.namespace,
          taskQueue: this.opts.taskQueue,
          workflowBundle: await workflowBundle(),
          activities: this.opts.activities,
        });
        if (this.stopped) {
          // stop() came while the worker was being created: run it only to shut it down cleanly.
          const running = this.worker.run();
          this.worker.shutdown();
          await running;
          break;
        }
        this.opts.log.info(`worker polling task queue "${this.opts.taskQueue}" at ${this.opts.address}`);
        announcedWaiting = false;
        await this.worker.run();
      } catch (err) {
        if (!announcedWaiting && !this.stopped) {
          this.opts.log.warn(
            `Temporal at ${this.opts.address} unavailable (${(err as Error).message}); retrying`,
          );
          announcedWaiting = true;
        }
      } finally {
        this.worker = undefined;
        await connection?.close().catch(() => undefined);
      }
      if (!this.stopped) await sleep(1000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.worker && this.worker.getState() === 'RUNNING') this.worker.shutdown();
    await this.loop;
  }
}
