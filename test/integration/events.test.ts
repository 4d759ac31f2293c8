import { createWorkspace } from '../../src/services/api-keys';
import type { PostgresEventBus } from '../../src/services/events';
import {
  CREATE_FLOW,
  eventually,
  gqlOk,
  startTestApp,
  subscribe,
  wsClient,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase, query } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

const ACTIVITY = `subscription($id: ID, $after: String) {
  flowActivity(flowId: $id, after: $after) { type flowId runId cursor }
}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A flow whose events the tests publish by hand (it never runs). */
async function newFlow(app: TestApp, key: string, name: string) {
  const { createFlow } = await gqlOk(app, key, CREATE_FLOW, {
    input: {
      name,
      steps: [{ key: 'call', plugin: 'http', action: 'request', input: { url: 'http://x.test' } }],
    },
  });
  const [row] = await query<{ workspace_id: string }>(
    app.config.databaseUrl!,
    'select workspace_id from flow where id = $1',
    [createFlow.id],
  );
  return { id: createFlow.id as string, workspaceId: row!.workspace_id };
}

/** Publishes RUN_STARTED events whose runId names them, in order, each stored before the next. */
async function publish(app: TestApp, flow: { id: string; workspaceId: string }, ...names: string[]) {
  for (const runId of names) {
    await app.services.events.publish({
      type: 'RUN_STARTED',
      workspaceId: flow.workspaceId,
      flowId: flow.id,
      runId,
    });
  }
}

type Sub = { events: any[]; errors: unknown[] };
const runIds = (sub: Sub) => sub.events.map((e) => e.flowActivity.runId as string);
const cursors = (sub: Sub) => sub.events.map((e) => BigInt(e.flowActivity.cursor as string));
const untilReceived = (sub: Sub, count: number) =>
  eventually(() => (sub.events.length >= count ? runIds(sub) : undefined), 10_000, `${count} events`);
const newestCursor = async (url: string) =>
  (await query<{ seq: string }>(url, 'select coalesce(max(seq), 0)::text as seq from flow_event'))[0]!.seq;

function expectIncreasing(values: bigint[]) {
  values.slice(1).forEach((v, i) => expect(v > values[i]!).toBe(true));
}

describe('flowActivity across processes', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: TestApp;
  let ingressAndWorker: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startTestApp({ databaseUrl: db.url, roles: ['api'] });
    ingressAndWorker = await startTestApp({
      databaseUrl: db.url,
      roles: ['ingress', 'worker'],
      secretKey: api.config.secretKey,
      temporal: api.config.temporal,
    });
  });
  afterAll(async () => {
    await ingressAndWorker?.stop();
    await api?.stop();
    await db?.drop();
  });

  it('streams events published by the ingress and worker roles to a subscription on the API role', async () => {
    const target = await startTargetServer();
    try {
      const { createFlow: flow } = await gqlOk(api, api.adminKey, CREATE_FLOW, {
        input: {
          name: 'Split roles',
          steps: [{ key: 'call', plugin: 'http', action: 'request', input: { url: `${target.url}/x` } }],
        },
      });
      const ws = wsClient(api, api.adminKey);
      const sub = subscribe(ws, 'subscription($id: ID) { flowActivity(flowId: $id) { type status } }', {
        id: flow.id,
      });
      await new Promise((r) => setTimeout(r, 300));

      const webhookUrl = flow.webhookUrl.replace(api.config.publicUrl, ingressAndWorker.config.publicUrl);
      const res = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(202);

      await eventually(async () =>
        sub.events.some((e) => e.flowActivity.type === 'RUN_FINISHED') ? true : undefined,
      );
      expect(sub.events.map((e) => [e.flowActivity.type, e.flowActivity.status])).toEqual([
        ['DELIVERY_RECEIVED', 'ACCEPTED'],
        ['RUN_STARTED', 'RUNNING'],
        ['STEP_STARTED', 'RUNNING'],
        ['STEP_SUCCEEDED', 'SUCCEEDED'],
        ['RUN_FINISHED', 'COMPLETED'],
      ]);
      sub.dispose();
      await ws.dispose();
    } finally {
      await target.close();
    }
  });
  it('keeps listening after its connection is killed: events published meanwhile and afterwards arrive, and /readyz recovers', async () => {
    const flow = await newFlow(api, api.adminKey, 'Listener blip');
    const ws = wsClient(api, api.adminKey);
    const sub = subscribe(ws, ACTIVITY, { id: flow.id });
    await sleep(300);
    await publish(ingressAndWorker, flow, 'before');
    await untilReceived(sub, 1);

    const killed = await query(
      db.url,
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%'`,
    );
    expect(killed).toHaveLength(2); // the api's listener and the ingress/worker's
    await publish(ingressAndWorker, flow, 'while away'); // the listeners retry after 0.5 s
    const down = await eventually(async () => {
      const r = await fetch(`${api.url}/readyz`);
      return r.status === 503 ? r.json() : undefined;
    });
    expect(down).toEqual({ status: 'not_ready', checks: { database: true, temporal: true, events: false } });
    const up = await eventually(async () => {
      const r = await fetch(`${api.url}/readyz`);
      return r.status === 200 ? r.json() : undefined;
    });
    expect(up).toEqual({ status: 'ready', checks: { database: true, temporal: true, events: true } });

    await publish(ingressAndWorker, flow, 'after');
    expect(await untilReceived(sub, 3)).toEqual(['before', 'while away', 'after']);
    expectIncreasing(cursors(sub));
    await sleep(200);
    expect(sub.events).toHaveLength(3);
    expect(sub.errors).toEqual([]);
    sub.dispose();
    await ws.dispose();
  });

  it('resumes after the last cursor: exactly the missed events in order, then live ones', async () => {
    const flow = await newFlow(api, api.adminKey, 'Resume');
    const ws = wsClient(api, api.adminKey);
    const first = subscribe(ws, ACTIVITY, { id: flow.id });
    await sleep(300);
    await publish(ingressAndWorker, flow, 'r1', 'r2');
    await untilReceived(first, 2);
    const last = first.events[1].flowActivity.cursor as string;
    first.dispose();
    await ws.dispose();

    await publish(ingressAndWorker, flow, 'r3', 'r4'); // missed while disconnected

    const ws2 = wsClient(api, api.adminKey);
    const resumed = subscribe(ws2, ACTIVITY, { id: flow.id, after: last });
    expect(await untilReceived(resumed, 2)).toEqual(['r3', 'r4']);
    await publish(ingressAndWorker, flow, 'r5');
    expect(await untilReceived(resumed, 3)).toEqual(['r3', 'r4', 'r5']);
    expectIncreasing([BigInt(last), ...cursors(resumed)]);
    await sleep(200);
    expect(resumed.events).toHaveLength(3);
    expect(resumed.errors).toEqual([]);
    resumed.dispose();
    await ws2.dispose();
  });

  it('has neither a gap nor a repeat where the replay meets live events', async () => {
    const flow = await newFlow(api, api.adminKey, 'Seam');
    const after = await newestCursor(db.url);
    const names = (from: number) => Array.from({ length: 10 }, (_, i) => `s${from + i}`);
    await publish(ingressAndWorker, flow, ...names(0)); // stored before the subscriber comes back: replay only

    // Hold the replay query back while more events are published: they are then both in the replay and in the
    // live events buffered meanwhile.
    const database = api.services.db;
    const sql = database.sql;
    let replayReached!: () => void;
    const reached = new Promise<void>((r) => (replayReached = r));
    let releaseReplay!: () => void;
    const released = new Promise<void>((r) => (releaseReplay = r));
    database.sql = (async (text: string, params?: unknown[]) => {
      if (text.includes('from flow_event') && text.includes('newest')) {
        replayReached();
        await released;
      }
      return sql(text, params);
    }) as typeof database.sql;
    try {
      const ws = wsClient(api, api.adminKey);
      const sub = subscribe(ws, ACTIVITY, { id: flow.id, after });
      await reached;
      await publish(ingressAndWorker, flow, ...names(10)); // in both
      await sleep(100);
      releaseReplay();
      await publish(ingressAndWorker, flow, ...names(20)); // live only
      const all = [...names(0), ...names(10), ...names(20)];
      expect(await untilReceived(sub, all.length)).toEqual(all);
      expectIncreasing(cursors(sub));
      await sleep(200);
      expect(sub.events).toHaveLength(all.length);
      sub.dispose();
      await ws.dispose();
    } finally {
      database.sql = sql;
    }
  });

  it("replays only the subscriber's workspace, and only the flow asked for", async () => {
    const other = await createWorkspace(api.services.db.em(), 'Other');
    const a1 = await newFlow(api, api.adminKey, 'A one');
    const a2 = await newFlow(api, api.adminKey, 'A two');
    const b = await newFlow(api, other.key, 'B');
    const after = await newestCursor(db.url);
    await publish(ingressAndWorker, a1, 'a1');
    await publish(ingressAndWorker, a2, 'a2');
    await publish(ingressAndWorker, b, 'b1');
    await publish(ingressAndWorker, { id: a1.id, workspaceId: b.workspaceId }, 'forged'); // names A's flow, B's workspace
    await publish(ingressAndWorker, a1, 'a3');

    const ws = wsClient(api, api.adminKey);
    const wholeWorkspace = subscribe(ws, ACTIVITY, { after });
    const oneFlow = subscribe(ws, ACTIVITY, { id: a1.id, after });
    expect(await untilReceived(wholeWorkspace, 3)).toEqual(['a1', 'a2', 'a3']);
    expect(await untilReceived(oneFlow, 2)).toEqual(['a1', 'a3']);

    const wsB = wsClient(api, other.key);
    const foreign = subscribe(wsB, ACTIVITY, { id: a1.id, after });
    const ownB = subscribe(wsB, ACTIVITY, { id: b.id, after });
    expect(await untilReceived(ownB, 1)).toEqual(['b1']);
    await eventually(() => (foreign.errors.length ? true : undefined));
    expect(foreign.errors[0]).toEqual([expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })]);

    await sleep(200);
    expect([wholeWorkspace, oneFlow, ownB].map((s) => s.events.length)).toEqual([3, 2, 1]);
    expect(foreign.events).toEqual([]);
    [wholeWorkspace, oneFlow, foreign, ownB].forEach((s) => s.dispose());
    await ws.dispose();
    await wsB.dispose();
  });

  it('refuses a cursor that is not one', async () => {
    const ws = wsClient(api, api.adminKey);
    const sub = subscribe(ws, ACTIVITY, { after: 'yesterday' });
    await eventually(() => (sub.errors.length ? true : undefined));
    expect(sub.errors[0]).toEqual([
      expect.objectContaining({
        extensions: {
          code: 'BAD_USER_INPUT',
          issues: [{ path: 'after', message: 'must be a cursor of a FlowEvent' }],
        },
      }),
    ]);
    await ws.dispose();
  });

  it('deletes stored events past the retention window, oldest first, in batches', async () => {
    const flow = await newFlow(api, api.adminKey, 'Retention');
    // 2,500 more events (three delete batches), then everything stored so far is made 8 days old.
    await query(
      db.url,
      `insert into flow_event (workspace_id, flow_id, payload) select $1, $2, '{}' from generate_series(1, 2500)`,
      [flow.workspaceId, flow.id],
    );
    await query(db.url, `update flow_event set created_at = now() - interval '8 days'`);
    await publish(ingressAndWorker, flow, 'k1', 'k2', 'k3');
    const [{ n: old }] = await query<{ n: number }>(
      db.url,
      `select count(*)::int as n from flow_event where created_at < now() - interval '7 days'`,
    );
    expect(old).toBeGreaterThanOrEqual(2500);

    expect(await (api.services.events as PostgresEventBus).prune()).toBe(old);
    const kept = await query<{ run_id: string }>(
      db.url,
      `select payload->>'runId' as run_id from flow_event order by seq`,
    );
    expect(kept).toEqual([{ run_id: 'k1' }, { run_id: 'k2' }, { run_id: 'k3' }]);
  });
});

