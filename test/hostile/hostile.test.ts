/**
 * The hostile-input table: every case sends what an attacker or a broken sender would, and must get its documented
 * 4xx (or a 2xx for legitimate but odd input), never a 5xx, with what was stored checked by the case id header,
 * the process still answering /healthz, and legitimate orders posted all along still accepted.
 * One app instance, one database, loopback only. Case ids are stable: add new ones, never renumber.
 */
import { Client } from 'pg';
import { startTestApp } from '../helpers/hookflow';
import { createTestDatabase } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';
import { createFlow, postJson, type Flow } from '../integration/ingress-helpers';
import { contentTypeCases, encodingCases, jsonCases } from './cases/content';
import { graphqlCases } from './cases/graphql';
import { headerCases } from './cases/headers';
import { authFlowInputs, signatureCases } from './cases/signatures';
import { TEMPLATE_RESPONSE, TEMPLATE_STEP_BODY, templateCases } from './cases/templates';
import { transportCases } from './cases/transport';
import { sleep, storedFor, type HostileCase, type HostileContext, type Preset, type Reply } from './harness';

const CASES: HostileCase[] = [
  ...transportCases,
  ...contentTypeCases,
  ...jsonCases,
  ...encodingCases,
  ...headerCases,
  ...signatureCases,
  ...templateCases,
  ...graphqlCases,
];

/** Posts a valid order every LEGIT_INTERVAL_MS while the table runs; every one must be accepted. */
const LEGIT_INTERVAL_MS = 250;

function legitimateTraffic(flow: Flow) {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const reply = await postJson(
        flow.webhookUrl,
        { order_id: `L-${i}`, total: i },
        { 'idempotency-key': `legit-${i}` },
      ).catch(() => ({ status: 0 }));
      statuses.push(reply.status);
      await sleep(LEGIT_INTERVAL_MS);
    }
  })();
  return {
    statuses,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Polls briefly: a read cut short by the client is recorded just after the connection went away. */
async function storedEventually(ctx: HostileContext, id: string, expected: unknown[]) {
  let actual: unknown[] = [];
  for (let attempt = 0; attempt < 30; attempt++) {
    actual = (await storedFor(ctx, id)).map((r) =>
      r.reject_reason ? [r.status, r.reject_reason] : [r.status],
    );
    if (JSON.stringify(actual) === JSON.stringify(expected)) break;
    await sleep(100);
  }
  return actual;
}

describe('hostile input', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let target: Awaited<ReturnType<typeof startTargetServer>>;
  let ctx: HostileContext;
  let legitFlow: Flow;
  let legit: ReturnType<typeof legitimateTraffic>;
  /** Slow cases, started in beforeAll; their tests wait for them. */
  const started = new Map<string, Promise<Reply | Error>>();

  beforeAll(async () => {
    db = await createTestDatabase();
    target = await startTargetServer();
    const app = await startTestApp({ databaseUrl: db.url });
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const flow = (name: string, trigger: Record<string, unknown> = {}, steps: unknown[] = []) =>
      createFlow(app, { name, trigger: { label: name, ...trigger }, steps });
    const auth = authFlowInputs();
    const authFlows = {} as HostileContext['flows']['auth'];
    for (const [preset, { secret, trigger }] of Object.entries(auth) as [Preset, (typeof auth)[Preset]][]) {
      authFlows[preset] = { ...(await flow(preset, trigger)), secret };
    }
    ctx = {
      app,
      port: app.port,
      pg,
      flows: {
        open: await flow('Open', { methods: ['POST', 'PUT'] }),
        small: await flow('Small', { maxBodyBytes: 1024 }),
        typed: await flow('Typed', {
          variables: [
            { name: 'order_id', type: 'STRING', required: true },
            { name: 'total', type: 'NUMBER', required: true },
          ],
        }),
        get: await flow('Get', { methods: ['GET', 'POST'] }),
        template: await flow(
          'Template',
          {
            variables: [
              { name: 'note', type: 'STRING' },
              { name: 'meta', type: 'OBJECT' },
            ],
            responseMode: 'SYNC',
            syncTimeoutMs: 30_000,
            response: TEMPLATE_RESPONSE,
          },
          [
            {
              key: 'echo',
              plugin: 'http',
              action: 'request',
              input: { url: `${target.url}/echo`, body: TEMPLATE_STEP_BODY },
            },
          ],
        ),
        auth: authFlows,
      },
    };
    legitFlow = await flow('Legit', {
      variables: [
        { name: 'order_id', type: 'STRING', required: true },
        { name: 'total', type: 'NUMBER', required: true },
      ],
    });
    legit = legitimateTraffic(legitFlow);
    for (const c of CASES.filter((x) => x.slow)) {
      started.set(
        c.id,
        c.send(ctx, c.id).catch((err: Error) => err),
      );
    }
  });

  afterAll(async () => {
    await legit?.stop();
    await Promise.all(started.values());
    await ctx?.pg.end();
    await ctx?.app.stop();
    await target?.close();
    await db?.drop();
  });

  it.each(CASES.map((c) => [`${c.id} ${c.title}`, c] as const))('%s', async (_name, c) => {
    const outcome = await (started.get(c.id) ?? c.send(ctx, c.id));
    if (outcome instanceof Error) throw outcome;
    const reply = outcome;
    expect({ id: c.id, status: reply.status }).toEqual({ id: c.id, status: c.expect.status });
    expect(reply.status).toBeLessThan(500);
    if (c.expect.error) expect(reply.json?.error).toBe(c.expect.error);
    if (typeof c.expect.message === 'string') expect(reply.json?.message).toBe(c.expect.message);
    if (c.expect.message instanceof RegExp) expect(reply.json?.message).toMatch(c.expect.message);
    if (c.expect.stored) expect(await storedEventually(ctx, c.id, c.expect.stored)).toEqual(c.expect.stored);
    await c.check?.(reply, ctx, c.id);
    expect((await fetch(`${ctx.app.url}/healthz`)).status).toBe(200);
  });

  it('accepted every legitimate order sent while the table ran, and ran each once', async () => {
    await legit.stop();
    expect(legit.statuses.length).toBeGreaterThanOrEqual(20);
    expect(legit.statuses.filter((s) => s !== 202)).toEqual([]);
    const { rows } = await ctx.pg.query(
      `select d.status, count(r.id)::int as runs from delivery d left join run r on r.delivery_id = d.id
        where d.flow_id = $1 group by d.id, d.status`,
      [legitFlow.id],
    );
    expect(rows).toHaveLength(legit.statuses.length);
    expect(rows.every((r) => r.status === 'ACCEPTED' && r.runs <= 1)).toBe(true);
  });

  it('started a run for no refused delivery', async () => {
    const { rows } = await ctx.pg.query(
      `select count(*)::int as n from delivery d join run r on r.delivery_id = d.id where d.status <> 'ACCEPTED'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('left Object.prototype untouched', () => {
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it(`has at least 200 cases, each with a unique stable id`, () => {
    const ids = CASES.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^H-[A-Z]+(-[A-Z]+)?-\d{3}$/);
    expect(CASES.length).toBeGreaterThanOrEqual(200);
  });
});
