import type { TriggerDefinition } from '../schema/definitions';
import { sha256 } from './crypto';
import type { Database } from './database';
import type { EventBus } from './events';

/** An active flow's trigger with the version new deliveries run on. */
export type ActiveTrigger = {
  triggerId: string;
  flowId: string;
  workspaceId: string;
  versionId: string;
  flowVersion: number;
  trigger: TriggerDefinition;
};

type Row = {
  trigger_id: string;
  flow_id: string;
  workspace_id: string;
  flow_status: string;
  version_id: string;
  version: number;
  trigger: TriggerDefinition;
  token_hash: string;
  previous_token_expires_at: string | null;
};

const SELECT = `select t.id as trigger_id, t.flow_id, f.workspace_id, f.status as flow_status, v.id as version_id,
    v.version, v.trigger, t.token_hash, t.previous_token_expires_at
  from webhook_trigger t
  join flow f on f.id = t.flow_id
  join flow_version v on v.flow_id = f.id and v.version = f.version`;

const toActive = (row: Row): ActiveTrigger => ({
  triggerId: row.trigger_id,
  flowId: row.flow_id,
  workspaceId: row.workspace_id,
  versionId: row.version_id,
  flowVersion: row.version,
  trigger: row.trigger,
});

/** The trigger of a flow with its current version, whatever the flow's status (test webhooks). */
export async function triggerOfFlow(db: Database, flowId: string): Promise<ActiveTrigger | undefined> {
  const [row] = await db.sql<Row>(`${SELECT} where t.flow_id = $1`, [flowId]);
  return row && toActive(row);
}

/** Entries are dropped this long after loading even without a change notice (a missed notice heals). */
const MAX_AGE_MS = 60_000;
const CAPACITY = 10_000;

/**
 * Webhook token → active trigger, cached: a request for a known URL costs no query. Every process drops the
 * cache when any process announces a change of flows (update, pause, rotation, deletion). Only active triggers
 * are cached, so unknown, rotated and paused URLs all take the same single lookup.
 */
export class ActiveTriggers {
  private readonly cache = new Map<string, { active: ActiveTrigger; loadedAt: number; expiresAt?: number }>();

  constructor(
    private readonly db: Database,
    events: Pick<EventBus, 'onChange'>,
  ) {
    events.onChange('triggers', () => this.cache.clear());
  }

  /**
   * After a rotation with a grace period the previous token keeps working until it expires. Unknown, expired and
   * paused all give undefined, so a caller cannot tell them apart.
   */
  async find(token: string, now = new Date()): Promise<ActiveTrigger | undefined> {
    const hash = sha256(token);
    const cached = this.cache.get(hash);
    if (
      cached &&
      now.getTime() - cached.loadedAt < MAX_AGE_MS &&
      (cached.expiresAt ?? Infinity) > now.getTime()
    ) {
      return cached.active;
    }
    this.cache.delete(hash);
    const [row] = await this.db.sql<Row>(
      `${SELECT} where t.token_hash = $1 or (t.previous_token_hash = $1 and t.previous_token_expires_at > $2)`,
      [hash, now],
    );
    if (!row || row.flow_status !== 'ACTIVE') return undefined;
    const active = toActive(row);
    if (this.cache.size >= CAPACITY) this.cache.clear();
    const previous = row.token_hash !== hash && row.previous_token_expires_at;
    this.cache.set(hash, {
      active,
      loadedAt: now.getTime(),
      ...(previous ? { expiresAt: new Date(previous).getTime() } : {}),
    });
    return active;
  }
}
