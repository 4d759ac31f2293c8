import { ActivityFailure, ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type {
  FlowActivities,
  FlowActivitiesV1,
  RunFlowInput,
  RunFlowResult,
  StepFailureDetails,
  StepPlan,
} from './types';

/** A worker that dies mid-step is noticed within this time, and the step is retried elsewhere. */
const HEARTBEAT_TIMEOUT = '10 seconds';
/** Room beyond the plugin's own timeout (which the step enforces) for loading and storing. */
const STEP_MARGIN_MS = 15_000;
/** The first step is scheduled before its plan is known: the longest a plugin may ask for, plus the margin. */
const FIRST_STEP_LIMIT_MS = 30 * 60_000;
/**
 * What is not the plugin's failure (the database away, a worker lost) is retried without limit; the plugin's own
 * attempts are counted and timed by the step itself.
 */
const ENGINE_RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 seconds' };

/**
 * Interprets the pinned flow version with one activity per step and nothing else: the first step's activity
 * also begins the run and returns the plan of the rest, the last one finishes it, and a step that fails for
 * good fails the run. So a 1-step run costs what a bare one-activity workflow costs the engine.
 */
export async function runFlow(input: RunFlowInput): Promise<RunFlowResult> {
  if (!patched('bookkeeping-in-steps')) return runFlowV1(input);
  try {
    let result = await stepActivity().executeStep({ start: input, index: 0 });
    const { run, plan = [] } = result;
    for (let index = result.status === 'ROUTED' ? 0 : 1; !result.finished && index < plan.length; index++) {
      result = await stepActivity(plan[index]).executeStep({ run, index });
    }
    return { runId: run.runId, status: result.finished ?? 'COMPLETED' };
  } catch (err) {
    const details = stepFailureDetails(err);
    if (!details) throw err; // the run could not even begin (its delivery is gone)
    return { runId: details.runId, status: 'FAILED' };
  }
}

function stepActivity(step?: StepPlan) {
  return proxyActivities<FlowActivities>({
    ...(step?.taskQueue ? { taskQueue: step.taskQueue } : {}),
    startToCloseTimeout: (step ? step.timeoutMs : FIRST_STEP_LIMIT_MS) + STEP_MARGIN_MS,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: ENGINE_RETRY,
  });
}

function stepFailureDetails(err: unknown): StepFailureDetails | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const details = cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
  return typeof (details as StepFailureDetails | undefined)?.runId === 'string'
    ? (details as StepFailureDetails)
    : undefined;
}

/** runFlow as first released: kept so that histories started before bookkeeping-in-steps replay unchanged. */
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
