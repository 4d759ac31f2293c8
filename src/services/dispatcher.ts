import type { Database } from './database';
import { markDispatched } from './deliveries';

export interface RunStarter {
  /** Idempotent per workflow id; throws while the workflow engine is unreachable. */
  start(deliveryId: string, replay?: { workflowId: string; flowVersion: number }): Promise<void>;
}

export type DispatcherOptions = {
  /** How often the relay looks for accepted deliveries whose run was not started. */
  relayIntervalMs?: number;
  /** The relay leaves deliveries younger than this to the fast path. */
  graceMs?: number;
  /** Workflow starts in flight at once. */
  concurrency?: number;
  log: { warn(obj: object, msg: string): void };
};

/** How long starts pause after the engine was found unreachable (the relay retries what was left). */
const UNAVAILABLE_PAUSE_MS = 1_000;
const RELAY_BATCH = 500;
/** Past this many waiting starts, new deliveries are left to the relay (memory stays bounded under overload). */
const MAX_QUEUED = 5_000;
/** Started deliveries are marked DISPATCHED together once this many are waiting, or after MARK_DELAY_MS. */
const MARK_BATCH = 200;
const MARK_DELAY_MS = 20;

/**
 * Starts a run for every accepted delivery, off the request path: the ingress hands over the id after the commit
 * (fast path) and a relay loop hands over whatever is still PENDING (engine down, process killed after the
 * commit). Starts run with bounded concurrency; one failed start does not hold up the others. Starting is
 * idempotent by workflow id, so both paths and several processes may race without a second run.
 */
export class Dispatcher {
  private readonly queue: string[] = [];
  /** Delivery id → callers waiting to learn whether its run started; present while queued or in flight. */
  private readonly waiting = new Map<string, ((started: boolean) => void)[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private marks: string[] = [];
  private markTimer?: NodeJS.Timeout;
  private marking: Promise<void> = Promise.resolve();
  private pausedUntil = 0;
  private warned = false;
  private relayTimer?: NodeJS.Timeout;
  private relaying?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly starter: RunStarter,
    private readonly opts: DispatcherOptions,
  ) {}

  /** Queues the start of a delivery's run; resolves true once started, false if it was left to the relay. */
  dispatch(deliveryId: string): Promise<boolean> {
    return new Promise((resolve) => {
      const waiters = this.waiting.get(deliveryId);
      if (waiters) return waiters.push(resolve);
      if (this.stopped || Date.now() < this.pausedUntil || this.queue.length >= MAX_QUEUED)
        return resolve(false);
      this.waiting.set(deliveryId, [resolve]);
      this.queue.push(deliveryId);
      this.pump();
    });
  }

  /** Starts waiting here: queued plus in flight (read-only, for the backlog metric). */
  backlog(): number {
    return this.queue.length + this.inFlight.size;
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 32;
    while (this.inFlight.size < limit && this.queue.length) {
      const id = this.queue.shift()!;
      const attempt = this.startOne(id).finally(() => {
        this.inFlight.delete(attempt);
        this.pump();
      });
      this.inFlight.add(attempt);
    }
  }

  private async startOne(deliveryId: string): Promise<void> {
    let started = false;
    if (!this.stopped && Date.now() >= this.pausedUntil) {
      try {
        await this.starter.start(deliveryId);
        started = true;
        this.warned = false;
        this.mark(deliveryId);
      } catch (err) {
        if (isUnavailable(err)) this.pausedUntil = Date.now() + UNAVAILABLE_PAUSE_MS;
        if (!this.warned) {
          this.warned = true;
          this.opts.log.warn({ deliveryId, err }, 'could not start the run yet; the relay will retry');
        }
      }
    }
    const waiters = this.waiting.get(deliveryId) ?? [];
    this.waiting.delete(deliveryId);
    for (const resolve of waiters) resolve(started);
  }

  private mark(deliveryId: string): void {
    this.marks.push(deliveryId);
    if (this.marks.length >= MARK_BATCH) void this.flushMarks();
    else this.markTimer ??= setTimeout(() => void this.flushMarks(), MARK_DELAY_MS);
  }

  /** Marks started deliveries DISPATCHED in one statement; a failure leaves them PENDING for the relay (harmless). */
  private flushMarks(): Promise<void> {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    const ids = this.marks;
    this.marks = [];
    if (ids.length) {
      this.marking = this.marking.then(() =>
        markDispatched(this.db, ids).then(
          () => undefined,
          (err: unknown) => this.opts.log.warn({ err }, 'could not mark deliveries dispatched'),
        ),
      );
    }
    return this.marking;
  }

  startRelay(): void {
    const interval = this.opts.relayIntervalMs ?? 2000;
    const tick = () => {
      this.relaying = this.relayOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.opts.log.warn({ err }, 'relay pass failed'))
        .finally(() => {
          if (!this.stopped) this.relayTimer = setTimeout(tick, interval);
        });
    };
    this.relayTimer = setTimeout(tick, interval);
  }

  /** Starts the runs of accepted deliveries that are still PENDING, in batches, until none is left. */
  async relayOnce(): Promise<number> {
    let started = 0;
    while (!this.stopped && Date.now() >= this.pausedUntil) {
      const olderThan = new Date(Date.now() - (this.opts.graceMs ?? 2000));
      const rows = await this.db.sql<{ id: string }>(
        `select id from delivery where dispatch_state = 'PENDING' and status = 'ACCEPTED' and received_at < $1
         order by received_at limit $2`,
        [olderThan, RELAY_BATCH],
      );
      const results = await Promise.all(rows.map((r) => this.dispatch(r.id)));
      await this.flushMarks();
      const batch = results.filter(Boolean).length;
      started += batch;
      if (rows.length < RELAY_BATCH || batch === 0) break;
    }
    return started;
  }

  /** Stops at once: what is queued stays PENDING for the next process; starts in flight finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.relayTimer);
    for (const id of this.queue.splice(0)) {
      for (const resolve of this.waiting.get(id) ?? []) resolve(false);
      this.waiting.delete(id);
    }
    await Promise.all(this.inFlight);
    await this.relaying;
    await this.flushMarks();
  }
}

/** gRPC codes that mean the engine itself cannot be reached (as opposed to a problem with one workflow). */
const UNAVAILABLE_CODES = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);

function isUnavailable(err: unknown): boolean {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return UNAVAILABLE_CODES.has(code);
  }
  return true;
}
