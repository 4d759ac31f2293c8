import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { RunFlowInput, RunFlowResult } from '../workflows/types';

/** How a delivery's run ended; runId is unknown only when the workflow itself failed. */
export type RunOutcome = { runId?: string; status: RunFlowResult['status'] };

export const workflowIdFor = (deliveryId: string) => `delivery-${deliveryId}`;

/**
 * Starts runFlow workflows. Starting is idempotent: the workflow id derives from the delivery id and a
 * duplicate start is treated as success, so a re-dispatch can never start a second run.
 */
export class WorkflowStarter {
  private constructor(
    private readonly connection: Connection,
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** Connects lazily: creating it never fails while Temporal is down. */
  static create(opts: { address: string; namespace: string; taskQueue: string }): WorkflowStarter {
    const connection = Connection.lazy({ address: opts.address });
    const client = new Client({ connection, namespace: opts.namespace });
    return new WorkflowStarter(connection, client, opts.taskQueue);
  }

  /** A replay passes its own workflow id and the flow version to run. */
  async start(
    deliveryId: string,
    replay?: { workflowId: string; flowVersion: number },
    timeoutMs = 5000,
  ): Promise<void> {
    await this.startWorkflow(deliveryId, replay, WorkflowIdReusePolicy.REJECT_DUPLICATE, timeoutMs);
  }

  /**
   * Starts a lost workflow again under the same id: allowed when the engine never heard of it or it ended
   * without completing (terminated, timed out, cancelled, failed); a completed one is never run twice.
   */
  async restart(deliveryId: string, workflowId: string): Promise<void> {
    await this.startWorkflow(
      deliveryId,
      { workflowId },
      WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      5000,
    );
  }

  /** Whether the engine still holds the workflow and it is running or completed. */
  async isLive(workflowId: string, timeoutMs = 5000): Promise<boolean> {
    try {
      const description = await this.connection.withDeadline(Date.now() + timeoutMs, () =>
        this.client.workflow.getHandle(workflowId).describe(),
      );
      return description.status.name === 'RUNNING' || description.status.name === 'COMPLETED';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  private async startWorkflow(
    deliveryId: string,
    pinned: { workflowId: string; flowVersion?: number } | undefined,
    workflowIdReusePolicy: WorkflowIdReusePolicy,
    timeoutMs: number,
  ): Promise<void> {
    const workflowId = pinned?.workflowId ?? workflowIdFor(deliveryId);
    const args: [RunFlowInput] = [{ deliveryId, workflowId, flowVersion: pinned?.flowVersion }];
    try {
      await this.connection.withDeadline(Date.now() + timeoutMs, () =>
        this.client.workflow.start('runFlow', {
          taskQueue: this.taskQueue,
          workflowId,
          args,
          workflowIdReusePolicy,
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  }

  /**
   * Waits for the run of a delivery (its workflow's result) for at most timeoutMs; undefined past that
   * or when Temporal cannot be asked. Never waits longer than timeoutMs.
   */
  async waitForResult(deliveryId: string, timeoutMs: number): Promise<RunOutcome | undefined> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(
        () => {
          controller.abort();
          resolve(undefined);
        },
        Math.max(0, timeoutMs),
      );
    });
    const handle = this.client.workflow.getHandle(workflowIdFor(deliveryId));
    const outcome = this.client
      .withAbortSignal(controller.signal, () => handle.result() as Promise<RunFlowResult>)
      .then(
        (result): RunOutcome => ({ runId: result.runId, status: result.status }),
        (err): RunOutcome | undefined =>
          err instanceof WorkflowFailedError ? { status: 'FAILED' } : undefined,
      );
    try {
      return await Promise.race([outcome, late]);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /** True when the Temporal frontend answers. */
  async healthy(timeoutMs = 2000): Promise<boolean> {
    try {
      await this.connection.withDeadline(Date.now() + timeoutMs, () =>
        this.connection.workflowService.getSystemInfo({}),
      );
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
