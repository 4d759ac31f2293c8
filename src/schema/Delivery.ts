import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DeliveryStatus, DispatchState } from './enums';
import { Flow } from './Flow';
import { WebhookTrigger } from './WebhookTrigger';
import { Workspace } from './Workspace';

@ObjectType()
export class ValidationIssue {
  @Field()
  path!: string;

  @Field()
  message!: string;
}

/** One request received on a webhook URL. A committed row is what a 2xx promises. */
@ObjectType()
@Entity()
@Unique({ properties: ['trigger', 'idempotencyKey'] })
@Index({ properties: ['flow', 'receivedAt'] })
@Index({ properties: ['workspace', 'receivedAt'] })
@Index({ properties: ['dispatchState', 'receivedAt'] })
export class Delivery {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Workspace, { deleteRule: 'cascade' })
  workspace!: Rel<Workspace>;

  @ManyToOne(() => Flow, { deleteRule: 'cascade' })
  flow!: Rel<Flow>;

  @ManyToOne(() => WebhookTrigger, { deleteRule: 'cascade' })
  trigger!: Rel<WebhookTrigger>;

  @Field(() => Int)
  @Property()
  flowVersion!: number;

  @Field(() => DeliveryStatus)
  @Enum({ items: () => DeliveryStatus })
  status!: DeliveryStatus;

  @Field({ nullable: true })
  @Property({ nullable: true })
  idempotencyKey?: string;

  @Field()
  @Property()
  method!: string;

  @Field(() => GraphQLJSON, { description: 'Request headers; secrets are redacted' })
  @Property({ type: 'json' })
  headers!: Record<string, string>;

  @Field(() => GraphQLJSON)
  @Property({ type: 'json' })
  query: Record<string, unknown> & Opt = {};

  @Field(() => GraphQLJSON, { nullable: true })
  @Property({ type: 'json', nullable: true })
  body?: unknown;

  @Field({ nullable: true })
  @Property({ nullable: true })
  contentType?: string;

  @Field(() => Int)
  @Property()
  sizeBytes!: number;

  @Field({ nullable: true })
  @Property({ nullable: true })
  rejectReason?: string;

  @Field(() => [ValidationIssue])
  @Property({ type: 'json' })
  validationErrors: ValidationIssue[] & Opt = [];

  @Field(() => String, { nullable: true, description: 'For a DUPLICATE: the delivery that was run' })
  @Property({ type: 'uuid', nullable: true })
  duplicateOf?: string;

  @Field(() => String, { nullable: true })
  @Property({ nullable: true })
  sourceIp?: string;

  @Field(() => Int, {
    nullable: true,
    description: 'Milliseconds from receiving the request to committing it',
  })
  @Property({ type: 'integer', nullable: true })
  acceptLatencyMs?: number;

  @Field(() => Date)
  @Property({ type: 'datetime' })
  receivedAt: Date & Opt = new Date();

  @Enum({ items: () => DispatchState })
  dispatchState: DispatchState & Opt = DispatchState.PENDING;

  @Property({ type: 'datetime', nullable: true })
  dispatchedAt?: Date;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  isTest: boolean & Opt = false;

  @Field(() => Date, {
    nullable: true,
    description:
      'Set when the payload was not kept (its trigger has storePayload: false): body, query and headers were erased at this time',
  })
  @Property({ type: 'datetime', nullable: true })
  payloadErasedAt?: Date;
}
