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

/** The one way events travel between the roles. */
export interface EventBus {
  publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void>;
  /** Events of one workspace, optionally one flow, until the signal aborts. */
  subscribe(filter: { workspaceId: string; flowId?: string }, signal: AbortSignal): AsyncIterable<FlowEvent>;
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

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

const CHANNEL = 'hookflow_events';

type Unlisten = () => Promise<void>;

/**
 * Events through PostgreSQL NOTIFY, so a subscription on an API process sees what ingress and worker processes
 * publish. Each process LISTENs once and fans out to its own subscribers.
 */
export class PostgresEventBus implements EventBus {
  private constructor(
    private readonly local: InProcessEventBus,
    private readonly notify: (payload: string) => Promise<void>,
    private readonly unlisten: Unlisten,
  ) {}

  static async start(db: Database, databaseUrl: string | undefined, log: { warn(msg: string): void }) {
    const notify = async (payload: string) => {
      await db.em().getConnection().execute('select pg_notify(?, ?)', [CHANNEL, payload]);
    };
    const local = new InProcessEventBus();
    const deliver = (payload: string) => {
      try {
        void local.publish(JSON.parse(payload) as FlowEvent);
      } catch {
        log.warn(`ignored a malformed event notification`);
      }
    };
    const unlisten = databaseUrl
      ? await listenPg(databaseUrl, deliver, log)
      : await listenPglite(db, deliver);
    return new PostgresEventBus(local, notify, unlisten);
  }

  async publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void> {
    await this.notify(JSON.stringify({ ...event, at: event.at ?? new Date().toISOString() }));
  }

  subscribe(filter: { workspaceId: string; flowId?: string }, signal: AbortSignal): AsyncIterable<FlowEvent> {
    return this.local.subscribe(filter, signal);
  }

  async close(): Promise<void> {
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
