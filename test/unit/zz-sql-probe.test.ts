import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/services/database';
import { createTestDatabase } from '../helpers/postgres';

it.each(['pglite', 'pg'])('sql on %s', async (kind) => {
  const pg = kind === 'pg' ? await createTestDatabase() : undefined;
  const db = await openDatabase({ databaseUrl: pg?.url, dataDir: mkdtempSync(path.join(os.tmpdir(), 'x-')) });
  const rows = await db.sql<any>(
    `select $1::text::jsonb as j, $2::text[] as arr, $3::timestamptz as t, $4::int as n, $5::text as s,
      (select coalesce(jsonb_object_agg(k, v), '{}'::jsonb) from (values ('__proto__', '{"a":1}'::jsonb)) x(k, v)) as agg`,
    [JSON.stringify([1, { a: 'x' }]), ['a', 'b,c', 'd"e'], new Date('2026-01-01T00:00:00Z'), null, "it's"],
  );
  console.log(kind, rows, Object.keys(rows[0].agg), db.statementCount());
  await db.sql(`select pg_notify('x', p) from unnest($1::text[]) with ordinality as t(p, n) order by n`, [
    ['a', 'b'],
  ]);
  await expect(db.sql('select * from nope')).rejects.toThrow(/nope/);
  await db.close();
  await pg?.drop();
});
