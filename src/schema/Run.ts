import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Delivery } from './Delivery';
import { RunStatus } from './enums';
import { Flow } from './Flow';
import { Workspace } from './Workspace';

/** One execution of a flow version for a delivery; exactly one per workflow id. */
@ObjectType()
@Entity()
@Index({ properties: ['workspace', 'finishedAt'] })
@Index({ properties: ['flow', 'finishedAt'] })
@Index({ properties: ['status', 'startedAt'] })
export class Run {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Workspace, { deleteRule: 'cascade' })
  workspace!: Rel<Workspace>;

  @ManyToOne(() => Flow, { deleteRule: 'cascade' })
  flow!: Rel<Flow>;

  @ManyToOne(() => Delivery, { deleteRule: 'cascade', index: true })
  delivery!: Rel<Delivery>;

  @Field(() => Int)
  @Property()
  flowVersion!: number;

  @Field()
  @Property({ unique: true })
  workflowId!: string;

  @Field(() => RunStatus)
  @Enum({ items: () => RunStatus })
  status: RunStatus & Opt = RunStatus.RUNNING;

  @Field({ nullable: true })
  @Property({ type: 'text', nullable: true })
  error?: string;

  @Field(() => Date)
  @Property({ type: 'datetime' })
  startedAt: Date & Opt = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  finishedAt?: Date;
}
