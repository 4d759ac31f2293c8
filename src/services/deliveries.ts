import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { Delivery, type ValidationIssue } from '../schema/Delivery';
import { DeliveryStatus, DispatchState, FlowStatus } from '../schema/enums';
import { FlowVersion } from '../schema/FlowVersion';
import { Run } from '../schema/Run';
import { WebhookTrigger } from '../schema/WebhookTrigger';
import { sha256 } from './crypto';
import { findOwned, type Scope } from './scope';

/** An active flow's trigger with the version new deliveries run on. */
export type ActiveTrigger = { trigger: WebhookTrigger; version: FlowVersion };

export async function findActiveTrigger(
  em: EntityManager,
  token: string,
): Promise<ActiveTrigger | undefined> {
  const trigger = await em.findOne(WebhookTrigger, { tokenHash: sha256(token) }, { populate: ['flow'] });
  if (!trigger || trigger.flow.status !== FlowStatus.ACTIVE) return undefined;
  const version = await em.findOne(FlowVersion, { flow: trigger.flow, version: trigger.flow.version });
  return version ? { trigger, version } : undefined;
}

export type IncomingDelivery = {
  status: DeliveryStatus;
  method: string;
  headers: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  contentType?: string;
  sizeBytes: number;
  idempotencyKey?: string;
  rejectReason?: string;
  validationErrors?: ValidationIssue[];
  isTest?: boolean;
};

/**
 * Commits the delivery in one transaction. When the idempotency key was seen before, nothing is written
 * and the original delivery comes back with duplicate = true.
 */
export async function recordDelivery(
  em: EntityManager,
  active: ActiveTrigger,
  incoming: IncomingDelivery,
): Promise<{ delivery: Delivery; duplicate: boolean }> {
  const { trigger, version } = active;
  const idempotencyKey = incoming.idempotencyKey && normaliseKey(incoming.idempotencyKey);
  try {
    const delivery = await em.transactional(async (tx) => {
      const d = tx.create(Delivery, {
        ...incoming,
        idempotencyKey: incoming.status === DeliveryStatus.ACCEPTED ? idempotencyKey : undefined,
        workspace: trigger.flow.workspace,
        flow: trigger.flow,
        trigger,
        flowVersion: version.version,
        validationErrors: incoming.validationErrors ?? [],
        dispatchState:
          incoming.status === DeliveryStatus.ACCEPTED ? DispatchState.PENDING : DispatchState.DISPATCHED,
      });
      tx.persist(d);
      return d;
    });
    return { delivery, duplicate: false };
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException) || !idempotencyKey) throw err;
    const original = await em.fork().findOneOrFail(Delivery, { trigger, idempotencyKey });
    return { delivery: original, duplicate: true };
  }
}

/** Keys longer than the column are replaced by their hash, so any sender's id fits. */
function normaliseKey(key: string): string {
  return key.length <= 200 ? key : `sha256:${sha256(key)}`;
}

export async function markDispatched(em: EntityManager, deliveryId: string): Promise<void> {
  await em.nativeUpdate(
    Delivery,
    { id: deliveryId, dispatchState: DispatchState.PENDING },
    { dispatchState: DispatchState.DISPATCHED, dispatchedAt: new Date() },
  );
}

/** Accepted deliveries that no workflow was started for yet, oldest first. */
export async function undispatched(em: EntityManager, olderThan: Date, limit: number): Promise<string[]> {
  const rows = await em.find(
    Delivery,
    { dispatchState: DispatchState.PENDING, status: DeliveryStatus.ACCEPTED, receivedAt: { $lt: olderThan } },
    { fields: ['id'], orderBy: { receivedAt: 'asc' }, limit },
  );
  return rows.map((d) => d.id);
}

export function getDelivery(em: EntityManager, scope: Scope, id: string): Promise<Delivery> {
  return findOwned(em, Delivery, id, scope, 'delivery');
}

/** The newest run of a delivery (a replay adds more). */
export async function latestRun(em: EntityManager, delivery: Delivery): Promise<Run | null> {
  return em.findOne(Run, { delivery }, { orderBy: { startedAt: 'desc' } });
}
