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

/** What other processes cache and must reload when it changes. */
export type ChangeTopic = 'triggers' | 'plugins';

/** The one way events travel between the roles. */
export interface EventBus {
  publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void>;
  /** Events of one workspace, optionally one flow, until the signal aborts. */
  subscribe(filter: { workspaceId: string; flowId?: string }, signal: AbortSignal): AsyncIterable<FlowEvent>;
  /** Tells every process (this one included) that what it caches of `topic` is stale. */
  announceChange(topic: ChangeTopic): Promise<void>;
  onChange(topic: ChangeTopic, listener: () => void): void;
  close(): Promise<void>;
}

/** Fan-out inside one process; PostgresEventBus uses it for its local subscribers, and tests of the API alone use it directly. */
export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void> {
    this.emitter.emit('event', { ...event, at: event.at ?? new Date().toISOString() });
  }

  async *subscribe(
    filter: { workspaceId: string; flowId?: string },
    signal: AbortSignal,
  ): AsyncIterable<FlowEvent> {
    try {
      for await (const [event] of on(this.emitter, 'event', { signal }) as AsyncIterable<[FlowEvent]>) {
        if (event.workspaceId !== filter.workspaceId) continue;
        if (filter.flowId && event.flowId !== filter.flowId) continue;
        yield event;
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
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

const CHANNEL = 'hookflow_events';

type Unlisten = () => Promise<void>;

/** Events published within this window travel in one statement. */
const BATCH_WINDOW_MS = 2;
const MAX_BATCH = 200;

/**
 * Events through PostgreSQL NOTIFY, so a subscription on an API process sees what ingress and worker processes
 * publish. Each process LISTENs once and fans out to its own subscribers. Under load, notifications published
 * close together are sent in one statement (in order); publish() resolves once its batch was sent.
 */
export class PostgresEventBus implements EventBus {
  private batch: { payload: string; done: (err?: unknown) => void }[] = [];
  private timer?: NodeJS.Timeout;
  private sending = Promise.resolve();

  private constructor(
    private readonly local: InProcessEventBus,
    private readonly db: Database,
    private readonly unlisten: Unlisten,
  ) {}

  static async start(db: Database, databaseUrl: string | undefined, log: { warn(msg: string): void }) {
    const local = new InProcessEventBus();
    const deliver = (payload: string) => {
      let message: FlowEvent | { change: ChangeTopic };
      try {
        message = JSON.parse(payload) as FlowEvent | { change: ChangeTopic };
      } catch {
        return log.warn(`ignored a malformed event notification`);
      }
      if ('change' in message) void local.announceChange(message.change);
      else void local.publish(message);
    };
    const unlisten = databaseUrl
      ? await listenPg(databaseUrl, deliver, log)
      : await listenPglite(db, deliver);
    return new PostgresEventBus(local, db, unlisten);
  }

  publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void> {
    return this.send(JSON.stringify({ ...event, at: event.at ?? new Date().toISOString() }));
  }

  subscribe(filter: { workspaceId: string; flowId?: string }, signal: AbortSignal): AsyncIterable<FlowEvent> {
    return this.local.subscribe(filter, signal);
  }

  /** This process hears of the change at once; the others when the notification arrives. */
  announceChange(topic: ChangeTopic): Promise<void> {
    void this.local.announceChange(topic);
    return this.send(JSON.stringify({ change: topic }));
  }

  onChange(topic: ChangeTopic, listener: () => void): void {
    this.local.onChange(topic, listener);
  }

  private send(payload: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.batch.push({ payload, done: (err) => (err ? reject(err as Error) : resolve()) });
      if (this.batch.length >= MAX_BATCH) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    });
  }

  /** One batch in flight at a time, so notifications keep their order across the connection pool. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    if (!batch.length) return;
    this.sending = this.sending.then(() =>
      this.db
        .sql('select pg_notify($1, p) from unnest($2::text[]) with ordinality as t(p, n) order by n', [
          CHANNEL,
          batch.map((b) => b.payload),
        ])
        .then(
          () => batch.forEach((b) => b.done()),
          (err: unknown) => batch.forEach((b) => b.done(err)),
        ),
    );
  }

  async close(): Promise<void> {
    this.flush();
    await this.sending;
    await this.unlisten();
    await this.local.close();
  }
}

async function listenPglite(db: Database, deliver: (payload: string) => void): Promise<Unlisten> {
  const client = (await db.em().getConnection().getNativeClient()) as {
    listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>>;
  };
  return client.listen(CHANNEL, deliver);
}

/** A dedicated connection (not a pooled one) holds the LISTEN; it reconnects when the server drops it. */
async function listenPg(
  url: string,
  deliver: (payload: string) => void,
  log: { warn(msg: string): void },
): Promise<Unlisten> {
  let client: pg.Client | undefined;
  let closed = false;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (n) => n.payload !== undefined && deliver(n.payload));
    c.on('error', (err) => {
      if (closed) return;
      log.warn(`event listener lost its connection (${err.message}); reconnecting`);
      void c.end().catch(() => undefined);
      setTimeout(() => void connect().catch(() => undefined), 1000);
    });
    await c.connect();
    await c.query(`listen ${CHANNEL}`);
    client = c;
  };
  await connect();
  return async () => {
    closed = true;
    await client?.end().catch(() => undefined);
  };
}
