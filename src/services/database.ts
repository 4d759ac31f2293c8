import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import {
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
  close(): Promise<void>;
};

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
  await orm.migrator.up();
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
    close: () => orm.close(true),
  };
}
