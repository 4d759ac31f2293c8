import type { EntityManager } from '@mikro-orm/core';
import { Flow } from '../schema/Flow';
import { BadInputError, type IssueDetail } from './errors';
import { findOwned, type Scope } from './scope';

/**
 * Usage statistics per time bucket, computed in SQL that gives the same answer on PostgreSQL and PGlite:
 * buckets are cut in UTC whatever the session time zone (`… at time zone 'UTC'`, then plain timestamps, so
 * a DAY is always 24 hours), every bucket of the range is returned (generate_series) so charts have no
 * gaps, and percentiles (percentile_cont, interpolated) are rounded to 0.01 ms.
 *
 * What is counted:
 * - deliveries by `receivedAt` in [from, to): received = accepted + rejected + duplicates;
 * - accept latency over accepted deliveries;
 * - runs by `finishedAt` in [from, to) (a run counts when it ends), with duration finishedAt − startedAt;
 * - test deliveries (sendTestWebhook) and their runs are left out: they are not traffic.
 */

export enum StatsBucket {
  HOUR = 'HOUR',
  DAY = 'DAY',
}

export const MAX_BUCKETS = 744;

export type RejectReasonCount = { reason: string; count: number };

export type UsageBucket = {
  start: Date;
  received: number;
  accepted: number;
  rejected: number;
  rejectedByReason: RejectReasonCount[];
  duplicates: number;
  runsSucceeded: number;
  runsFailed: number;
  acceptLatencyP50Ms: number | null;
  acceptLatencyP95Ms: number | null;
  runDurationP50Ms: number | null;
  runDurationP95Ms: number | null;
};

export type UsageQuery = { flowId?: string | null; from: Date; to: Date; bucket: StatsBucket };

/** SQL fragments per bucket size; chosen from this closed list, never from input. */
const UNITS: Record<StatsBucket, { trunc: string; step: string; ms: number }> = {
  [StatsBucket.HOUR]: { trunc: 'hour', step: '1 hour', ms: 3_600_000 },
  [StatsBucket.DAY]: { trunc: 'day', step: '1 day', ms: 86_400_000 },
};

