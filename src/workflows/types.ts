/** Shapes passed between the workflow and its activities: ids and small summaries, never payloads. */

/** flowVersion is set for a replay, which runs the delivery on the flow's current version. */
export type RunFlowInput = { deliveryId: string; workflowId: string; flowVersion?: number };

export type StepPlan = {
  key: string;
  /** Set for an installed plugin routed to its own workers; otherwise the workflow's own task queue. */
  taskQueue?: string;
  timeoutMs: number;
  retry: {
    maximumAttempts: number;
    initialIntervalMs: number;
    backoffCoefficient: number;
    maximumIntervalMs: number;
  };
};

export type PreparedRun = { runId: string; finished: boolean; steps: StepPlan[] };

export type RunStepInput = { runId: string; stepKey: string; maximumAttempts: number };

export type RunStepResult = { status: 'SUCCEEDED' | 'SKIPPED' };

export type FinishRunInput = { runId: string; status: 'COMPLETED' | 'FAILED'; error?: string };

export type RunFlowResult = { runId: string; status: 'COMPLETED' | 'FAILED' };

export interface FlowActivities {
  prepareRun(input: RunFlowInput): Promise<PreparedRun>;
  runStep(input: RunStepInput): Promise<RunStepResult>;
  finishRun(input: FinishRunInput): Promise<void>;
}
