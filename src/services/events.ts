import { EventEmitter, on } from 'node:events';
import pg from 'pg';
import type { Database } from './database';

export type FlowEventType =
  | 'DELIVERY_RECEIVED'
  | 'DELIVERY_REJECTED'
  | 'DELIVERY_DUPLICATE'
  | 'RUN_STARTED'
  | 'RUN_FINISHED'
  | 'STEP_STARTED'
  | 'STEP_SUCCEEDED'
  | 'STEP_FAILED'
  | 'STEP_SKIPPED';

export type FlowEvent = {
  type: FlowEventType;
  workspaceId: string;
  flowId: string;
  deliveryId?: string;
  runId?: string;
  stepKey?: string;
  status?: string;
  message?: string;
  at: string;
};

/** An event as subscribers receive it: with its place in the event log, the cursor to resume after. */
export type SequencedEvent = FlowEvent & { seq: string };

export type EventFilter = {
  workspaceId: string;
  flowId?: string;
  /** A `seq` the subscriber already has: the stored events after it come first, then live ones. */
  after?: string;
};

/** What other processes cache and must reload when it changes. */
export type ChangeTopic = 'triggers' | 'plugins';
const CHANGE_TOPICS: ChangeTopic[] = ['triggers', 'plugins'];

/** The one way events travel between the roles. */
export interface EventBus {
  publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void>;
  /** Events of one workspace, optionally one flow, until the signal aborts. */
  subscribe(filter: EventFilter, signal: AbortSignal): AsyncIterable<SequencedEvent>;
  /** Tells every process (this one included) that what it caches of `topic` is stale. */
  announceChange(topic: ChangeTopic): Promise<void>;
  onChange(topic: ChangeTopic, listener: () => void): void;
  close(): Promise<void>;
}

/**
 * Fan-out inside one process; PostgresEventBus uses it for its local subscribers, and tests of the API alone use it
 * directly. On its own it keeps no history: it numbers events itself, and `after` replays nothing.
 */
