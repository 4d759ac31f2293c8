/**
 * usageStats with known rows (inserted through the ORM with chosen timestamps, latencies and durations),
 * asserted to the exact number on PostgreSQL (through GraphQL, with a session time zone far from UTC) and
 * on PGlite (through the service), so both databases are shown to give the same answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { Delivery } from '../../src/schema/Delivery';
import { DeliveryStatus, RunStatus } from '../../src/schema/enums';
import { Flow } from '../../src/schema/Flow';
import { Run } from '../../src/schema/Run';
import { WebhookTrigger } from '../../src/schema/WebhookTrigger';
import { Workspace } from '../../src/schema/Workspace';
import { authenticate, createWorkspace } from '../../src/services/api-keys';
import { openDatabase, type Database } from '../../src/services/database';
import type { Scope } from '../../src/services/scope';
import { StatsBucket, usageStats } from '../../src/services/stats';
import { errorCode, gql, gqlOk, startApiHarness, type ApiHarness } from '../helpers/api-harness';
import { createTestDatabase, query as sql } from '../helpers/postgres';

const at = (iso: string) => new Date(iso);

type Seeded = { flowA: string; flowB: string; otherFlow: string };

/** Inserts the known rows: see EXPECTED_HOURS for what they must add up to. */
async function seed(em: EntityManager, workspaceId: string, otherWorkspaceId: string): Promise<Seeded> {
  const newFlow = (workspace: string, name: string) => {
    const flow = em.create(Flow, { workspace: em.getReference(Workspace, workspace), name });
    const trigger = em.create(WebhookTrigger, {
      flow,
      tokenHash: `hash-${name}-${Math.random()}`,
      tokenEncrypted: 'unused',
    });
    return { flow, trigger };
  };
  const a = newFlow(workspaceId, 'A');
  const b = newFlow(workspaceId, 'B');
  const other = newFlow(otherWorkspaceId, 'Other');

  const delivery = (
    f: { flow: Flow; trigger: WebhookTrigger },
    receivedAt: string,
    status: DeliveryStatus,
    extra: Partial<Delivery> = {},
  ) =>
    em.create(Delivery, {
      workspace: f.flow.workspace,
      flow: f.flow,
      trigger: f.trigger,
      flowVersion: 1,
      status,
      method: 'POST',
      headers: {},
      sizeBytes: 2,
      receivedAt: at(receivedAt),
      ...extra,
    });
  const run = (d: Delivery, startedAt: string, durationMs: number | null, status: RunStatus) =>
    em.create(Run, {
      workspace: d.workspace,
      flow: d.flow,
      delivery: d,
      flowVersion: 1,
      workflowId: `wf-${Math.random()}`,
      status,
      startedAt: at(startedAt),
      finishedAt: durationMs === null ? undefined : new Date(at(startedAt).getTime() + durationMs),
    });

  // 10:00–11:00: four accepted (latency 10, 20, 30, 40 ms), two rejected, one duplicate; a test delivery.
  const accepted = ['10:00:00.000', '10:15:00.000', '10:30:00.000', '10:59:59.999'].map((t, i) =>
    delivery(a, `2026-03-01T${t}Z`, DeliveryStatus.ACCEPTED, { acceptLatencyMs: (i + 1) * 10 }),
  );
  delivery(a, '2026-03-01T10:05:00Z', DeliveryStatus.REJECTED, { rejectReason: 'AUTH' });
  delivery(a, '2026-03-01T10:06:00Z', DeliveryStatus.REJECTED, { rejectReason: 'VALIDATION' });
  delivery(a, '2026-03-01T10:07:00Z', DeliveryStatus.DUPLICATE, { duplicateOf: accepted[0]!.id });
  const test = delivery(a, '2026-03-01T10:08:00Z', DeliveryStatus.ACCEPTED, {
    isTest: true,
    acceptLatencyMs: 9999,
  });

  // 11:00–12:00: nothing. 12:00–13:00: one accepted (7 ms) and three rejected on A; one accepted on B.
  delivery(a, '2026-03-01T12:00:00Z', DeliveryStatus.ACCEPTED, { acceptLatencyMs: 7 });
  delivery(a, '2026-03-01T12:10:00Z', DeliveryStatus.REJECTED, { rejectReason: 'VALIDATION' });
  delivery(a, '2026-03-01T12:20:00Z', DeliveryStatus.REJECTED, { rejectReason: 'VALIDATION' });
  delivery(a, '2026-03-01T12:30:00Z', DeliveryStatus.REJECTED, { rejectReason: 'RATE_LIMIT' });
  const onB = delivery(b, '2026-03-01T12:40:00Z', DeliveryStatus.ACCEPTED, { acceptLatencyMs: 100 });

  // Runs that finish 13:00–14:00: three completed (1, 2, 3 s), one failed (4 s); on B one failed (0.5 s).
  run(accepted[0]!, '2026-03-01T12:59:59.000Z', 1000, RunStatus.COMPLETED); // finishes 13:00:00.000
  run(accepted[1]!, '2026-03-01T13:10:00.000Z', 2000, RunStatus.COMPLETED);
  run(accepted[2]!, '2026-03-01T13:20:00.000Z', 3000, RunStatus.COMPLETED);
  run(accepted[3]!, '2026-03-01T13:30:00.000Z', 4000, RunStatus.FAILED);
  run(onB, '2026-03-01T13:40:00.000Z', 500, RunStatus.FAILED);
  // Not counted: still running, the test delivery's run, a run that finishes at the end of the range.
  run(accepted[0]!, '2026-03-01T13:45:00.000Z', null, RunStatus.RUNNING);
  run(test, '2026-03-01T13:50:00.000Z', 10, RunStatus.COMPLETED);
  run(accepted[1]!, '2026-03-01T13:59:59.000Z', 1000, RunStatus.COMPLETED);

  // Outside the range or the workspace.
  delivery(a, '2026-03-01T09:59:59.999Z', DeliveryStatus.ACCEPTED, { acceptLatencyMs: 1 });
  delivery(a, '2026-03-01T14:00:00.000Z', DeliveryStatus.ACCEPTED, { acceptLatencyMs: 1 });
  delivery(other, '2026-03-01T10:30:00Z', DeliveryStatus.ACCEPTED, { acceptLatencyMs: 1 });
  // In UTC this is still March 1st; in the PostgreSQL session's time zone (+13:45) it is March 2nd.
  delivery(a, '2026-03-01T23:30:00Z', DeliveryStatus.REJECTED, { rejectReason: 'SIZE' });

  await em.flush();
  return { flowA: a.flow.id, flowB: b.flow.id, otherFlow: other.flow.id };
}

