import type { Database } from './database';
import { markDispatched, undispatched } from './deliveries';

export interface RunStarter {
  /** Idempotent per workflow id; throws while the workflow engine is unreachable. */
  start(deliveryId: string, replay?: { workflowId: string; flowVersion: number }): Promise<void>;
}

export type DispatcherOptions = {
  /** How often the relay looks for accepted deliveries whose run was not started. */
  relayIntervalMs?: number;
  /** The relay leaves deliveries younger than this to the fast path. */
  graceMs?: number;
  log: { warn(obj: object, msg: string): void };
};

/**
 * Starts a run for every accepted delivery: at once after the commit (fast path), and through a relay
 * loop that retries whatever the fast path could not start (Temporal down, process killed after the
 * commit). Starting is idempotent, so both paths may race without a second run.
 */
export class Dispatcher {
  private timer?: NodeJS.Timeout;
  private relaying?: Promise<void>;
  private unavailableSince?: number;
  private readonly inFlight = new Set<Promise<boolean>>();

  constructor(
    private readonly db: Database,
    private readonly starter: RunStarter,
    private readonly opts: DispatcherOptions,
  ) {}

  dispatch(deliveryId: string): Promise<boolean> {
    const attempt = this.tryDispatch(deliveryId);
    this.inFlight.add(attempt);
    void attempt.finally(() => this.inFlight.delete(attempt));
    return attempt;
  }

  private async tryDispatch(deliveryId: string): Promise<boolean> {
    try {
      await this.starter.start(deliveryId);
      await markDispatched(this.db.em(), deliveryId);
      this.unavailableSince = undefined;
      return true;
    } catch (err) {
      if (this.unavailableSince === undefined) {
        this.unavailableSince = Date.now();
        this.opts.log.warn(
          { deliveryId, err: (err as Error).message },
          'could not start the run yet; the relay will retry',
        );
      }
      return false;
    }
  }

  startRelay(): void {
    const interval = this.opts.relayIntervalMs ?? 2000;
    const tick = () => {
      this.relaying = this.relayOnce()
        .then(() => undefined)
        .catch((err) => this.opts.log.warn({ err: (err as Error).message }, 'relay pass failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, interval);
        });
    };
    this.timer = setTimeout(tick, interval);
  }

  /** Dispatches every accepted delivery that is still waiting; stops at the first failure. */
  async relayOnce(): Promise<number> {
    const olderThan = new Date(Date.now() - (this.opts.graceMs ?? 2000));
    let started = 0;
    for (;;) {
      const ids = await undispatched(this.db.em(), olderThan, 100);
      for (const id of ids) {
        if (!(await this.dispatch(id))) return started;
        started++;
      }
      if (ids.length < 100) return started;
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.relaying;
    await Promise.all(this.inFlight);
  }
}
