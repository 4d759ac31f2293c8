import { randomUUID } from 'node:crypto';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Opt } from '@mikro-orm/core';

@Entity()
export class Workspace {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property()
  name!: string;

  /** Days deliveries are kept in this workspace; null: the installation's HOOKFLOW_RETENTION_DAYS. */
  @Property({ type: 'integer', nullable: true })
  retentionDays?: number;

  @Property({ type: 'datetime' })
  createdAt: Date & Opt = new Date();
}
