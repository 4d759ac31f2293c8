import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import {
  ConnectionException,
  DefaultLogger,
  type EntityManager,
  type LoggerOptions,
  type LogContext,
  type MikroORM,
} from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from '../schema';
import { migrationsList } from '../migrations';

export type Database = {
  orm: MikroORM;
  /** A fresh EntityManager; callers never share one across requests. */
  em(): EntityManager;
  kind: 'postgresql' | 'pglite';
  /**
   * One statement with server-side parameters ($1, $2, …), outside any transaction. The hot paths use it: the
   * ORM inlines parameters into the SQL text, which costs CPU on large payloads. Pass jsonb values as
   * JSON text (`$1::text::jsonb`), so both drivers read them the same way.
   */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** How many SQL statements this process has sent so far (for `npm run bench`). */
  statementCount(): number;
  /** Runs fn while no other process holds the startup lock (migrations, bootstrap); see withStartupLock. */
  withStartupLock<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

/**
 * SQLSTATEs of a server that cannot serve now: connection exceptions (not 08P01, a protocol violation: our bug),
 * insufficient resources, shutting down or starting.
 */
const UNAVAILABLE_SQLSTATE = /^(08\d{3}|53|57P0[1-5])/;
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** node-postgres reports a lost or timed-out connection by its message only. */
const CONNECTION_LOST = /connection terminated|timeout exceeded when trying to connect|not queryable/i;

/**
 * True when a database error means "unavailable, retry later" (the server is down, restarting or out of
 * connections) rather than a statement that failed: only those are answered 503 with Retry-After.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof ConnectionException) return true;
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || NETWORK_ERRORS.has(code))) return true;
  return typeof message === 'string' && CONNECTION_LOST.test(message);
}

export type DatabaseOptions = { databaseUrl?: string; dataDir: string; debug?: boolean };

/** MikroORM reports every statement to its logger, printed or not: counting there sees them all. */
class CountingLogger extends DefaultLogger {
  count = 0;
  override logQuery(context: LogContext & { query: string }): void {
    if ((context.namespace ?? 'query') === 'query') this.count++;
    super.logQuery(context);
  }
}

function baseOptions(logger: { current?: CountingLogger }) {
  return {
    loggerFactory: (options: LoggerOptions) => (logger.current = new CountingLogger(options)),
    entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    migrations: {
      migrationsList,
      snapshotName: '.snapshot-hookflow',
      snapshotOnMigrate: false,
      silent: true,
    },
    allowGlobalContext: false,
  };
}

/** The advisory lock key serialising migrations and the bootstrap: "hookflow" in ASCII, as a bigint. */
const STARTUP_LOCK_KEY = '7525356009429954423';

/**
 * Runs fn while holding a PostgreSQL advisory lock, so processes started together against one empty database
 * migrate and bootstrap one after the other instead of racing to create the same tables. The lock lives on a
 * dedicated connection (a pooled one could be another session by the time it is released); ending that session
 * releases it. PGlite belongs to one process (DATA_DIR is locked), so there is nothing to wait for.
 */
async function withStartupLock<T>(databaseUrl: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!databaseUrl) return fn();
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined); // a lost session only releases the lock early; fn reports its own errors
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [STARTUP_LOCK_KEY]);
    return await fn();
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Opens PostgreSQL when a URL is given, else the embedded PGlite cluster under DATA_DIR, and migrates it. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let orm: MikroORM;
  let kind: Database['kind'];
  const logger: { current?: CountingLogger } = {};
  if (opts.databaseUrl) {
    const { MikroORM: PgORM } = await import('@mikro-orm/postgresql');
    orm = await PgORM.init({
      ...baseOptions(logger),
      clientUrl: opts.databaseUrl,
      pool: { min: 0, max: 20 },
    });
    kind = 'postgresql';
  } else {
    const dir = path.resolve(opts.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    const { MikroORM: PgliteORM } = await import('@mikro-orm/pglite');
    orm = await PgliteORM.init({ ...baseOptions(logger), dbName: dir });
    kind = 'pglite';
  }
  await withStartupLock(opts.databaseUrl, () => orm.migrator.up());
  // PGlite starts lazily; one query here keeps the first request from paying for it.
  await orm.em.fork().getConnection().execute('select 1');
  let direct = 0;
  const { CompiledQuery } = await import('kysely'); // ESM-only: loaded like the ORM's drivers
  const client = (orm.em.getConnection() as unknown as { getClient(): Kysely<unknown> }).getClient();
  return {
    orm,
    kind,
    em: () => orm.em.fork(),
    async sql<T>(text: string, params: unknown[] = []) {
      direct++;
      try {
        return (await client.executeQuery(CompiledQuery.raw(text, params))).rows as T[];
      } catch (err) {
        throw orm.em.getDriver().convertException(err as Error);
      }
    },
    statementCount: () => direct + (logger.current?.count ?? 0),
    withStartupLock: (fn) => withStartupLock(opts.databaseUrl, fn),
    close: () => orm.close(true),
  };
}
