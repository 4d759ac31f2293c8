import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { Delivery, type ValidationIssue } from '../schema/Delivery';
import { DeliveryStatus, DispatchState } from '../schema/enums';
import { Run } from '../schema/Run';
import type { ActiveTrigger } from './active-triggers';
import { sha256 } from './crypto';
import type { Database } from './database';
import { findOwned, type Scope } from './scope';

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
  deliveryId: string;
  duplicate: boolean;
  /** For a duplicate: the DUPLICATE row recorded for the statistics. */
  duplicateRowId?: string;
};

/**
 * Commits the delivery in one statement. Only accepted deliveries claim their idempotency key (unique per
 * trigger), so a rejected attempt never blocks the sender's corrected retry. When the key was claimed before, a
 * DUPLICATE row pointing at the original is recorded instead, and the original comes back with
 * duplicate = true. Concurrent requests with one key race on the unique index: exactly one wins.
 */
export async function recordDelivery(
  db: Database,
  active: ActiveTrigger,
  incoming: IncomingDelivery,
): Promise<RecordedDelivery> {
  const idempotencyKey = incoming.idempotencyKey && normaliseKey(incoming.idempotencyKey);
  const claimsKey = incoming.status === DeliveryStatus.ACCEPTED ? idempotencyKey : undefined;
  const inserted = await insert(db, active, { ...incoming, idempotencyKey: claimsKey });
  if (inserted) return { deliveryId: inserted, duplicate: false };
  const [original] = await db.sql<{ id: string }>(
    'select id from delivery where trigger_id = $1 and idempotency_key = $2',
    [active.triggerId, claimsKey],
  );
  // The original may only vanish in between if its flow was deleted: the insert then fails on its flow.
  const duplicateRowId = await insert(db, active, {
    ...incoming,
    status: DeliveryStatus.DUPLICATE,
    idempotencyKey: undefined,
    duplicateOf: original!.id,
  });
  return { deliveryId: original!.id, duplicate: true, duplicateRowId };
}

/** The new row's id, or undefined when its idempotency key was claimed already. */
async function insert(
  db: Database,
  active: ActiveTrigger,
  incoming: IncomingDelivery & { duplicateOf?: string },
): Promise<string | undefined> {
  const { startedAt } = incoming;
  const [row] = await db.sql<{ id: string }>(
    `insert into delivery (id, workspace_id, flow_id, trigger_id, flow_version, status, idempotency_key, method,
       headers, query, body, content_type, size_bytes, reject_reason, validation_errors, received_at,
       dispatch_state, is_test, duplicate_of, source_ip, accept_latency_ms)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10::text::jsonb, $11::text::jsonb, $12, $13, $14,
       $15::text::jsonb, $16, $17, $18, $19, $20, $21)
     on conflict (trigger_id, idempotency_key) do nothing
     returning id`,
    [
      randomUUID(),
      active.workspaceId,
      active.flowId,
      active.triggerId,
      active.flowVersion,
      incoming.status,
      incoming.idempotencyKey ?? null,
      incoming.method,
      JSON.stringify(incoming.headers),
      JSON.stringify(incoming.query),
      incoming.body == null ? null : JSON.stringify(incoming.body),
      incoming.contentType?.slice(0, MAX_CONTENT_TYPE) ?? null,
      incoming.sizeBytes,
      incoming.rejectReason ?? null,
      JSON.stringify(incoming.validationErrors ?? []),
      incoming.receivedAt ?? new Date(),
      incoming.status === DeliveryStatus.ACCEPTED ? DispatchState.PENDING : DispatchState.DISPATCHED,
      incoming.isTest ?? false,
      incoming.duplicateOf ?? null,
      incoming.sourceIp ?? null,
      startedAt === undefined ? null : Math.round(performance.now() - startedAt),
    ],
  );
  return row?.id;
}

/** The content_type column's size; the whole header is kept with the other headers. */
const MAX_CONTENT_TYPE = 255;

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