const RANGE = { from: '2026-03-01T10:00:00.000Z', to: '2026-03-01T14:00:00.000Z' };

const empty = {
  received: 0,
  accepted: 0,
  rejected: 0,
  rejectedByReason: [],
  duplicates: 0,
  runsSucceeded: 0,
  runsFailed: 0,
  acceptLatencyP50Ms: null,
  acceptLatencyP95Ms: null,
  runDurationP50Ms: null,
  runDurationP95Ms: null,
};

/** Flow A, hourly. p95 of 10..40 = 30 + 0.85 × 10 (percentile_cont interpolates). */
const EXPECTED_A = [
  {
    ...empty,
    start: '2026-03-01T10:00:00.000Z',
    received: 7,
    accepted: 4,
    rejected: 2,
    rejectedByReason: [
      { reason: 'AUTH', count: 1 },
      { reason: 'VALIDATION', count: 1 },
    ],
    duplicates: 1,
    acceptLatencyP50Ms: 25,
    acceptLatencyP95Ms: 38.5,
  },
  { ...empty, start: '2026-03-01T11:00:00.000Z' },
  {
    ...empty,
    start: '2026-03-01T12:00:00.000Z',
    received: 4,
    accepted: 1,
    rejected: 3,
    rejectedByReason: [
      { reason: 'RATE_LIMIT', count: 1 },
      { reason: 'VALIDATION', count: 2 },
    ],
    acceptLatencyP50Ms: 7,
    acceptLatencyP95Ms: 7,
  },
  {
    ...empty,
    start: '2026-03-01T13:00:00.000Z',
    runsSucceeded: 3,
    runsFailed: 1,
    runDurationP50Ms: 2500,
    runDurationP95Ms: 3850,
  },
];

/** The whole workspace adds flow B: one accepted (100 ms) at 12:xx and one failed run (500 ms) at 13:xx. */
const EXPECTED_WORKSPACE = [
  EXPECTED_A[0],
  EXPECTED_A[1],
  { ...EXPECTED_A[2], received: 5, accepted: 2, acceptLatencyP50Ms: 53.5, acceptLatencyP95Ms: 95.35 },
  { ...EXPECTED_A[3], runsFailed: 2, runDurationP50Ms: 2000, runDurationP95Ms: 3800 },
];

