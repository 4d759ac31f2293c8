import type { EntityManager } from '@mikro-orm/core';
import { Delivery } from '../schema/Delivery';
import { DeliveryStatus } from '../schema/enums';
import { Flow } from '../schema/Flow';
import { BadInputError } from './errors';
import { findOwned, isUuid, type Scope } from './scope';

/**
 * A flow's deliveries, newest first, in pages (keyset pagination over (receivedAt, id)). The cursor holds
 * the position in microseconds, the database's own precision, so no row is skipped or repeated between
 * pages, whatever arrives meanwhile: new deliveries appear before the first page, never inside later ones.
 */

export const MAX_PAGE_SIZE = 100;

export type DeliveryPageQuery = {
  flowId: string;
  status?: DeliveryStatus | null;
  first: number;
  after?: string | null;
};

export type DeliveryPage = {
  edges: { cursor: string; node: Delivery }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
};

type Position = { micros: string; id: string };

export async function listDeliveries(
  em: EntityManager,
  scope: Scope,
  q: DeliveryPageQuery,
): Promise<DeliveryPage> {
  if (!Number.isInteger(q.first) || q.first < 1 || q.first > MAX_PAGE_SIZE) {
    throw new BadInputError('invalid page', [
      { path: 'first', message: `must be between 1 and ${MAX_PAGE_SIZE}` },
    ]);
  }
  const after = q.after != null ? decodeCursor(q.after) : undefined;
  const flow = await findOwned(em, Flow, q.flowId, scope, 'flow');

  const params: unknown[] = [scope.workspaceId, flow.id];
  let where = 'd.workspace_id = ? and d.flow_id = ?';
  if (q.status) {
    where += ' and d.status = ?';
    params.push(q.status);
  }
  if (after) {
    // Row comparison in microseconds since the epoch: exact integer arithmetic on both databases.
    where += ` and (d.received_at, d.id) < (timestamptz 'epoch' + cast(? as bigint) * interval '1 microsecond', cast(? as uuid))`;
    params.push(after.micros, after.id);
  }
  const rows: { id: string; micros: string | number }[] = await em.getConnection().execute(
    `select d.id, cast(floor(extract(epoch from d.received_at) * 1000000) as bigint)::text as micros
     from delivery d
     where ${where}
     order by d.received_at desc, d.id desc
     limit ${q.first + 1}`,
    params,
  );
  const page = rows.slice(0, q.first);
  const loaded = page.length ? await em.find(Delivery, { id: { $in: page.map((r) => r.id) } }) : [];
  const byId = new Map(loaded.map((d) => [d.id, d]));
  const edges = page.flatMap((r) => {
    const node = byId.get(r.id);
    return node ? [{ cursor: encodeCursor({ micros: String(r.micros), id: r.id }), node }] : [];
  });
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > q.first, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

function encodeCursor(p: Position): string {
  return Buffer.from(`d1:${p.micros}:${p.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const m = /^d1:(\d{1,19}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || !isUuid(m[2]!)) {
    throw new BadInputError('invalid cursor', [
      { path: 'after', message: 'is not a cursor from this list (pass pageInfo.endCursor unchanged)' },
    ]);
  }
  return { micros: m[1]!, id: m[2]! };
}
