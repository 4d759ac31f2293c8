import { Arg, Field, ID, ObjectType, registerEnumType, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import { BadInputError } from '../services/errors';
import type { FlowEventType as FlowEventTypeName, SequencedEvent } from '../services/events';
import type { GraphqlContext } from './context';

export enum FlowEventType {
  DELIVERY_RECEIVED = 'DELIVERY_RECEIVED',
  DELIVERY_REJECTED = 'DELIVERY_REJECTED',
  DELIVERY_DUPLICATE = 'DELIVERY_DUPLICATE',
  RUN_STARTED = 'RUN_STARTED',
  RUN_FINISHED = 'RUN_FINISHED',
  STEP_STARTED = 'STEP_STARTED',
  STEP_SUCCEEDED = 'STEP_SUCCEEDED',
  STEP_FAILED = 'STEP_FAILED',
  STEP_SKIPPED = 'STEP_SKIPPED',
}

// Compile-time check that the GraphQL enum and the services' event type list the same names.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _sameEventTypes: Same<`${FlowEventType}`, FlowEventTypeName> = true;
void _sameEventTypes;

registerEnumType(FlowEventType, { name: 'FlowEventType', description: 'What happened in a flow' });

@ObjectType('FlowEvent', { description: 'One thing that happened in a flow: a delivery, a run or a step' })
export class FlowEventView {
  @Field(() => FlowEventType)
  type!: FlowEventType;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => ID)
  flowId!: string;

  @Field(() => ID, { nullable: true })
  deliveryId?: string;

  @Field(() => ID, { nullable: true })
  runId?: string;

  @Field(() => String, { nullable: true })
  stepKey?: string;

  @Field(() => String, { nullable: true })
  status?: string;

  @Field(() => String, { nullable: true })
  message?: string;

  @Field(() => Date)
  at!: Date;

  @Field(() => String, {
    description: 'Where this event is in the event log: pass it as `after` to resume after it',
  })
  cursor!: string;
}

/**
 * Wraps an event stream so that ending the subscription (client `complete`, disconnect, server stop) aborts
 * the signal the stream was opened with. Calling `return()` on an async generator that is waiting for its
 * next event would otherwise only take effect after that event arrives — a listener leak per subscription.
 */
export function abortableStream<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
): AsyncIterableIterator<T> {
  const controller = new AbortController();
  const inner = open(controller.signal)[Symbol.asyncIterator]();
  const finish = async () => {
    controller.abort();
    await inner.return?.();
  };
  return {
    next: () => inner.next(),
    async return(value?: unknown) {
      await finish();
      return { done: true, value: value as T };
    },
    async throw(err?: unknown) {
      await finish();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function subscribeFlowActivity({
  args,
  context,
}: SubscribeResolverData<unknown, { flowId?: string | null; after?: string | null }, GraphqlContext>) {
  const { scope, em, services } = context;
  const flowId = args.flowId ?? undefined;
  const after = args.after ?? undefined;
  if (after !== undefined && !CURSOR.test(after)) {
    throw new BadInputError('invalid cursor', [
      { path: 'after', message: 'must be a cursor of a FlowEvent' },
    ]);
  }
  // NOT_FOUND unless the flow belongs to the caller's workspace (same rule as every other read).
  if (flowId !== undefined) await services.flows.get(em, scope, flowId);
  return abortableStream((signal) =>
    services.events.subscribe({ workspaceId: scope.workspaceId, flowId, after }, signal),
  );
}

/** A cursor is an event's sequence number (a bigint). */
const CURSOR = /^\d{1,18}$/;

@Resolver()
export class ActivityResolver {
  @Subscription(() => FlowEventView, {
    subscribe: subscribeFlowActivity,
    description:
      'Live events of one flow, or of every flow in the workspace when flowId is omitted. With `after` (the cursor ' +
      'of the last event received), first the stored events since then, oldest first (at most 1000, the newest; ' +
      'kept 7 days), then live ones, without a gap or a repeat.',
  })
  flowActivity(
    @Root() event: SequencedEvent,
    @Arg('flowId', () => ID, { nullable: true }) _flowId?: string,
    @Arg('after', () => String, { nullable: true }) _after?: string,
  ): FlowEventView {
    return { ...event, type: event.type as FlowEventType, at: new Date(event.at), cursor: event.seq };
  }
}
