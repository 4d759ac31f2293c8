import {
  ActivityFailure,
  ApplicationFailure,
  patched,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { FlowActivities, FlowActivitiesV1, RunFlowInput, RunFlowResult, StepPlan } from './types';

/**
 * Bookkeeping only touches our database: retry it until the database is back. Step activities use the same
 * policy for what is not the plugin's failure (the plugin's own retries are counted and timed by the step).
 */
const bookkeepingRetry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 seconds' };
const bookkeeping = proxyLocalActivities<FlowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: bookkeepingRetry,
});

/** A worker that dies mid-step is noticed within this time, and the step is retried elsewhere. */
const HEARTBEAT_TIMEOUT = '10 seconds';
/** Room beyond the plugin's own timeout for loading the step's context and storing its outcome. */
const STEP_MARGIN_MS = 15_000;

/**
 * Interprets the pinned flow version: bookkeeping as local activities, each step one activity, in order; the
 * first failed step ends the run. Attempts are counted by the step activity itself (in the database), so an
 * attempt lost to a database outage before the plugin ran does not use up the plugin's retries: the engine
 * retries the activity without limit, the activity gives up after the plugin's own maximum.
 */
export async function runFlow(input: RunFlowInput): Promise<RunFlowResult> {
  if (!patched('local-bookkeeping')) return runFlowV1(input);
  const begun = await bookkeeping.beginRun(input);
  const { run } = begun;
  if (begun.finished) return { runId: run.runId, status: begun.finished };
  for (const step of begun.steps) {
    try {
      await stepActivity(step).executeStep({ run, stepKey: step.key, retry: step.retry });
    } catch (err) {
      const error = `step "${step.key}" failed: ${failureMessage(err)}`;
      await bookkeeping.endRun({ run, status: 'FAILED', error });
      return { runId: run.runId, status: 'FAILED' };
    }
  }
  await bookkeeping.endRun({ run, status: 'COMPLETED' });
  return { runId: run.runId, status: 'COMPLETED' };
}

function stepActivity(step: StepPlan) {
  return proxyActivities<FlowActivities>({
    ...(step.taskQueue ? { taskQueue: step.taskQueue } : {}),
    startToCloseTimeout: step.timeoutMs + STEP_MARGIN_MS,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: bookkeepingRetry,
  });
}

/** runFlow as first released: kept so that histories started before local bookkeeping replay unchanged. */
async function runFlowV1(input: RunFlowInput): Promise<RunFlowResult> {
  const v1 = proxyActivities<FlowActivitiesV1>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  const prepared = await v1.prepareRun(input);
  if (prepared.finished) return { runId: prepared.runId, status: 'COMPLETED' };
  for (const step of prepared.steps) {
    const { runStep } = proxyActivities<FlowActivitiesV1>({
      ...(step.taskQueue ? { taskQueue: step.taskQueue } : {}),
      startToCloseTimeout: step.timeoutMs,
      retry: {
        maximumAttempts: step.retry.maximumAttempts,
        initialInterval: step.retry.initialIntervalMs,
        backoffCoefficient: step.retry.backoffCoefficient,
        maximumInterval: step.retry.maximumIntervalMs,
      },
    });
    try {
      await runStep({
        runId: prepared.runId,
        stepKey: step.key,
        maximumAttempts: step.retry.maximumAttempts,
      });
    } catch (err) {
      const error = `step "${step.key}" failed: ${failureMessage(err)}`;
      await v1.finishRun({ runId: prepared.runId, status: 'FAILED', error });
      return { runId: prepared.runId, status: 'FAILED' };
    }
  }
  await v1.finishRun({ runId: prepared.runId, status: 'COMPLETED' });
  return { runId: prepared.runId, status: 'COMPLETED' };
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return String(cause);
}
