import type { Database } from './database';

/** What the reconciler asks of the workflow engine. */
export interface RunEngine {
  /** Whether the engine still holds the workflow and it is running or completed. */
  isLive(workflowId: string): Promise<boolean>;
  /** Starts a lost workflow again under the same id (never a completed one). */
  restart(deliveryId: string, workflowId: string): Promise<void>;
}

export type ReconcilerOptions = {
  /** How often a pass runs (default 30 s). */
  intervalMs?: number;
  /** A run is checked once it has been dispatched or running this long without finishing (default 60 s). */
  staleAfterMs?: number;
  /** How far back the first pass looks for dispatched deliveries that never got a run (default 24 h). */
  lookBackMs?: number;
  log: { warn(obj: object, msg: string): void };
};

const BATCH = 200;

/**
 * Finds runs the engine lost (the dev server crashed before its last writes reached the disk, an operator
 * terminated a workflow) and starts their workflows again under the same id. The run row, unique per workflow
 * id, makes the new execution continue the same run: steps that succeeded are not run again.
 */
export class Reconciler {
  /** Dispatched deliveries received before this were checked for a missing run already. */
  private deliveredCursor: Date;
  /** Running runs are visited oldest first across passes, starting again at the beginning after the last. */
  private runningCursor = new Date(0);
  private timer?: NodeJS.Timeout;
  private passing?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly engine: RunEngine,
    private readonly opts: ReconcilerOptions,
  ) {
    this.deliveredCursor = new Date(Date.now() - (opts.lookBackMs ?? 24 * 3600_000));
  }

  start(): void {
    const tick = () => {
      this.passing = this.reconcileOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.opts.log.warn({ err }, 'reconciler pass failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 30_000);
        });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? 30_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.passing;
  }

  /** One pass; returns how many workflows were started again. */
  async reconcileOnce(): Promise<number> {
    const staleBefore = new Date(Date.now() - (this.opts.staleAfterMs ?? 60_000));
    let restarted = 0;
    for (const c of [...(await this.withoutRun(staleBefore)), ...(await this.stillRunning(staleBefore))]) {
      if (this.stopped) break;
      if (await this.engine.isLive(c.workflow_id)) continue;
      await this.engine.restart(c.delivery_id, c.workflow_id);
      this.opts.log.warn(
        { deliveryId: c.delivery_id, workflowId: c.workflow_id },
        'the workflow engine lost this run; started it again',
      );
      restarted++;
    }
    return restarted;
  }

  /** Deliveries whose workflow was started but never began its run. */
  private async withoutRun(staleBefore: Date) {
    const rows = await this.db.sql<{ delivery_id: string; workflow_id: string; received_at: string }>(
      `select d.id as delivery_id, 'delivery-' || d.id as workflow_id, d.received_at from delivery d
       where d.dispatch_state = 'DISPATCHED' and d.status = 'ACCEPTED'
         and d.received_at > $1 and d.received_at < $2
         and not exists (select 1 from run r where r.workflow_id = 'delivery-' || d.id)
       order by d.received_at limit $3`,
      [this.deliveredCursor, staleBefore, BATCH],
    );
    this.deliveredCursor = rows.length === BATCH ? new Date(rows.at(-1)!.received_at) : staleBefore;
    return rows;
  }

  /** Runs (replays included) that have been running for a while: their workflow may be gone. */
  private async stillRunning(staleBefore: Date) {
    const rows = await this.db.sql<{ delivery_id: string; workflow_id: string; started_at: string }>(
      `select delivery_id, workflow_id, started_at from run
       where status = 'RUNNING' and started_at > $1 and started_at < $2
       order by started_at limit $3`,
      [this.runningCursor, staleBefore, BATCH],
    );
    this.runningCursor = rows.length === BATCH ? new Date(rows.at(-1)!.started_at) : new Date(0);
    return rows;
  }
}