describe('flowActivity resumes on the embedded PGlite database too', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ databaseUrl: undefined, roles: ['api'] });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('stores events and replays the missed ones after a cursor, then live ones', async () => {
    expect(app.services.db.kind).toBe('pglite');
    const { createFlow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
      input: { name: 'Embedded', steps: [] },
    });
    const [row] = await app.services.db.sql<{ workspace_id: string }>(
      'select workspace_id from flow where id = $1',
      [createFlow.id],
    );
    const flow = { id: createFlow.id as string, workspaceId: row!.workspace_id };
    const ws = wsClient(app, app.adminKey);
    const first = subscribe(ws, ACTIVITY, { id: flow.id });
    await sleep(300);
    await publish(app, flow, 'p1');
    await untilReceived(first, 1);
    first.dispose();

    await publish(app, flow, 'p2', 'p3');
    const resumed = subscribe(ws, ACTIVITY, { id: flow.id, after: first.events[0].flowActivity.cursor });
    expect(await untilReceived(resumed, 2)).toEqual(['p2', 'p3']);
    await publish(app, flow, 'p4');
    expect(await untilReceived(resumed, 3)).toEqual(['p2', 'p3', 'p4']);
    expectIncreasing(cursors(resumed));
    resumed.dispose();
    await ws.dispose();
    expect(await fetch(`${app.url}/readyz`).then((r) => r.json())).toMatchObject({
      checks: { events: true },
    });
  });
});
