/**
 * Processes started together against one empty PostgreSQL database take turns (an advisory lock) to migrate it
 * and to create the first workspace and its admin key, instead of racing to create the same tables.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrationsList } from '../../src/migrations';
import { bootstrap } from '../../src/services/api-keys';
import { openDatabase, type Database } from '../../src/services/database';
import { createTestDatabase, query } from '../helpers/postgres';
import { processEnv, startHookflowProcess, type HookflowProcess } from '../helpers/processes';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

async function expectMigratedAndBootstrappedOnce(db: TestDatabase) {
  const applied = await query<{ name: string }>(db.url, 'select name from mikro_orm_migrations order by id');
  expect(applied.map((m) => m.name)).toEqual(migrationsList.map((m) => m.name));
  const [counts] = await query<{ workspaces: number; keys: number }>(
    db.url,
    'select (select count(*)::int from workspace) as workspaces, (select count(*)::int from api_key) as keys',
  );
  expect(counts).toEqual({ workspaces: 1, keys: 1 });
}

describe('starting together against one empty database', () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  it('two openDatabase calls both succeed; migrations and the bootstrap happen once', async () => {
    db = await createTestDatabase();
    const url = db.url;
    const open = () =>
      openDatabase({ databaseUrl: url, dataDir: mkdtempSync(path.join(os.tmpdir(), 'hookflow-start-')) });
    const opened = await Promise.allSettled([open(), open()]);
    const databases = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(opened.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok']);
      const boots = await Promise.all(
        databases.map((d: Database) =>
          d.withStartupLock(() => bootstrap(d.em(), `hf_test_${randomBytes(16).toString('hex')}`)),
        ),
      );
      expect(boots.filter((b) => b !== undefined)).toHaveLength(1);
      await expectMigratedAndBootstrappedOnce(db);
    } finally {
      await Promise.all(databases.map((d) => d.close()));
    }
  });

  it('two Hookflow processes both become ready, with exactly one bootstrap key', async () => {
    db = await createTestDatabase();
    const envs = await Promise.all([1, 2].map(() => processEnv(db!.url, { HOOKFLOW_ROLES: 'api' })));
    const started = await Promise.allSettled(envs.map((env) => startHookflowProcess(env)));
    const processes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(started.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ready'))).toEqual([
        'ready',
        'ready',
      ]);
      await expectMigratedAndBootstrappedOnce(db);
      const [key] = await query<{ prefix: string }>(db.url, 'select prefix from api_key');
      expect(envs.map((e) => e.HOOKFLOW_ADMIN_KEY.slice(0, 10))).toContain(key!.prefix);
    } finally {
      await Promise.all(processes.map((p: HookflowProcess) => stopProcess(p)));
    }
  });
});

async function stopProcess(p: HookflowProcess) {
  p.proc.kill('SIGTERM');
  await p.exited;
}
