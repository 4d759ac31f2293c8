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

/** What beginRun found: the run (new or, for a restarted workflow, the existing one) and its steps. */
export type BegunRun = { run: RunRef; finished?: RunFlowResult['status']; steps: StepPlan[] };

export type ExecuteStepInput = { run: RunRef; stepKey: string; retry: RetryPlan };

export type RunStepResult = { status: 'SUCCEEDED' | 'SKIPPED' };

export type EndRunInput = { run: RunRef; status: 'COMPLETED' | 'FAILED'; error?: string };

/** The activities of runFlow. Bookkeeping runs as local activities; each step is one activity. */
export interface FlowActivities {
  beginRun(input: RunFlowInput): Promise<BegunRun>;
  executeStep(input: ExecuteStepInput): Promise<RunStepResult>;
  endRun(input: EndRunInput): Promise<void>;
}

// Shapes of the first version of runFlow (three normal activities per 1-step run), still served so that
// workflows started before the upgrade finish. Remove once no such workflow can be in flight.
export type PreparedRun = { runId: string; finished: boolean; steps: StepPlan[] };
export type RunStepInput = { runId: string; stepKey: string; maximumAttempts: number };
export type FinishRunInput = { runId: string; status: 'COMPLETED' | 'FAILED'; error?: string };

export interface FlowActivitiesV1 {
  prepareRun(input: RunFlowInput): Promise<PreparedRun>;
  runStep(input: RunStepInput): Promise<RunStepResult>;
  finishRun(input: FinishRunInput): Promise<void>;
}
