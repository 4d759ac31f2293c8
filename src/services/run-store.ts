import { randomUUID } from 'node:crypto';
import type { StepDefinition, TriggerDefinition } from '../schema/definitions';
import { RunStatus, StepRunStatus } from '../schema/enums';
import type { TemplateScope } from '../templates';
import { REDACTED } from './credentials';
import type { Database } from './database';

/**
 * The SQL of a run's hot path: one statement per bookkeeping step, with server-side parameters. A 1-step run
 * costs five statements (begin, context, claim, finish step, end) plus its share of the batched event
 * notifications; each further step three.
 */

/** The ids a run's activities need, carried in their inputs so nothing has to be looked up again. */
export type RunRef = {
  runId: string;
  deliveryId: string;
  flowId: string;
  workspaceId: string;
  flowVersion: number;
};

type RunRow = {
  id: string;
  delivery_id: string;
  flow_id: string;
  workspace_id: string;
  flow_version: number;
  status: RunStatus;
};

const toRef = (row: RunRow): RunRef => ({
  runId: row.id,
  deliveryId: row.delivery_id,
  flowId: row.flow_id,
  workspaceId: row.workspace_id,
  flowVersion: row.flow_version,
});

const RUN_COLUMNS = 'id, delivery_id, flow_id, workspace_id, flow_version, status';

/**
 * Creates the run of a workflow once; a retried or restarted workflow gets the same run back
 * (created = false). Undefined when the delivery no longer exists (its flow was deleted).
 */
export async function beginRun(
  db: Database,
  workflowId: string,
  deliveryId: string,
  flowVersion?: number,
): Promise<{ ref: RunRef; status: RunStatus; created: boolean } | undefined> {
  const [inserted] = await db.sql<RunRow>(
    `insert into run (id, workspace_id, flow_id, delivery_id, flow_version, workflow_id, status, started_at)
     select $1, d.workspace_id, d.flow_id, d.id, coalesce($2::int, d.flow_version), $3, 'RUNNING', $4
     from delivery d where d.id = $5
     on conflict (workflow_id) do nothing
     returning ${RUN_COLUMNS}`,
    [randomUUID(), flowVersion ?? null, workflowId, new Date(), deliveryId],
  );
  if (inserted) return { ref: toRef(inserted), status: inserted.status, created: true };
  const [existing] = await db.sql<RunRow>(`select ${RUN_COLUMNS} from run where workflow_id = $1`, [
    workflowId,
  ]);
  return existing && { ref: toRef(existing), status: existing.status, created: false };
}

/** The run with this id, or the newest run of this delivery, with the first step that failed in it. */
export async function findRunOutcome(
  db: Database,
  by: { runId: string } | { deliveryId: string },
): Promise<{ ref: RunRef; status: RunStatus; failedStep?: string } | undefined> {
  const [row] = await db.sql<RunRow & { failed_step: string | null }>(
    `select ${RUN_COLUMNS},
       (select s.step_key from step_run s where s.run_id = run.id and s.status = 'FAILED' limit 1) as failed_step
     from run where ${'runId' in by ? 'id = $1' : 'delivery_id = $1'} order by started_at desc limit 1`,
    ['runId' in by ? by.runId : by.deliveryId],
  );
  return row && { ref: toRef(row), status: row.status, failedStep: row.failed_step ?? undefined };
}

export async function findRunRef(db: Database, runId: string): Promise<RunRef | undefined> {
  const [row] = await db.sql<RunRow>(`select ${RUN_COLUMNS} from run where id = $1`, [runId]);
  return row && toRef(row);
}

/** Moves a running run to its final status once: its start time, or undefined when it had already finished. */
export async function endRun(
  db: Database,
  runId: string,
  status: RunStatus.COMPLETED | RunStatus.FAILED,
  error?: string,
  /** The run's trigger keeps no payload (storePayload: false): erase it from the delivery. */
  erasePayload = false,
): Promise<Date | undefined> {
  const now = new Date();
  const changed = await db.sql<{ started_at: string | Date }>(
    `update run set status = $1, error = $2, finished_at = $3 where id = $4 and status = 'RUNNING' returning started_at`,
    [status, error ?? null, now, runId],
  );
  if (changed.length && status === RunStatus.FAILED) {
    await db.sql(
      `update step_run set status = 'FAILED', finished_at = $1, error = $2 where run_id = $3 and status = 'RUNNING'`,
      [now, error ?? 'the run ended', runId],
    );
  }
  if (changed.length && erasePayload) await erasePayloadOfRun(db, runId, now);
  return changed[0] && new Date(changed[0].started_at);
}

/**
 * Clears the body, the query and the header values of the run's delivery (headers already redacted stay, showing
 * only that they were sent) and marks it erased. Left for later when another run of the delivery (a replay
 * started before this one ended) still reads the payload: that run erases it when it ends.
 */
async function erasePayloadOfRun(db: Database, runId: string, now: Date): Promise<void> {
  await db.sql(
    `update delivery d set body = null, query = '{}'::jsonb, payload_erased_at = $1,
       headers = coalesce(
         (select jsonb_object_agg(h.key, h.value) from jsonb_each(d.headers) h where h.value = $2::jsonb),
         '{}'::jsonb)
     where d.id = (select delivery_id from run where id = $3) and d.payload_erased_at is null
       and not exists (select 1 from run r where r.delivery_id = d.id and r.status = 'RUNNING')`,
    [now, JSON.stringify(REDACTED), runId],
  );
}

