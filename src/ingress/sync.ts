import type { TriggerDefinition } from '../schema/definitions';
import { RunStatus } from '../schema/enums';
import type { Database } from '../services/database';
import { findRunOutcome, loadStepScope } from '../services/run-store';
import type { RunOutcome } from '../temporal/starter';
import { renderString, renderValue, toText } from '../templates';

/** What SYNC mode needs from the workflow engine. */
export interface RunWaiter {
  waitForResult(deliveryId: string, timeoutMs: number): Promise<RunOutcome | undefined>;
}

export type Answer = { status: number; headers: Record<string, string>; body: unknown };

export const accepted = (deliveryId: string): Answer => ({
  status: 202,
  headers: {},
  body: { deliveryId, status: 'accepted' },
});

/** Headers a flow's response may not set: they belong to the HTTP connection, not to the answer. */
const RESERVED = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);

/**
 * The answer to a SYNC request once its run ended: the trigger's `response` rendered against the finished
 * run (status default 200, headers, body; default body `{deliveryId, runId, status}`), or 500 `run_failed`.
 * The database is the record of the outcome; a run it does not show as finished yet is answered as 202.
 */
export async function syncAnswer(
  db: Database,
  deliveryId: string,
  trigger: TriggerDefinition,
  outcome: RunOutcome,
): Promise<Answer> {
  const run = await findRunOutcome(db, outcome.runId ? { runId: outcome.runId } : { deliveryId });
  if (!run || run.status === RunStatus.RUNNING) return accepted(deliveryId);
  const runId = run.ref.runId;
  if (run.status === RunStatus.FAILED) {
    return {
      status: 500,
      headers: {},
      body: {
        error: 'run_failed',
        deliveryId,
        runId,
        message: run.failedStep ? `the flow failed at step "${run.failedStep}"` : 'the flow failed',
      },
    };
  }
  // The delivery of a run that just finished is there: only deleting its flow removes it.
  const scope = (await loadStepScope(db, run.ref, trigger.label))!;
  const response = trigger.response;
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(response?.headers ?? {})) {
    if (RESERVED.has(name.toLowerCase())) continue;
    headers[name] = toText(renderString(template, scope));
  }
  const body =
    response?.body === undefined || response.body === null
      ? { deliveryId, runId, status: 'completed' }
      : renderValue(response.body, scope).value;
  return { status: response?.status ?? 200, headers, body };
}
