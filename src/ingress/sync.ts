import type { EntityManager } from '@mikro-orm/core';
import type { TriggerDefinition } from '../schema/definitions';
import { RunStatus, StepRunStatus } from '../schema/enums';
import { Run } from '../schema/Run';
import { loadRunContext, runTemplateScope } from '../services/runs';
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
  em: EntityManager,
  deliveryId: string,
  trigger: TriggerDefinition,
  outcome: RunOutcome,
): Promise<Answer> {
  const run = outcome.runId
    ? await em.findOne(Run, { id: outcome.runId })
    : await em.findOne(Run, { delivery: deliveryId }, { orderBy: { startedAt: 'desc' } });
  if (!run || run.status === RunStatus.RUNNING) return accepted(deliveryId);
  const ctx = await loadRunContext(em, run.id);
  if (run.status === RunStatus.FAILED) {
    const failed = ctx.steps.find((s) => s.status === StepRunStatus.FAILED);
    return {
      status: 500,
      headers: {},
      body: {
        error: 'run_failed',
        deliveryId: deliveryId,
        runId: run.id,
        message: failed ? `the flow failed at step "${failed.stepKey}"` : 'the flow failed',
      },
    };
  }
  const scope = runTemplateScope(ctx);
  const response = trigger.response;
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(response?.headers ?? {})) {
    if (RESERVED.has(name.toLowerCase())) continue;
    headers[name] = toText(renderString(template, scope));
  }
  const body =
    response?.body === undefined || response.body === null
      ? { deliveryId: deliveryId, runId: run.id, status: 'completed' }
      : renderValue(response.body, scope).value;
  return { status: response?.status ?? 200, headers, body };
}