/**
 * Flow A by day: March 1st also holds the rows just outside the hourly range (accepted at 09:59:59.999
 * and 14:00, 1 ms each; the run that finishes at 14:00) and the SIZE rejection at 23:30 UTC.
 */
const EXPECTED_DAYS_A = [
  {
    ...empty,
    start: '2026-03-01T00:00:00.000Z',
    received: 14,
    accepted: 7,
    rejected: 6,
    rejectedByReason: [
      { reason: 'AUTH', count: 1 },
      { reason: 'RATE_LIMIT', count: 1 },
      { reason: 'SIZE', count: 1 },
      { reason: 'VALIDATION', count: 3 },
    ],
    duplicates: 1,
    runsSucceeded: 4,
    runsFailed: 1,
    acceptLatencyP50Ms: 10,
    acceptLatencyP95Ms: 37,
    runDurationP50Ms: 2000,
    runDurationP95Ms: 3800,
  },
  { ...empty, start: '2026-03-02T00:00:00.000Z' },
];

const asJson = (buckets: { start: Date }[]) => buckets.map((b) => ({ ...b, start: b.start.toISOString() }));

const USAGE = `query($flowId: ID, $from: DateTimeISO!, $to: DateTimeISO!, $bucket: StatsBucket) {
  usageStats(flowId: $flowId, from: $from, to: $to, bucket: $bucket) {
    start received accepted rejected rejectedByReason { reason count } duplicates runsSucceeded runsFailed
    acceptLatencyP50Ms acceptLatencyP95Ms runDurationP50Ms runDurationP95Ms
  }
}`;

