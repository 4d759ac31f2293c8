/** Shapes passed between the workflow and its activities: ids and small summaries, never payloads. */
import type { RunRef } from '../services/run-store';

export type { RunRef };

/** flowVersion is set for a replay, which runs the delivery on the flow's current version. */
export type RunFlowInput = { deliveryId: string; workflowId: string; flowVersion?: number };

export type RetryPlan = {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
};

export type StepPlan = {
  key: string;
  /** Set for an installed plugin routed to its own workers; otherwise the workflow's own task queue. */
  taskQueue?: string;
  timeoutMs: number;
  retry: RetryPlan;
};

export type RunFlowResult = { runId: string; status: 'COMPLETED' | 'FAILED' };

/**
 * One step of a run. The first call begins the run (`start`), later ones name it (`run`). Bookkeeping is folded
 * in: the first call creates the run and returns the plan of the remaining steps, the call of the last step
 * finishes the run, and a step that fails for good fails the run.
 */
export type ExecuteStepInput =
  { start: RunFlowInput; index: 0 } | { run: RunRef; index: number; start?: undefined };

export type ExecuteStepResult = {
  run: RunRef;
  /** The steps of the pinned flow version; returned by the call that began the run. */
  plan?: StepPlan[];
  /** ROUTED: the step belongs on another task queue (see plan) and did not run here. */
  status: 'SUCCEEDED' | 'SKIPPED' | 'ROUTED';
  /** Set when the run has ended (its last step, a flow without steps, or a run that had ended before). */
  finished?: RunFlowResult['status'];
};

/** Carried in the failure of a step that failed the run, so the workflow can answer with the run id. */
export type StepFailureDetails = { runId: string };

export interface FlowActivities {
  executeStep(input: ExecuteStepInput): Promise<ExecuteStepResult>;
}

// Shapes of the first version of runFlow (three normal activities per 1-step run), still served so that
// workflows started before the upgrade finish. Remove once no such workflow can be in flight.
export type PreparedRun = { runId: string; finished: boolean; steps: StepPlan[] };
export type RunStepInput = { runId: string; stepKey: string; maximumAttempts: number };
export type RunStepResult = { status: 'SUCCEEDED' | 'SKIPPED' };
export type FinishRunInput = { runId: string; status: 'COMPLETED' | 'FAILED'; error?: string };

export interface FlowActivitiesV1 {
  prepareRun(input: RunFlowInput): Promise<PreparedRun>;
  runStep(input: RunStepInput): Promise<RunStepResult>;
  finishRun(input: FinishRunInput): Promise<void>;
}
