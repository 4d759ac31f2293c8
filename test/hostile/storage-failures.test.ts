/**
 * 503 + Retry-After only when the database is really unavailable; any other storage failure is a bug: 500,
 * logged, never presented as "retry later".
 */
import { Writable } from 'node:stream';
import { Client } from 'pg';
import pino from 'pino';
import { startApp } from '../../src/app';
import { isDatabaseUnavailable, openDatabase, type Database } from '../../src/services/database';
import { freePort } from '../../src/temporal/dev-server';
import { testConfig, type TestApp } from '../helpers/hookflow';
import { createTestDatabase, query } from '../helpers/postgres';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { createFlow, deliveriesOf, postJson, send, type Flow } from '../integration/ingress-helpers';

const PG_PORT = (url: string) => Number(new URL(url).port || 5432);
const UNAVAILABLE = { error: 'unavailable', message: 'the delivery could not be stored; retry later' };
const INTERNAL = { error: 'internal_error', message: 'the delivery could not be processed' };

/** The error a statement fails with (undefined when it succeeds). */
const failureOf = (db: Database, sql: string, params: unknown[] = []) =>
  db.sql(sql, params).then(
    () => undefined,
    (err: unknown) => err,
  );

describe('storage failures', () => {
  let pgDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let app: TestApp;
  let flow: Flow;
  const logged: { level: number; msg: string; err?: unknown }[] = [];

  beforeAll(async () => {
    pgDb = await createTestDatabase();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: PG_PORT(pgDb.url) });
    const viaProxy = new URL(pgDb.url);
    viaProxy.port = String(proxy.port);
    const config = await testConfig({ databaseUrl: viaProxy.toString() });
    const sink = new Writable({
      write(line: Buffer, _enc, done) {
        logged.push(JSON.parse(line.toString()));
        done();
      },
    });
    const started = await startApp(config, pino({ level: 'error' }, sink));
    app = { ...started, adminKey: config.adminKey!, config };
    flow = await createFlow(app, { name: 'Storage', trigger: { label: 'In', methods: ['POST', 'PATCH'] } });
  });
  afterAll(async () => {
    await app?.stop();
    await proxy?.close();
    await pgDb?.drop();
  });

  it('tells an unavailable database from a failing statement', async () => {
    const db = await openDatabase({ databaseUrl: pgDb.url, dataDir: app.config.dataDir });
    try {
      const statementErrors = [
        await failureOf(db, 'select $1::text::jsonb', ['"\\u0000"']), // 22P05
        await failureOf(db, 'select $1::text::jsonb', ['"\\ud800"']), // 22P02
        await failureOf(db, 'select $1::text', ['a\u0000b']), // 08P01: a protocol violation, our bug
        await failureOf(db, 'selec 1'), // 42601
        await failureOf(db, 'select 1/0'), // 22012
      ];
      expect(statementErrors.every((e) => e !== undefined)).toBe(true);
      expect(statementErrors.map(isDatabaseUnavailable)).toEqual([false, false, false, false, false]);
    } finally {
      await db.close();
    }

    const nobody = await freePort();
    const refused = await new Client({ connectionString: `postgres://postgres@127.0.0.1:${nobody}/x` })
      .connect()
      .catch((e: unknown) => e);
    expect(isDatabaseUnavailable(refused)).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('too many connections'), { code: '53300' }))).toBe(
      true,
    );
    expect(isDatabaseUnavailable(Object.assign(new Error('shutting down'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('answers 503 with Retry-After while the database is unreachable, and accepts again after', async () => {
    expect((await postJson(flow.webhookUrl, { n: 1 })).status).toBe(202); // the trigger is now cached
    proxy.cut();
    try {
      const down = await postJson(flow.webhookUrl, { n: 2 });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(down.json).toEqual(UNAVAILABLE);
      // A refusal that cannot be recorded is still answered as what it is.
      const notAllowed = await send(flow.webhookUrl, { method: 'PUT', body: '{}' });
      expect(notAllowed.status).toBe(405);
    } finally {
      proxy.restore();
    }
    const back = await postJson(flow.webhookUrl, { n: 3 });
    expect(back.status).toBe(202);
    expect((await deliveriesOf(pgDb.url, flow.id)).map((d) => (d.body as { n: number }).n)).toEqual([1, 3]);
  });

  it('answers 500 without Retry-After, and logs the error, when a statement fails for another reason', async () => {
    // A constraint the insert breaks stands for any bug in a statement; the database itself is fine.
    await query(pgDb.url, `alter table delivery add constraint hostile_no_patch check (method <> 'PATCH')`);
    try {
      logged.length = 0;
      const res = await send(flow.webhookUrl, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: '{"n":4}',
      });
      expect(res.status).toBe(500);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.json).toEqual(INTERNAL);
      expect(logged).toContainEqual(
        expect.objectContaining({
          msg: 'accepting the delivery failed',
          err: expect.objectContaining({ message: expect.stringContaining('hostile_no_patch') }),
        }),
      );
    } finally {
      await query(pgDb.url, 'alter table delivery drop constraint hostile_no_patch');
    }
    const ok = await send(flow.webhookUrl, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{"n":5}',
    });
    expect(ok.status).toBe(202);
    const bodies = (await deliveriesOf(pgDb.url, flow.id)).map((d) => (d.body as { n: number }).n);
    expect(bodies).toEqual([1, 3, 5]);
  });
});
