import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { FlowActivities, RunFlowInput, RunFlowResult } from './types';

/** Bookkeeping activities only touch our database: retry them until it is back. */
const bookkeeping = proxyActivities<FlowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Interprets the pinned flow version: each step is one activity, in order; the first failed step ends the run. */
export async function runFlow(input: RunFlowInput): Promise<RunFlowResult> {
  const prepared = await bookkeeping.prepareRun(input);
  if (prepared.finished) return { runId: prepared.runId, status: 'COMPLETED' };
  for (const step of prepared.steps) {
    const { runStep } = proxyActivities<FlowActivities>({
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
      await bookkeeping.finishRun({ runId: prepared.runId, status: 'FAILED', error });
      return { runId: prepared.runId, status: 'FAILED' };
    }
  }
  await bookkeeping.finishRun({ runId: prepared.runId, status: 'COMPLETED' });
  return { runId: prepared.runId, status: 'COMPLETED' };
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return String(cause);
}
