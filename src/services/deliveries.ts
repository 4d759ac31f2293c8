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

/**
 * The trigger a webhook token belongs to, with the version new deliveries run on. After a rotation with a
 * grace period the previous token keeps working until it expires. Unknown, expired and paused all give
 * undefined after the same single lookup, so a caller cannot tell them apart.
 */
export async function findActiveTrigger(
  em: EntityManager,
  token: string,
  now = new Date(),
): Promise<ActiveTrigger | undefined> {
  const hash = sha256(token);
  const trigger = await em.findOne(
    WebhookTrigger,
    { $or: [{ tokenHash: hash }, { previousTokenHash: hash, previousTokenExpiresAt: { $gt: now } }] },
    { populate: ['flow'] },
  );
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
  sourceIp?: string;
  receivedAt?: Date;
  /** performance.now() when the request arrived: acceptLatencyMs is measured from it to the insert. */
  startedAt?: number;
};

export type RecordedDelivery = {
  /** The delivery that runs: the new one, or for a duplicate the original. */
  delivery: Delivery;
  duplicate: boolean;
  /** For a duplicate: the DUPLICATE row recorded for the statistics. */
  duplicateRow?: Delivery;
};

/**
 * Commits the delivery in one transaction. Only accepted deliveries claim their idempotency key (unique per
 * trigger), so a rejected attempt never blocks the sender's corrected retry. When the key was claimed
 * before, a DUPLICATE row pointing at the original is recorded instead, and the original comes back with
 * duplicate = true. Concurrent requests with one key race on the unique index: exactly one wins.
 */
export async function recordDelivery(
  em: EntityManager,
  active: ActiveTrigger,
  incoming: IncomingDelivery,
): Promise<RecordedDelivery> {
  const idempotencyKey = incoming.idempotencyKey && normaliseKey(incoming.idempotencyKey);
  const claimsKey = incoming.status === DeliveryStatus.ACCEPTED && idempotencyKey;
  try {
    const delivery = await insert(em, active, {
      ...incoming,
      idempotencyKey: claimsKey ? idempotencyKey : undefined,
    });
    return { delivery, duplicate: false };
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException) || !claimsKey) throw err;
    const original = await em.fork().findOneOrFail(Delivery, { trigger: active.trigger, idempotencyKey });
    const duplicateRow = await insert(em, active, {
      ...incoming,
      status: DeliveryStatus.DUPLICATE,
      idempotencyKey: undefined,
      duplicateOf: original.id,
    });
    return { delivery: original, duplicate: true, duplicateRow };
  }
}

async function insert(
  em: EntityManager,
  { trigger, version }: ActiveTrigger,
  incoming: IncomingDelivery & { duplicateOf?: string },
): Promise<Delivery> {
  const { startedAt, receivedAt, ...fields } = incoming;
  return em.transactional(async (tx) => {
    const d = tx.create(Delivery, {
      ...fields,
      receivedAt: receivedAt ?? new Date(),
      workspace: trigger.flow.workspace,
      flow: trigger.flow,
      trigger,
      flowVersion: version.version,
      validationErrors: incoming.validationErrors ?? [],
      dispatchState:
        incoming.status === DeliveryStatus.ACCEPTED ? DispatchState.PENDING : DispatchState.DISPATCHED,
      acceptLatencyMs: startedAt === undefined ? undefined : Math.round(performance.now() - startedAt),
    });
    tx.persist(d);
    return d;
  });
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
