import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Flow } from './Flow';
import type { StepDefinition, TriggerDefinition } from './definitions';

/** Never updated after insert: a run pins the version it started with. */
@Entity()
@Unique({ properties: ['flow', 'version'] })
export class FlowVersion {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Flow, { deleteRule: 'cascade' })
  flow!: Rel<Flow>;

  @Property()
  version!: number;

  @Property({ type: 'json' })
  trigger!: TriggerDefinition;

  @Property({ type: 'json' })
  steps!: StepDefinition[];

  @Property({ type: 'datetime' })
  createdAt: Date & Opt = new Date();
}
