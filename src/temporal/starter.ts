import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { RunFlowInput } from '../workflows/types';

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
    const workflowId = replay?.workflowId ?? workflowIdFor(deliveryId);
    const args: [RunFlowInput] = [{ deliveryId, workflowId, flowVersion: replay?.flowVersion }];
    try {
      await this.connection.withDeadline(Date.now() + timeoutMs, () =>
        this.client.workflow.start('runFlow', {
          taskQueue: this.taskQueue,
          workflowId,
          args,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
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
