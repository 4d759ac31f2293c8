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
function insert(
  db: Database,
  active: ActiveTrigger,
  incoming: IncomingDelivery & { duplicateOf?: string },
): Promise<string | undefined> {
  let inserts = batchers.get(db);
  if (!inserts) batchers.set(db, (inserts = new BatchedInserts(db)));
  // A trigger that keeps no payload stores it only for its run: a rejected or duplicate request never runs.
  const erased = active.trigger.storePayload === false && incoming.status !== DeliveryStatus.ACCEPTED;
  return inserts.insert({
    id: randomUUID(),
    workspace_id: active.workspaceId,
    flow_id: active.flowId,
    trigger_id: active.triggerId,
    flow_version: active.flowVersion,
    status: incoming.status,
    idempotency_key: incoming.idempotencyKey ?? null,
    method: incoming.method,
    headers: erased ? {} : incoming.headers,
    query: erased ? {} : incoming.query,
    body: erased ? null : (incoming.body ?? null),
    content_type: incoming.contentType?.slice(0, MAX_CONTENT_TYPE) ?? null,
    size_bytes: incoming.sizeBytes,
    reject_reason: incoming.rejectReason ?? null,
    validation_errors: incoming.validationErrors ?? [],
    received_at: incoming.receivedAt ?? new Date(),
    dispatch_state:
      incoming.status === DeliveryStatus.ACCEPTED ? DispatchState.PENDING : DispatchState.DISPATCHED,
    is_test: incoming.isTest ?? false,
    duplicate_of: incoming.duplicateOf ?? null,
    source_ip: incoming.sourceIp ?? null,
    payload_erased_at: erased ? new Date() : null,
    accept_latency_ms:
      incoming.startedAt === undefined ? null : Math.round(performance.now() - incoming.startedAt),
  });
}

type DeliveryRow = { id: string } & Record<string, unknown>;
const batchers = new WeakMap<Database, BatchedInserts>();
const MAX_BATCH = 500;

/**
 * Group commit: deliveries that arrive while an insert is in flight go together in the next statement, so under
 * load the database sees one statement for many requests (and at low load nothing waits). Each caller still
 * gets its answer only after the statement holding its row committed. If a batch fails, its rows are tried one
 * by one, so one bad row fails only its own request.
 */
class BatchedInserts {
  private queue: { row: DeliveryRow; done(id: string | undefined, err?: unknown): void }[] = [];
  private flushing = false;

  constructor(private readonly db: Database) {}

  insert(row: DeliveryRow): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, done: (id, err) => (err ? reject(err as Error) : resolve(id)) });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const inserted = await this.write(batch.map((b) => b.row));
        for (const b of batch) b.done(inserted.has(b.row.id) ? b.row.id : undefined);
      } catch (err) {
        if (batch.length === 1) batch[0]!.done(undefined, err);
        else await this.oneByOne(batch);
      }
    }
    this.flushing = false;
  }

  private async oneByOne(batch: typeof this.queue): Promise<void> {
    for (const b of batch) {
      try {
        const inserted = await this.write([b.row]);
        b.done(inserted.has(b.row.id) ? b.row.id : undefined);
      } catch (err) {
        b.done(undefined, err);
      }
    }
  }

  /** The ids inserted; a row whose idempotency key was claimed already is left out. */
  private async write(rows: DeliveryRow[]): Promise<Set<string>> {
    const inserted = await this.db.sql<{ id: string }>(
      `insert into delivery select * from json_populate_recordset(null::delivery, $1::json)
       on conflict (trigger_id, idempotency_key) do nothing
       returning id`,
      [JSON.stringify(rows)],
    );
    return new Set(inserted.map((r) => r.id));
  }
}

/** The content_type column's size; the whole header is kept with the other headers. */
const MAX_CONTENT_TYPE = 255;

/** Keys longer than the column are replaced by their hash, so any sender's id fits. */
function normaliseKey(key: string): string {
  return key.length <= 200 ? key : `sha256:${sha256(key)}`;
}

/** Marks the deliveries whose runs were started DISPATCHED, in one statement. */
export async function markDispatched(db: Database, deliveryIds: string[]): Promise<void> {
  await db.sql(
    `update delivery set dispatch_state = 'DISPATCHED', dispatched_at = $1
     where id = any($2::uuid[]) and dispatch_state = 'PENDING'`,
    [new Date(), deliveryIds],
  );
}

export function getDelivery(em: EntityManager, scope: Scope, id: string): Promise<Delivery> {
  return findOwned(em, Delivery, id, scope, 'delivery');
}

/** The newest run of a delivery (a replay adds more). */
export async function latestRun(em: EntityManager, delivery: Delivery): Promise<Run | null> {
  return em.findOne(Run, { delivery }, { orderBy: { startedAt: 'desc' } });
}
