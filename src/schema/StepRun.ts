import { randomUUID } from 'node:crypto';
import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { StepRunStatus } from './enums';
import { Run } from './Run';

@ObjectType()
@Entity()
@Unique({ properties: ['run', 'stepKey'] })
export class StepRun {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Run, { deleteRule: 'cascade' })
  run!: Rel<Run>;

  @Field()
  @Property()
  stepKey!: string;

  @Field(() => Int)
  @Property()
  position!: number;

  @Field()
  @Property()
  plugin!: string;

  @Field()
  @Property()
  action!: string;

  @Field(() => StepRunStatus)
  @Enum({ items: () => StepRunStatus })
  status: StepRunStatus & Opt = StepRunStatus.RUNNING;

  @Field(() => Int, { description: 'How many times the step was tried' })
  @Property({ type: 'integer' })
  attempts: number & Opt = 0;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The input after template rendering' })
  @Property({ type: 'json', nullable: true })
  input?: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  @Property({ type: 'json', nullable: true })
  output?: unknown;

  @Field({ nullable: true })
  @Property({ type: 'text', nullable: true })
  error?: string;

  @Field(() => [String])
  @Property({ type: 'json' })
  warnings: string[] & Opt = [];

  @Field(() => Date)
  @Property({ type: 'datetime' })
  startedAt: Date & Opt = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  finishedAt?: Date;

  @Field(() => Int, { nullable: true })
  @Property({ nullable: true })
  durationMs?: number;
}
