import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { FlowStatus } from './enums';
import { Workspace } from './Workspace';

/** A flow's identity; its trigger and steps live in immutable FlowVersions. */
@ObjectType()
@Entity()
@Index({ properties: ['workspace', 'createdAt'] })
export class Flow {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Workspace, { deleteRule: 'cascade' })
  workspace!: Rel<Workspace>;

  @Field()
  @Property()
  name!: string;

  @Field(() => FlowStatus)
  @Enum({ items: () => FlowStatus })
  status: FlowStatus & Opt = FlowStatus.ACTIVE;

  @Field(() => Int, { description: 'The current version number; every save creates a new one' })
  @Property({ type: 'integer' })
  version: number & Opt = 1;

  @Field(() => Date)
  @Property({ type: 'datetime' })
  createdAt: Date & Opt = new Date();

  @Field(() => Date)
  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();
}
