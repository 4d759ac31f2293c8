import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { Delivery } from '../schema/Delivery';
import { ApiKeyRole, DeliveryStatus, RunStatus } from '../schema/enums';
import { Flow } from '../schema/Flow';
import { Run } from '../schema/Run';
import type { Services } from '.';
import { BadInputError, UnavailableError } from './errors';
import { beginRun, endRun } from './run-store';
import { findOwned, requireRole, type Scope } from './scope';

export const NO_WORKFLOW_ENGINE =
  'this process is not connected to the workflow engine (it runs without the ingress and worker roles); send the request to a process that runs one of them';

/**
 * Runs an accepted delivery again: a new run, with the same payload, on the flow's current version.
 *
 * The run row is created here, before the workflow starts (the workflow's first activity then finds it by
 * its workflow id and goes on), so the caller gets the run at once without waiting for a worker. If the
 * start fails, the run is ended as FAILED, never deleted: a start that timed out may still have reached
 * the engine, and a FAILED run makes that workflow stop at its first activity instead of running unseen.
 */
export async function replayDelivery(
  em: EntityManager,
  scope: Scope,
  services: Pick<Services, 'starter' | 'events' | 'db'>,
  deliveryId: string,
): Promise<Run> {
  requireRole(scope, ApiKeyRole.EDITOR);
  const delivery = await findOwned(em, Delivery, deliveryId, scope, 'delivery');
  if (delivery.status !== DeliveryStatus.ACCEPTED) {
    throw new BadInputError('cannot replay this delivery', [
      {
        path: 'id',
        message: `only ACCEPTED deliveries can be replayed; this one is ${delivery.status}${delivery.rejectReason ? ` (${delivery.rejectReason})` : ''}`,
      },
    ]);
  }
  if (delivery.payloadErasedAt) {
    throw new BadInputError('cannot replay this delivery', [
      {
        path: 'id',
        message: `its payload was not kept (the trigger stores no payload; erased at ${delivery.payloadErasedAt.toISOString()})`,
      },
    ]);
  }
  const starter = services.starter;
  if (!starter) throw new UnavailableError(`cannot replay: ${NO_WORKFLOW_ENGINE}`);

  const flow = await em.findOneOrFail(Flow, { id: delivery.flow.id });
  const workflowId = `replay-${delivery.id}-${randomUUID()}`;
  const { ref } = (await beginRun(services.db, workflowId, delivery.id, flow.version))!;
  try {
    await starter.start(delivery.id, { workflowId, flowVersion: flow.version });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await endRun(services.db, ref.runId, RunStatus.FAILED, `the replay could not be started: ${reason}`);
    throw new UnavailableError(`the replay could not be started (${reason}); try again later`);
  }
  const run = await em.findOneOrFail(Run, ref.runId);
  await services.events.publish({
    type: 'RUN_STARTED',
    workspaceId: scope.workspaceId,
    flowId: flow.id,
    deliveryId: delivery.id,
    runId: run.id,
    status: RunStatus.RUNNING,
  });
  return run;
}

/** Every run of a delivery, newest first: the first run and its replays. */
export function runsOf(em: EntityManager, delivery: Delivery): Promise<Run[]> {
  return em.find(Run, { delivery }, { orderBy: { startedAt: 'desc', id: 'desc' } });
}
