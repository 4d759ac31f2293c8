import { EventEmitter, on } from 'node:events';

export type FlowEventType =
  | 'DELIVERY_RECEIVED'
  | 'DELIVERY_REJECTED'
  | 'DELIVERY_DUPLICATE'
  | 'RUN_STARTED'
  | 'RUN_FINISHED'
  | 'STEP_STARTED'
  | 'STEP_SUCCEEDED'
  | 'STEP_FAILED'
  | 'STEP_SKIPPED';

export type FlowEvent = {
  type: FlowEventType;
  workspaceId: string;
  flowId: string;
  deliveryId?: string;
  runId?: string;
  stepKey?: string;
  status?: string;
  message?: string;
  at: string;
};

/** The one way events travel; the in-process bus can be swapped for a Postgres LISTEN/NOTIFY one. */
export interface EventBus {
  publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void>;
  /** Events of one workspace, optionally one flow, until the signal aborts. */
  subscribe(filter: { workspaceId: string; flowId?: string }, signal: AbortSignal): AsyncIterable<FlowEvent>;
  close(): Promise<void>;
}

export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(event: Omit<FlowEvent, 'at'> & { at?: string }): Promise<void> {
    this.emitter.emit('event', { ...event, at: event.at ?? new Date().toISOString() });
  }

  async *subscribe(
    filter: { workspaceId: string; flowId?: string },
    signal: AbortSignal,
  ): AsyncIterable<FlowEvent> {
    try {
      for await (const [event] of on(this.emitter, 'event', { signal }) as AsyncIterable<[FlowEvent]>) {
        if (event.workspaceId !== filter.workspaceId) continue;
        if (filter.flowId && event.flowId !== filter.flowId) continue;
        yield event;
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
