/**
 * What happened to every delivery, from the sender's side (acknowledged keys), the chaos PostgreSQL
 * (delivery, run and step_run rows) and the sink (requests per Idempotency-Key): the summary lines and the
 * reasons the case fails, if any.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Sent } from './driver';
import type { ChaosSink } from './sink';

type KeyRow = { key: string; deliveries: number; runs: number; completed: number; steps_succeeded: number };

/** Per idempotency key of an accepted delivery: its deliveries, runs, completed runs and succeeded steps. */
const PER_KEY = `
  select d.idempotency_key as key, count(distinct d.id)::int as deliveries, count(r.id)::int as runs,
         count(r.id) filter (where r.status = 'COMPLETED')::int as completed,
         coalesce(sum((select count(*) from step_run s where s.run_id = r.id and s.status = 'SUCCEEDED')), 0)::int
           as steps_succeeded
  from delivery d left join run r on r.delivery_id = d.id
  where d.status = 'ACCEPTED'
  group by d.idempotency_key`;

async function query<T extends object>(
  databaseUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Waits until every acknowledged delivery has a completed run and all its steps answered at the sink; gives up
 * after timeoutMs, or when nothing moved for stallMs. Returns whether it drained.
 */
export async function waitForDrain(
  opts: { databaseUrl: string; sink: ChaosSink; acknowledged: number; steps: number; signal: AbortSignal },
  limits: { timeoutMs: number; stallMs: number },
  log: (msg: string) => void,
): Promise<boolean> {
  const deadline = performance.now() + limits.timeoutMs;
  let last = -1;
  let movedAt = performance.now();
  let loggedAt = 0;
  while (
    !opts.signal.aborted &&
    performance.now() < deadline &&
    performance.now() - movedAt < limits.stallMs
  ) {
    const [row] = await query<{ completed: number }>(
      opts.databaseUrl,
      `select count(*)::int as completed from run where status = 'COMPLETED'`,
    ).catch(() => [{ completed: last }]);
    const completed = row!.completed;
    const answered = opts.sink.requests.filter((r) => r.answeredAt).length;
    if (completed >= opts.acknowledged && answered >= opts.acknowledged * opts.steps) return true;
    if (completed !== last) [last, movedAt] = [completed, performance.now()];
    if (performance.now() - loggedAt > 15_000) {
      log(`draining: ${completed}/${opts.acknowledged} runs completed, ${answered} sink answers`);
      loggedAt = performance.now();
    }
    await sleep(1_000);
  }
  return false;
}

export type Tally = { lines: string[]; failures: string[] };

export async function tally(opts: {
  databaseUrl: string;
  sink: ChaosSink;
  sent: Sent[];
  stepKeys: string[];
}): Promise<Tally> {
  const acknowledged = opts.sent.filter((s) => s.acknowledged);
  const rows = new Map((await query<KeyRow>(opts.databaseUrl, PER_KEY)).map((r) => [r.key, r]));
  const answered = new Map<string, number>(); // per Idempotency-Key the sink saw
  const answeredSteps = new Set<string>(); // `<order id> <step>` answered at least once
  for (const r of opts.sink.requests.filter((r) => r.answeredAt)) {
    answered.set(r.key, (answered.get(r.key) ?? 0) + 1);
    answeredSteps.add(`${r.orderId} ${r.step}`);
  }
  const extra = (n: number) => Math.max(0, n - 1);
  const duplicates = {
    deliveries: [...rows.values()].reduce((sum, r) => sum + extra(r.deliveries), 0),
    runs: [...rows.values()].reduce((sum, r) => sum + extra(r.runs), 0),
    sinkRequests: [...answered.values()].reduce((sum, n) => sum + extra(n), 0),
  };
  const lost = acknowledged.filter(({ key }) => {
    const row = rows.get(key);
    return (
      !row ||
      row.completed !== 1 ||
      row.steps_succeeded < opts.stepKeys.length ||
      opts.stepKeys.some((step) => !answeredSteps.has(`${key} ${step}`))
    );
  });
  const total = (pick: (r: KeyRow) => number) => [...rows.values()].reduce((sum, r) => sum + pick(r), 0);
  const duplicateCount = duplicates.deliveries + duplicates.runs + duplicates.sinkRequests;

  const failures: string[] = [];
  if (lost.length)
    failures.push(
      `lost ${lost.length}: ${lost.slice(0, 10).map((s) => describe(s.key, rows.get(s.key), opts.sink))}`,
    );
  if (duplicateCount)
    failures.push(
      `duplicates ${JSON.stringify(duplicates)}: ${await duplicateDetails(opts.databaseUrl, opts.sink, answered)}`,
    );
  if (acknowledged.length < opts.sent.length)
    failures.push(
      `${opts.sent.length - acknowledged.length} deliveries were never acknowledged (senders gave up)`,
    );
  return {
    lines: [
      `sent ${opts.sent.length}`,
      `acknowledged ${acknowledged.length}`,
      `deliveries ${total((r) => r.deliveries)}`,
      `runs completed ${total((r) => r.completed)}`,
      `sink requests ${opts.sink.requests.length}`,
      `duplicates ${duplicateCount}`,
      `lost ${lost.length}`,
    ],
    failures,
  };
}

function describe(key: string, row: KeyRow | undefined, sink: ChaosSink): string {
  const requests = sink.requests.filter((r) => r.orderId === key);
  return `${key} (${row ? JSON.stringify(row) : 'no delivery row'}, sink ${JSON.stringify(requests)})`;
}

/** For up to 10 Idempotency-Keys (`<run id>:<step key>`) answered more than once: the requests and the step_run. */
async function duplicateDetails(databaseUrl: string, sink: ChaosSink, answered: Map<string, number>) {
  const keys = [...answered].filter(([, n]) => n > 1).slice(0, 10);
  const details = await Promise.all(
    keys.map(async ([key]) => {
      const [runId, stepKey] = key.split(':');
      const [step] = await query(
        databaseUrl,
        `select status, attempts, started_at, finished_at from step_run where run_id = $1 and step_key = $2`,
        [runId, stepKey],
      );
      const requests = sink.requests
        .filter((r) => r.key === key)
        .map(
          (r) =>
            `${time(r.receivedAt)}→${r.answeredAt ? time(r.answeredAt) : 'hung up'} port ${r.clientPort}`,
        );
      return `${key} (order ${sink.requests.find((r) => r.key === key)?.orderId}): sink ${requests.join(', ')}; step_run ${JSON.stringify(step)}`;
    }),
  );
  return details.join('; ');
}

const time = (d: Date) => d.toISOString().slice(11, 23);
