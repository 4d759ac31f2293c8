import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { BigIntType, type Opt } from '@mikro-orm/core';

/**
 * The event log behind `flowActivity`: every published event with its sequence number, so a subscriber that
 * reconnects can resume after the last one it saw. Written and read with plain SQL by services/events.ts;
 * rows older than the retention window are deleted in small batches.
 */
@Entity({ tableName: 'flow_event' })
@Index({ properties: ['workspaceId', 'seq'] })
@Index({ properties: ['flowId', 'seq'] })
export class StoredEvent {
  @PrimaryKey({ type: new BigIntType('string'), autoincrement: true })
  seq!: string;

  /** No foreign keys: the log outlives deleted flows until retention removes it, and inserts stay cheap. */
  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Property({ type: 'uuid' })
  flowId!: string;

  /**
   * The event as subscribers receive it, without its sequence number. `json`, not `jsonb`: kept as sent, so text
   * that jsonb refuses (`\u0000`, a lone surrogate) in an event's message cannot fail the batch it travels in.
   */
  @Property({ type: 'json', columnType: 'json' })
  payload!: unknown;

  @Property({ type: 'datetime', defaultRaw: 'current_timestamp' })
  createdAt!: Date & Opt;
}