describe('usageStats on PostgreSQL, through GraphQL', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let h: ApiHarness;
  let seeded: Seeded;
  let otherKey: string;

  beforeAll(async () => {
    pg = await createTestDatabase();
    // A session time zone with a 45-minute offset: bucketing in it instead of UTC would show at once.
    await sql(pg.url, `alter database ${pg.name} set timezone = 'Pacific/Chatham'`);
    h = await startApiHarness({ databaseUrl: pg.url });
    const em = h.services.db.em();
    const scope = (await authenticate(em, h.adminKey))!;
    const other = await createWorkspace(em, 'Other');
    otherKey = other.key;
    seeded = await seed(em, scope.workspaceId, other.workspace.id);
  });
  afterAll(async () => {
    await h?.close();
    await pg?.drop();
  });

  it('runs in ORM sessions whose time zone is not UTC', async () => {
    const rows: { tz: string }[] = await h.services.db
      .em()
      .getConnection()
      .execute("select current_setting('TimeZone') as tz");
    expect(rows).toEqual([{ tz: 'Pacific/Chatham' }]);
  });

  it("counts one flow's hours exactly, empty hours included", async () => {
    const data = await gqlOk(h, h.adminKey, USAGE, { flowId: seeded.flowA, ...RANGE, bucket: 'HOUR' });
    expect(data.usageStats).toEqual(EXPECTED_A);
  });

  it('defaults to hours and covers the whole workspace without flowId', async () => {
    const data = await gqlOk(h, h.adminKey, USAGE, RANGE);
    expect(data.usageStats).toEqual(EXPECTED_WORKSPACE);
  });

  it('cuts days in UTC', async () => {
    const data = await gqlOk(h, h.adminKey, USAGE, {
      flowId: seeded.flowA,
      from: '2026-03-01T00:00:00Z',
      to: '2026-03-03T00:00:00Z',
      bucket: 'DAY',
    });
    expect(data.usageStats).toEqual(EXPECTED_DAYS_A);
  });

  it('includes partly covered buckets at both ends, counting only what is inside the range', async () => {
    const data = await gqlOk(h, h.adminKey, USAGE, {
      flowId: seeded.flowA,
      from: '2026-03-01T10:30:00Z',
      to: '2026-03-01T11:00:00.001Z',
    });
    expect(data.usageStats.map((b: any) => [b.start, b.received, b.accepted])).toEqual([
      ['2026-03-01T10:00:00.000Z', 2, 2],
      ['2026-03-01T11:00:00.000Z', 0, 0],
    ]);
  });

  it('allows 744 buckets and refuses 745, and refuses an empty or reversed range', async () => {
    const ok = await gqlOk(h, h.adminKey, USAGE, {
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
    });
    expect(ok.usageStats).toHaveLength(744);
    expect(ok.usageStats[0].start).toBe('2026-01-01T00:00:00.000Z');
    expect(ok.usageStats[743].start).toBe('2026-01-31T23:00:00.000Z');

    const tooMany = await gql(h, h.adminKey, USAGE, {
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00.001Z',
    });
    expect(errorCode(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors![0]!.message).toBe(
      'invalid statistics range: to: the range spans 745 hour buckets; at most 744 are allowed (use a shorter range or DAY buckets)',
    );
    expect(tooMany.data).toBeNull();

    const days = await gql(h, h.adminKey, USAGE, {
      from: '2024-01-01T00:00:00Z',
      to: '2026-03-01T00:00:00Z',
      bucket: 'DAY',
    });
    expect(days.errors![0]!.message).toMatch(/spans 790 day buckets; at most 744/);

    for (const range of [
      { from: RANGE.from, to: RANGE.from },
      { from: RANGE.to, to: RANGE.from },
    ]) {
      const r = await gql(h, h.adminKey, USAGE, range);
      expect(errorCode(r)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.message).toBe('invalid statistics range: to: must be later than from');
      expect(r.errors![0]!.extensions!.issues).toEqual([{ path: 'to', message: 'must be later than from' }]);
    }
  });

  it("answers NOT_FOUND for another workspace's flow and counts only the caller's workspace", async () => {
    const foreign = await gql(h, otherKey, USAGE, { flowId: seeded.flowA, ...RANGE });
    expect(errorCode(foreign)).toBe('NOT_FOUND');
    expect(foreign.errors![0]!.message).toBe(`flow ${seeded.flowA} not found`);
    const notAnId = await gql(h, h.adminKey, USAGE, { flowId: 'nope', ...RANGE });
    expect(errorCode(notAnId)).toBe('NOT_FOUND');

    const own = await gqlOk(h, otherKey, USAGE, { flowId: seeded.otherFlow, ...RANGE });
    expect(own.usageStats[0]).toMatchObject({ received: 1, accepted: 1, acceptLatencyP50Ms: 1 });
    const whole = await gqlOk(h, otherKey, USAGE, RANGE);
    expect(whole.usageStats.map((b: any) => b.received)).toEqual([1, 0, 0, 0]);
  });

  it('needs an API key', async () => {
    const r = await gql(h, undefined, USAGE, RANGE);
    expect(errorCode(r)).toBe('UNAUTHENTICATED');
  });
});

describe('usageStats on PGlite', () => {
  let dataDir: string;
  let db: Database;
  let scope: Scope;
  let seeded: Seeded;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'hookflow-stats-'));
    db = await openDatabase({ dataDir });
    const em = db.em();
    const mine = await createWorkspace(em, 'Mine');
    const other = await createWorkspace(em, 'Other');
    scope = (await authenticate(em, mine.key))!;
    seeded = await seed(em, mine.workspace.id, other.workspace.id);
  });
  afterAll(async () => {
    await db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const stats = (q: { flowId?: string; from: string; to: string; bucket?: StatsBucket }) =>
    usageStats(db.em(), scope, {
      flowId: q.flowId,
      from: at(q.from),
      to: at(q.to),
      bucket: q.bucket ?? StatsBucket.HOUR,
    }).then(asJson);

  it('gives the same numbers as PostgreSQL for one flow, the workspace and days', async () => {
    expect(db.kind).toBe('pglite');
    expect(await stats({ flowId: seeded.flowA, ...RANGE })).toEqual(EXPECTED_A);
    expect(await stats(RANGE)).toEqual(EXPECTED_WORKSPACE);
    expect(
      await stats({
        flowId: seeded.flowA,
        from: '2026-03-01T00:00:00Z',
        to: '2026-03-03T00:00:00Z',
        bucket: StatsBucket.DAY,
      }),
    ).toEqual(EXPECTED_DAYS_A);
  });

  it('refuses the same ranges', async () => {
    await expect(stats({ from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00.001Z' })).rejects.toThrow(
      'the range spans 745 hour buckets',
    );
    await expect(stats({ flowId: seeded.otherFlow, ...RANGE })).rejects.toThrow(
      `flow ${seeded.otherFlow} not found`,
    );
  });
});