export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private lastSeq = 0;

  async publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void> {
    this.deliver({ ...event, at: event.at ?? new Date().toISOString(), seq: String(++this.lastSeq) });
  }

  /** Hands an event that already has its sequence number to this process's subscribers. */
  deliver(event: SequencedEvent): void {
    this.emitter.emit('event', event);
  }

  /** Listens from the moment it is called (not from the first read) and holds events until they are read. */
  subscribe(filter: EventFilter, signal: AbortSignal): AsyncIterable<SequencedEvent> {
    return matching(on(this.emitter, 'event', { signal }) as AsyncIterable<[SequencedEvent]>, filter);
  }

  async announceChange(topic: ChangeTopic): Promise<void> {
    this.emitter.emit(`change:${topic}`);
  }

  onChange(topic: ChangeTopic, listener: () => void): void {
    this.emitter.on(`change:${topic}`, listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

async function* matching(events: AsyncIterable<[SequencedEvent]>, filter: EventFilter) {
  try {
    for await (const [event] of events) {
      if (event.workspaceId !== filter.workspaceId) continue;
      if (filter.flowId && event.flowId !== filter.flowId) continue;
      yield event;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
}

const CHANNEL = 'hookflow_events';

/** Events published within this window travel in one statement. */
const BATCH_WINDOW_MS = 2;
const MAX_BATCH = 200;
/** A subscriber resuming after a cursor gets at most this many stored events: the newest ones. */
const REPLAY_LIMIT = 1000;
/** Stored events are kept this long, then deleted PRUNE_BATCH at a time every PRUNE_EVERY_MS. */
const RETENTION_MS = 7 * 24 * 60 * 60_000;
const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 1000;
/** The advisory lock key taken by every publishing statement: "hf_event" in ASCII, as a bigint. */
const PUBLISH_LOCK_KEY = '7522805116951686772';

/**
 * Stores a batch of events and notifies them, in one statement. The advisory lock, held until commit, makes
 * sequence numbers commit in order across processes, so a subscriber resuming after seq N never misses a smaller
 * one that committed later. It costs little: committing a NOTIFY already takes a database-wide lock.
 */
const STORE_AND_NOTIFY = `
  with turn as (select pg_advisory_xact_lock(${PUBLISH_LOCK_KEY})),
  stored as (
    insert into flow_event (workspace_id, flow_id, payload)
    select w, f, p::json
    from turn, unnest($2::uuid[], $3::uuid[], $4::text[]) with ordinality as t(w, f, p, n)
    order by n
    returning seq, payload
  )
  select pg_notify($1, json_build_object('seq', seq::text, 'event', payload)::text) from stored order by seq`;

/** What travels on the channel: a stored event, or a change of what processes cache. */
type Notification = { seq: string; event: FlowEvent } | { change: ChangeTopic };
type StoredRow = { seq: string; payload: string };
type Log = { info(msg: string): void; warn(msg: string): void };
type Listener = { listening(): boolean; close(): Promise<void> };

const toEvent = (row: StoredRow): SequencedEvent => ({
  ...(JSON.parse(row.payload) as FlowEvent),
  seq: row.seq,
});

/**
 * Events through PostgreSQL: each batch is stored in the event log (flow_event) and sent with NOTIFY in one
 * statement, so a subscription on an API process sees what ingress and worker processes publish, and a subscriber
 * that reconnects resumes after the last event it saw. Each process LISTENs once and fans out to its own
 * subscribers, in sequence order; publish() resolves once its batch was stored.
 */
export class PostgresEventBus implements EventBus {
  private batch: { event: FlowEvent; done: (err?: unknown) => void }[] = [];
  private timer?: NodeJS.Timeout;
  private sending = Promise.resolve();
  private listener?: Listener;
  /** The newest event handed to local subscribers. */
  private lastSeq = 0n;
  /** Notifications that arrive while missed events are read; they are delivered after those. */
  private held?: string[];
  private catchingUp = Promise.resolve();
  private pruneTimer?: NodeJS.Timeout;
  private pruning: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly local: InProcessEventBus,
    private readonly db: Database,
    private readonly log: Log,
  ) {}

  static async start(db: Database, databaseUrl: string | undefined, log: Log): Promise<PostgresEventBus> {
    const bus = new PostgresEventBus(new InProcessEventBus(), db, log);
    const receive = (payload: string) => bus.receive(payload);
    bus.listener = databaseUrl
      ? await PgListener.start(databaseUrl, receive, () => bus.afterReconnect(), log)
      : await listenPglite(db, receive);
    try {
      await bus.skipStoredEvents();
    } catch (err) {
      await bus.listener.close();
      throw err;
    }
    bus.pruneTimer = setInterval(() => bus.pruneInBackground(), PRUNE_EVERY_MS).unref();
    return bus;
  }

  /** False while the LISTEN connection is lost (it is being re-established). */
  listening(): boolean {
    return this.listener?.listening() ?? false;
  }

  publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void> {
    return new Promise((resolve, reject) => {
      const at = event.at ?? new Date().toISOString();
      this.batch.push({ event: { ...event, at }, done: (err) => (err ? reject(err as Error) : resolve()) });
      if (this.batch.length >= MAX_BATCH) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    });
  }

  subscribe(filter: EventFilter, signal: AbortSignal): AsyncIterable<SequencedEvent> {
    const live = this.local.subscribe(filter, signal); // listening from here: nothing falls between replay and live
    return filter.after === undefined ? live : this.resume(filter, filter.after, live);
  }

  /** This process hears of the change at once; the others when the notification arrives. */
  async announceChange(topic: ChangeTopic): Promise<void> {
    void this.local.announceChange(topic);
    await this.db.sql('select pg_notify($1, $2)', [CHANNEL, JSON.stringify({ change: topic })]);
  }

  onChange(topic: ChangeTopic, listener: () => void): void {
    this.local.onChange(topic, listener);
  }

  /** Deletes events stored before `before`, oldest first, in short statements that block nothing. */
  async prune(before = new Date(Date.now() - RETENTION_MS)): Promise<number> {
    let deleted = 0;
    for (;;) {
      const [row] = await this.db.sql<{ n: number }>(
        `with gone as (
           delete from flow_event
           where seq in (select seq from flow_event order by seq limit $1) and created_at < $2
           returning 1)
         select count(*)::int as n from gone`,
        [PRUNE_BATCH, before],
      );
      deleted += row!.n;
      if (row!.n < PRUNE_BATCH || this.closed) return deleted;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.flush();
    await this.sending;
    await this.pruning;
    await this.catchingUp;
    await this.listener?.close();
    await this.local.close();
  }

  private pruneInBackground(): void {
    this.pruning = this.pruning
      .then(() => this.prune())
      .catch((err: Error) => this.log.warn(`could not delete expired events (${err.message})`));
  }

  /** Events stored before this process listened are not live; a reconnection catches up only from here. */
  private async skipStoredEvents(): Promise<void> {
    const [newest] = await this.db.sql<{ seq: string }>(
      'select coalesce(max(seq), 0)::text as seq from flow_event',
    );
    const seq = BigInt(newest!.seq);
    if (seq > this.lastSeq) this.lastSeq = seq;
  }

  /** One batch in flight at a time, so events keep their order across the connection pool. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    if (!batch.length) return;
    const events = batch.map((b) => b.event);
    this.sending = this.sending.then(() =>
      this.db
        .sql(STORE_AND_NOTIFY, [
          CHANNEL,
          events.map((e) => e.workspaceId),
          events.map((e) => e.flowId),
          events.map((e) => JSON.stringify(e)),
        ])
        .then(
          () => batch.forEach((b) => b.done()),
          (err: unknown) => batch.forEach((b) => b.done(err)),
        ),
    );
  }

  private receive(payload: string): void {
    if (this.held) {
      this.held.push(payload);
      return;
    }
    let message: Notification;
    try {
      message = JSON.parse(payload) as Notification;
    } catch {
      return this.log.warn(`ignored a malformed event notification`);
    }
    if ('change' in message) void this.local.announceChange(message.change);
    else this.deliver({ ...message.event, seq: message.seq });
  }

  /** Local subscribers get each event once, in sequence order. */
  private deliver(event: SequencedEvent): void {
    const seq = BigInt(event.seq);
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    this.local.deliver(event);
  }

  /** Stored events after the cursor (oldest first), then live ones without those already sent. */
  private async *resume(
    filter: EventFilter,
    after: string,
    live: AsyncIterable<SequencedEvent>,
  ): AsyncIterable<SequencedEvent> {
    let sent = BigInt(after);
    for (const event of await this.replay(filter, after)) {
      sent = BigInt(event.seq);
      yield event;
    }
    for await (const event of live) {
      if (BigInt(event.seq) > sent) yield event;
    }
  }

  /** The newest REPLAY_LIMIT stored events of the workspace (and flow) after the cursor, oldest first. */
  private async replay(filter: EventFilter, after: string): Promise<SequencedEvent[]> {
    const params: unknown[] = [filter.workspaceId, after];
    if (filter.flowId) params.push(filter.flowId);
    const rows = await this.db.sql<StoredRow>(
      `select seq::text as seq, payload::text as payload from (
         select seq, payload from flow_event
         where workspace_id = $1 and seq > $2::bigint ${filter.flowId ? 'and flow_id = $3' : ''}
         order by seq desc limit ${REPLAY_LIMIT}
       ) newest order by seq`,
      params,
    );
    return rows.map(toEvent);
  }

  /**
   * Notifications sent while the listener was away are lost: every cache is treated as stale, and the events
   * stored after the last one delivered are read (in pages, until none is left) and delivered before new ones.
   */
  private afterReconnect(): void {
    for (const topic of CHANGE_TOPICS) void this.local.announceChange(topic);
    this.catchingUp = this.catchingUp.then(() => this.catchUp());
  }

  private async catchUp(): Promise<void> {
    this.held = [];
    try {
      let page: StoredRow[];
      do {
        page = await this.db.sql<StoredRow>(
          `select seq::text as seq, payload::text as payload from flow_event
           where seq > $1::bigint order by seq limit ${REPLAY_LIMIT}`,
          [this.lastSeq.toString()],
        );
        page.map(toEvent).forEach((event) => this.deliver(event));
      } while (page.length === REPLAY_LIMIT && !this.closed);
    } catch (err) {
      this.log.warn(
        `could not read the events missed while the listener was away (${(err as Error).message}); ` +
          'subscribers can resume with their last cursor',
      );
    } finally {
      const held = this.held;
      this.held = undefined;
      held.forEach((payload) => this.receive(payload));
    }
  }
}

async function listenPglite(db: Database, receive: (payload: string) => void): Promise<Listener> {
  const client = (await db.em().getConnection().getNativeClient()) as {
    listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>>;
  };
  const unlisten = await client.listen(CHANNEL, receive);
  return { listening: () => true, close: unlisten };
}

/** Reconnection delays: 0.5 s, 1 s, 2 s, … up to 30 s, for as long as it takes. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/**
 * Holds the LISTEN on a dedicated connection (NOTIFY reaches only the session that listens, not a pool), and when
 * that connection is lost, reconnects forever with capped exponential backoff.
 */
class PgListener implements Listener {
  private client?: pg.Client;
  private failures = 0;
  private lostAt = 0;
  private retry?: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly receive: (payload: string) => void,
    private readonly reconnected: () => void,
    private readonly log: Log,
  ) {}

  /** The first connection must succeed: a process that cannot listen at start does not start. */
  static async start(
    url: string,
    receive: (payload: string) => void,
    reconnected: () => void,
    log: Log,
  ): Promise<PgListener> {
    const listener = new PgListener(url, receive, reconnected, log);
    listener.client = await listener.connect();
    return listener;
  }

  listening(): boolean {
    return this.client !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    client.on('notification', (n) => n.payload !== undefined && this.receive(n.payload));
    client.on('error', (err) => this.lost(client, err.message));
    client.on('end', () => this.lost(client, 'the connection was closed'));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  private lost(client: pg.Client, reason: string): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.lostAt = Date.now();
    this.log.warn(`event listener lost its connection (${reason}); reconnecting until it is back`);
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** this.failures);
    this.retry = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch {
      this.failures++;
      if (!this.closed) this.scheduleReconnect();
      return;
    }
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.client = client;
    const seconds = ((Date.now() - this.lostAt) / 1000).toFixed(1);
    this.log.info(`event listener reconnected after ${seconds} s (${this.failures + 1} attempts)`);
    this.failures = 0;
    this.reconnected();
  }
}
