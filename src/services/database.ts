import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from '../schema';
import { migrationsList } from '../migrations';

export type Database = {
  orm: MikroORM;
  /** A fresh EntityManager; callers never share one across requests. */
  em(): EntityManager;
  kind: 'postgresql' | 'pglite';
  close(): Promise<void>;
};

export type DatabaseOptions = { databaseUrl?: string; dataDir: string; debug?: boolean };

function baseOptions() {
  return {
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
  if (opts.databaseUrl) {
    const { MikroORM: PgORM } = await import('@mikro-orm/postgresql');
    orm = await PgORM.init({ ...baseOptions(), clientUrl: opts.databaseUrl, pool: { min: 0, max: 20 } });
    kind = 'postgresql';
  } else {
    const dir = path.resolve(opts.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    const { MikroORM: PgliteORM } = await import('@mikro-orm/pglite');
    orm = await PgliteORM.init({ ...baseOptions(), dbName: dir });
    kind = 'pglite';
  }
  await orm.migrator.up();
  // PGlite starts lazily; one query here keeps the first request from paying for it.
  await orm.em.fork().getConnection().execute('select 1');
  return { orm, kind, em: () => orm.em.fork(), close: () => orm.close(true) };
}
