import type { Database } from './database';

export type RetentionOptions = {
  /** Deliveries older than this are deleted with their runs and step runs, unless the workspace sets its own. */
  days: number;
  /** Per workspace: the newest N deliveries are kept; unset: no limit. */
  maxDeliveries?: number;
  /** Rows per DELETE statement: short statements hold few locks, so accepting webhooks never waits long. */
  batchSize?: number;
  /** Pause between two batches, leaving the database to the accept path. */
  pauseMs?: number;
  /** How often a pass runs. */
  everyMs?: number;
};

type Log = { info(msg: string): void; warn(msg: string): void };

const DAY_MS = 24 * 60 * 60_000;

/**
 * Deliveries that must stay whatever their age: accepted ones not yet handed to the workflow engine, and those
 * with a run still going (its steps read the payload from the row).
 */
const STILL_NEEDED = `(d.status = 'ACCEPTED' and d.dispatch_state = 'PENDING')
  or exists (select 1 from run r where r.delivery_id = d.id and r.status = 'RUNNING')`;

/**
 * Deletes expired deliveries in the background (runs and step runs go with them: the foreign keys cascade), a
 * batch at a time, per workspace: those older than the workspace's retention (workspace.retention_days, else
 * `days`), then those beyond the newest `maxDeliveries`. Stored events have their own pruning (events.ts).
 */
export class RetentionService {
  private timer?: NodeJS.Timeout;
  private pass: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly opts: RetentionOptions,
    private readonly log: Log,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.pruneInBackground(), this.opts.everyMs ?? 5 * 60_000).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.pass;
  }

  /** One pass over every workspace; resolves with the number of deliveries deleted. */
  async prune(now = new Date()): Promise<number> {
    const workspaces = await this.db.sql<{ id: string; retention_days: number | null }>(
      'select id, retention_days from workspace',
    );
    let deleted = 0;
    for (const ws of workspaces) {
      if (this.stopped) break;
      const cutoff = new Date(now.getTime() - (ws.retention_days ?? this.opts.days) * DAY_MS);
      deleted += await this.deleteInBatches(ws.id, 'd.received_at < $2', [cutoff]);
      deleted += await this.pruneBeyondCap(ws.id);
    }
    return deleted;
  }

  private pruneInBackground(): void {
    this.pass = this.pass
      .then(() => this.prune())
      .then((n) => n > 0 && this.log.info(`retention: deleted ${n} expired deliveries`))
      .catch((err: Error) =>
        this.log.warn(`retention: could not delete expired deliveries (${err.message})`),
      );
  }

  /** Deletes what is older than the workspace's newest `maxDeliveries` deliveries. */
  private async pruneBeyondCap(workspaceId: string): Promise<number> {
    const cap = this.opts.maxDeliveries;
    if (cap === undefined) return 0;
    const [last] = await this.db.sql<{ received_at: Date; id: string }>(
      `select received_at, id from delivery where workspace_id = $1
       order by received_at desc, id desc offset $2 limit 1`,
      [workspaceId, cap - 1],
    );
    if (!last) return 0;
    return this.deleteInBatches(workspaceId, '(d.received_at, d.id) < ($2, $3::uuid)', [
      last.received_at,
      last.id,
    ]);
  }

  /** `older` is a condition on `d` with parameters from $2. */
  private async deleteInBatches(workspaceId: string, older: string, params: unknown[]): Promise<number> {
    const batchSize = this.opts.batchSize ?? 1000;
    const limit = `$${params.length + 2}`;
    let deleted = 0;
    for (;;) {
      const [row] = await this.db.sql<{ n: number }>(
        `with gone as (
           delete from delivery where id in (
             select d.id from delivery d
             where d.workspace_id = $1 and ${older} and not (${STILL_NEEDED})
             order by d.received_at limit ${limit})
           returning 1)
         select count(*)::int as n from gone`,
        [workspaceId, ...params, batchSize],
      );
      deleted += row!.n;
      if (row!.n < batchSize || this.stopped) return deleted;
      await new Promise((resolve) => setTimeout(resolve, this.opts.pauseMs ?? 200));
    }
  }
}