/** What a step's templates see: the delivery and the outputs of the run's steps that succeeded. */
export async function loadStepScope(
  db: Database,
  ref: RunRef,
  flowLabel: string,
): Promise<TemplateScope | undefined> {
  const [row] = await db.sql<{
    body: unknown;
    headers: Record<string, string>;
    query: Record<string, unknown>;
    received_at: string | Date;
    outputs: Record<string, unknown>;
  }>(
    `select d.body, d.headers, d.query, d.received_at,
       (select coalesce(jsonb_object_agg(s.step_key, s.output), '{}'::jsonb)
          from step_run s where s.run_id = $1 and s.status = 'SUCCEEDED') as outputs
     from delivery d where d.id = $2`,
    [ref.runId, ref.deliveryId],
  );
  if (!row) return undefined;
  return {
    webhook: { body: row.body, headers: row.headers, query: row.query },
    // fromEntries keeps a step key such as "__proto__" an ordinary own property.
    steps: Object.fromEntries(Object.entries(row.outputs).map(([key, output]) => [key, { output }])),
    flow: { id: ref.flowId, label: flowLabel },
    run: { id: ref.runId },
    delivery: { id: ref.deliveryId, receivedAt: new Date(row.received_at).toISOString() },
  };
}

export type ClaimedStep = { id: string; attempts: number; startedAt: Date };
export type SettledStep = { status: StepRunStatus; error?: string };

/**
 * Records one more attempt of a step (RUNNING, attempts + 1), or SKIPPED. A step that already ended
 * (SUCCEEDED, SKIPPED, FAILED) is left as it is and its outcome comes back instead: a step that succeeded is
 * never run again, whichever worker retries it.
 */
export async function claimStep(
  db: Database,
  runId: string,
  step: StepDefinition,
  position: number,
  values: { status: StepRunStatus.RUNNING | StepRunStatus.SKIPPED; input?: unknown; warnings: string[] },
): Promise<{ claimed: ClaimedStep } | { settled: SettledStep }> {
  const now = new Date();
  const finished = values.status === StepRunStatus.SKIPPED ? now : null;
  const [row] = await db.sql<{ id: string; attempts: number; started_at: string | Date }>(
    `insert into step_run (id, run_id, step_key, position, plugin, action, status, attempts, input, warnings, started_at, finished_at)
     values ($1, $2, $3, $4, $5, $6, $7, 1, $8::text::jsonb, $9::text::jsonb, $10, $11)
     on conflict (run_id, step_key) do update
       set status = excluded.status, attempts = step_run.attempts + 1, input = excluded.input,
           warnings = excluded.warnings, finished_at = excluded.finished_at
       where step_run.status = 'RUNNING'
     returning id, attempts, started_at`,
    [
      randomUUID(),
      runId,
      step.key,
      position,
      `${step.plugin}@${step.pluginVersion}`,
      step.action,
      values.status,
      values.input === undefined ? null : JSON.stringify(values.input),
      JSON.stringify(values.warnings),
      now,
      finished,
    ],
  );
  if (row) return { claimed: { id: row.id, attempts: row.attempts, startedAt: new Date(row.started_at) } };
  const [settled] = await db.sql<SettledStep & { error: string | null }>(
    'select status, error from step_run where run_id = $1 and step_key = $2',
    [runId, step.key],
  );
  return { settled: { status: settled!.status, error: settled!.error ?? undefined } };
}

/** The outcome of an attempt: SUCCEEDED or FAILED end the step; RUNNING keeps it open for the next attempt. */
export async function settleStep(
  db: Database,
  claimed: ClaimedStep,
  outcome: { status: StepRunStatus; output?: unknown; error?: string },
): Promise<void> {
  const ended = outcome.status !== StepRunStatus.RUNNING;
  const finishedAt = ended ? new Date() : null;
  await db.sql(
    `update step_run set status = $1, output = $2::text::jsonb, error = $3, finished_at = $4, duration_ms = $5
     where id = $6`,
    [
      outcome.status,
      outcome.output === undefined ? null : JSON.stringify(outcome.output),
      outcome.error ?? null,
      finishedAt,
      finishedAt ? finishedAt.getTime() - claimed.startedAt.getTime() : null,
      claimed.id,
    ],
  );
}

export type PinnedVersion = { trigger: TriggerDefinition; steps: StepDefinition[] };

/** Flow versions never change once written, so every process keeps the ones its runs use. */
export class FlowVersionCache {
  private readonly versions = new Map<string, PinnedVersion>();

  constructor(
    private readonly db: Database,
    private readonly capacity = 1000,
  ) {}

  async get(flowId: string, version: number): Promise<PinnedVersion | undefined> {
    const key = `${flowId}:${version}`;
    const cached = this.versions.get(key);
    if (cached) return cached;
    const [row] = await this.db.sql<PinnedVersion>(
      'select trigger, steps from flow_version where flow_id = $1 and version = $2',
      [flowId, version],
    );
    if (!row) return undefined;
    if (this.versions.size >= this.capacity) this.versions.delete(this.versions.keys().next().value!);
    this.versions.set(key, row);
    return row;
  }
}
