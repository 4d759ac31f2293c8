import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import type { FlowActivities, FlowActivitiesV1 } from '../workflows/types';

export type WorkerOptions = {
  address: string;
  namespace: string;
  taskQueue: string;
  activities: FlowActivities & FlowActivitiesV1;
  log: { info(msg: string): void; warn(msg: string): void };
};

let bundle: Promise<WorkflowBundleOption> | undefined;
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

/** Written by `npm run build` beside the compiled code; absent when running from the TypeScript sources. */
export const PREBUILT_BUNDLE = path.resolve(__dirname, '../../workflow-bundle.js');

/** The prebuilt workflow bundle, or (from TypeScript sources, as in tests) one bundled once per process. */
export function workflowBundle(): Promise<WorkflowBundleOption> {
  bundle ??=
    __filename.endsWith('.js') && existsSync(PREBUILT_BUNDLE)
      ? Promise.resolve({ codePath: PREBUILT_BUNDLE })
      : bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietBundlerLogger });
  return bundle;
}

const noop = () => undefined;
export const quietBundlerLogger = {
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
          // Stopping cancels steps still running after this; they are retried by another worker.
          shutdownGraceTime: '3 seconds',
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
