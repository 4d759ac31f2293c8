import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { VariableType } from './enums';

/** GraphQL views and inputs of the JSON kept in FlowVersion; shapes are checked by the zod schemas in definitions.ts. */

@ObjectType('TriggerVariable')
export class TriggerVariableView {
  @Field()
  name!: string;

  @Field(() => VariableType)
  type!: VariableType;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field()
  required!: boolean;
}

@ObjectType('WebhookTrigger')
export class WebhookTriggerView {
  @Field()
  label!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [TriggerVariableView])
  variables!: TriggerVariableView[];

  @Field(() => [String])
  methods!: string[];

  @Field(() => Int)
  maxBodyBytes!: number;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@ObjectType('Step')
export class StepView {
  @Field()
  key!: string;

  @Field()
  plugin!: string;

  @Field()
  pluginVersion!: string;

  @Field()
  action!: string;

  @Field(() => GraphQLJSONObject)
  input!: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  when?: string | null;

  @Field(() => String, { nullable: true })
  credentialId?: string | null;
}

@InputType()
export class TriggerVariableInput {
  @Field()
  name!: string;

  @Field(() => VariableType)
  type!: VariableType;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Boolean, { nullable: true })
  required?: boolean | null;
}

@InputType()
export class WebhookTriggerInput {
  @Field()
  label!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [TriggerVariableInput], { nullable: true })
  variables?: TriggerVariableInput[] | null;

  @Field(() => [String], { nullable: true, description: 'Allowed HTTP methods (default POST)' })
  methods?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'Largest accepted body in bytes (default 1 MiB)' })
  maxBodyBytes?: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A {{…}} reference whose value is the idempotency key, when the sender has no delivery id header',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class StepInput {
  @Field()
  key!: string;

  @Field({ description: 'Plugin name, optionally pinned: "http" or "http@0.1.0"' })
  plugin!: string;

  @Field()
  action!: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Action input; strings may hold {{…}} templates',
  })
  input?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'A {{…}} reference; the step is skipped when it is falsy',
  })
  when?: string | null;

  @Field(() => String, { nullable: true })
  credentialId?: string | null;
}

@InputType()
export class CreateFlowInput {
  @Field()
  name!: string;

  @Field(() => WebhookTriggerInput, { nullable: true })
  trigger?: WebhookTriggerInput | null;

  @Field(() => [StepInput], { nullable: true })
  steps?: StepInput[] | null;
}

@InputType()
export class UpdateFlowInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => WebhookTriggerInput, { nullable: true })
  trigger?: WebhookTriggerInput | null;

  @Field(() => [StepInput], { nullable: true })
  steps?: StepInput[] | null;
}