export async function usageStats(em: EntityManager, scope: Scope, q: UsageQuery): Promise<UsageBucket[]> {
  const unit = UNITS[q.bucket];
  checkRange(q);
  if (q.flowId != null) await findOwned(em, Flow, q.flowId, scope, 'flow');

  const from = q.from.toISOString();
  const to = q.to.toISOString();
  const flowFilter = (table: string) => (q.flowId != null ? `and ${table}.flow_id = ?` : '');
  const owner = (...rest: unknown[]) => [scope.workspaceId, ...(q.flowId != null ? [q.flowId] : []), ...rest];
  const bucketOf = (column: string) => `date_trunc('${unit.trunc}', ${column} at time zone 'UTC')`;
  const rounded = (expr: string) => `round(cast(${expr} as numeric), 2)::float8`;

  const sql = `
    with buckets as (
      select b as bucket
      from generate_series(
        ${bucketOf('cast(? as timestamptz)')},
        ${bucketOf("(cast(? as timestamptz) - interval '1 microsecond')")},
        interval '${unit.step}'
      ) as b
    ),
    deliveries as (
      select ${bucketOf('d.received_at')} as bucket,
        count(*) as received,
        count(*) filter (where d.status = 'ACCEPTED') as accepted,
        count(*) filter (where d.status = 'REJECTED') as rejected,
        count(*) filter (where d.status = 'DUPLICATE') as duplicates,
        percentile_cont(0.5) within group (order by d.accept_latency_ms) filter (where d.status = 'ACCEPTED') as latency_p50,
        percentile_cont(0.95) within group (order by d.accept_latency_ms) filter (where d.status = 'ACCEPTED') as latency_p95
      from delivery d
      where d.workspace_id = ? ${flowFilter('d')} and not d.is_test
        and d.received_at >= cast(? as timestamptz) and d.received_at < cast(? as timestamptz)
      group by 1
    ),
    runs as (
      select ${bucketOf('r.finished_at')} as bucket,
        count(*) filter (where r.status = 'COMPLETED') as succeeded,
        count(*) filter (where r.status = 'FAILED') as failed,
        percentile_cont(0.5) within group (order by cast(extract(epoch from (r.finished_at - r.started_at)) * 1000 as float8)) as duration_p50,
        percentile_cont(0.95) within group (order by cast(extract(epoch from (r.finished_at - r.started_at)) * 1000 as float8)) as duration_p95
      from run r
      join delivery d on d.id = r.delivery_id
      where r.workspace_id = ? ${flowFilter('r')} and not d.is_test and r.status in ('COMPLETED', 'FAILED')
        and r.finished_at >= cast(? as timestamptz) and r.finished_at < cast(? as timestamptz)
      group by 1
    )
    select extract(epoch from b.bucket)::float8 as start_epoch,
      coalesce(d.received, 0)::int as received,
      coalesce(d.accepted, 0)::int as accepted,
      coalesce(d.rejected, 0)::int as rejected,
      coalesce(d.duplicates, 0)::int as duplicates,
      coalesce(r.succeeded, 0)::int as runs_succeeded,
      coalesce(r.failed, 0)::int as runs_failed,
      ${rounded('d.latency_p50')} as latency_p50,
      ${rounded('d.latency_p95')} as latency_p95,
      ${rounded('r.duration_p50')} as duration_p50,
      ${rounded('r.duration_p95')} as duration_p95
    from buckets b
    left join deliveries d on d.bucket = b.bucket
    left join runs r on r.bucket = b.bucket
    order by b.bucket`;

  const reasonsSql = `
    select extract(epoch from ${bucketOf('d.received_at')})::float8 as start_epoch,
      coalesce(d.reject_reason, 'UNKNOWN') as reason,
      count(*)::int as count
    from delivery d
    where d.workspace_id = ? ${flowFilter('d')} and not d.is_test and d.status = 'REJECTED'
      and d.received_at >= cast(? as timestamptz) and d.received_at < cast(? as timestamptz)
    group by 1, 2
    order by 1, 2`;

  const connection = em.getConnection();
  const rows: StatsRow[] = await connection.execute(sql, [from, to, ...owner(from, to), ...owner(from, to)]);
  const reasonRows: ReasonRow[] = await connection.execute(reasonsSql, owner(from, to));

  const reasons = new Map<number, RejectReasonCount[]>();
  for (const r of reasonRows) {
    const key = Number(r.start_epoch);
    reasons.set(key, [...(reasons.get(key) ?? []), { reason: r.reason, count: Number(r.count) }]);
  }
  return rows.map((r) => ({
    start: new Date(Number(r.start_epoch) * 1000),
    received: Number(r.received),
    accepted: Number(r.accepted),
    rejected: Number(r.rejected),
    rejectedByReason: reasons.get(Number(r.start_epoch)) ?? [],
    duplicates: Number(r.duplicates),
    runsSucceeded: Number(r.runs_succeeded),
    runsFailed: Number(r.runs_failed),
    acceptLatencyP50Ms: nullableNumber(r.latency_p50),
    acceptLatencyP95Ms: nullableNumber(r.latency_p95),
    runDurationP50Ms: nullableNumber(r.duration_p50),
    runDurationP95Ms: nullableNumber(r.duration_p95),
  }));
}

type StatsRow = {
  start_epoch: number | string;
  received: number | string;
  accepted: number | string;
  rejected: number | string;
  duplicates: number | string;
  runs_succeeded: number | string;
  runs_failed: number | string;
  latency_p50: number | string | null;
  latency_p95: number | string | null;
  duration_p50: number | string | null;
  duration_p95: number | string | null;
};

type ReasonRow = { start_epoch: number | string; reason: string; count: number | string };

const nullableNumber = (v: number | string | null) => (v === null ? null : Number(v));

/** The same bucket count the SQL will produce: whole UTC buckets from the one holding `from` to the one holding `to` − 1 µs. */
export function bucketCount(from: Date, to: Date, bucket: StatsBucket): number {
  const ms = UNITS[bucket].ms;
  const first = Math.floor(from.getTime() / ms);
  const last = Math.floor((to.getTime() - 1) / ms);
  return last - first + 1;
}

function checkRange(q: UsageQuery): void {
  const issues: IssueDetail[] = [];
  if (Number.isNaN(q.from.getTime())) issues.push({ path: 'from', message: 'is not a valid date' });
  if (Number.isNaN(q.to.getTime())) issues.push({ path: 'to', message: 'is not a valid date' });
  if (!issues.length && q.from >= q.to) issues.push({ path: 'to', message: 'must be later than from' });
  if (!issues.length) {
    const count = bucketCount(q.from, q.to, q.bucket);
    if (count > MAX_BUCKETS) {
      issues.push({
        path: 'to',
        message: `the range spans ${count} ${q.bucket.toLowerCase()} buckets; at most ${MAX_BUCKETS} are allowed (use a shorter range or DAY buckets)`,
      });
    }
  }
  if (issues.length) throw new BadInputError('invalid statistics range', issues);
}
