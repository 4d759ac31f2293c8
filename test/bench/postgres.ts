/** Fresh databases on the local PostgreSQL for one measurement, dropped when its scope closes. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Scope } from './scope';

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type BenchDatabase = {
  name: string;
  url: string;
  /** A connection of the benchmark's own, for polling (it is not one of the app's). */
  count(sql: string): Promise<number>;
};

export async function createBenchDatabase(scope: Scope): Promise<BenchDatabase> {
  const name = `hookflow_bench_${randomBytes(5).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  scope.defer(`database ${name}`, name, dropDatabase);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  scope.defer(`connection to ${name}`, client, (c) => c.end());
  return {
    name,
    url: url.toString(),
    count: async (sql) => Number((await client.query<{ count: string }>(sql)).rows[0]!.count),
  };
}

export function dropDatabase(name: string): Promise<void> {
  return adminQuery(`drop database if exists ${name} with (force)`);
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}
