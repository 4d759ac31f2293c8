import { randomUUID } from 'node:crypto';
import { Entity, OneToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Flow } from './Flow';

/** The flow's webhook endpoint. The token is looked up by its hash and kept encrypted for display. */
@Entity()
export class WebhookTrigger {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @OneToOne(() => Flow, { owner: true, deleteRule: 'cascade', unique: true })
  flow!: Rel<Flow>;

  @Property({ unique: true })
  tokenHash!: string;

  @Property({ type: 'text' })
  tokenEncrypted!: string;

  @Property({ type: 'datetime' })
  tokenCreatedAt: Date & Opt = new Date();

  /** After a rotation with a grace period, the old token keeps working until previousTokenExpiresAt. */
  @Property({ nullable: true, index: true })
  previousTokenHash?: string;

  @Property({ type: 'datetime', nullable: true })
  previousTokenExpiresAt?: Date;
}
