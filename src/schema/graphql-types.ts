import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { ResponseMode, ValidationMode, VariableType, WebhookAuthType } from './enums';

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

  @Field(() => [TriggerVariableView], { nullable: true, description: 'For OBJECT: declared fields' })
  properties?: TriggerVariableView[] | null;

  @Field(() => TriggerVariableItemsView, { nullable: true, description: 'For ARRAY: the element shape' })
  items?: TriggerVariableItemsView | null;
}

@ObjectType('TriggerVariableItems')
export class TriggerVariableItemsView {
  @Field(() => VariableType)
  type!: VariableType;

  @Field(() => [TriggerVariableView], { nullable: true })
  properties?: TriggerVariableView[] | null;
}

@ObjectType('WebhookAuth', { description: 'How senders authenticate; secrets are never returned' })
export class WebhookAuthView {
  @Field(() => WebhookAuthType)
  type!: WebhookAuthType;

  @Field(() => String, { nullable: true })
  headerName?: string | null;

  @Field(() => String, { nullable: true })
  username?: string | null;

  @Field(() => Int, { description: 'How many secrets are active (two during a rotation)' })
  secretCount!: number;

  @Field(() => Int)
  toleranceSeconds!: number;
}

@ObjectType('RateLimit')
export class RateLimitView {
  @Field(() => Int)
  requestsPerMinute!: number;

  @Field(() => Int, { nullable: true })
  burst?: number | null;
}

@ObjectType('TriggerRedaction', {
  description: 'Header names and query keys redacted besides the default list (case-insensitive)',
})
export class TriggerRedactionView {
  @Field(() => [String])
  headers!: string[];

  @Field(() => [String])
  query!: string[];
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

  @Field(() => ValidationMode)
  validation!: ValidationMode;

  @Field(() => ResponseMode)
  responseMode!: ResponseMode;

  @Field(() => Int)
  syncTimeoutMs!: number;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: 'SYNC mode answer: {status, headers, body} with templates',
  })
  response?: unknown;

  @Field(() => WebhookAuthView)
  auth!: WebhookAuthView;

  @Field(() => [String])
  ipAllowlist!: string[];

  @Field(() => RateLimitView, { nullable: true })
  rateLimit?: RateLimitView | null;

  @Field(() => TriggerRedactionView, { nullable: true })
  redact?: TriggerRedactionView | null;

  @Field(() => Boolean, { description: 'False: each payload is erased when its run ends' })
  storePayload!: boolean;
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

  @Field(() => Boolean, { nullable: true })
  strictReferences?: boolean | null;
}

@InputType()
export class TriggerVariableItemsInput {
  @Field(() => VariableType)
  type!: VariableType;

  @Field(() => [TriggerVariableInput], { nullable: true })
  properties?: TriggerVariableInput[] | null;
}

@InputType()
export class WebhookAuthInput {
  @Field(() => WebhookAuthType)
  type!: WebhookAuthType;

  @Field(() => String, {
    nullable: true,
    description: 'HEADER_TOKEN: the header carrying the token (default X-Webhook-Token)',
  })
  headerName?: string | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Signing secrets or header tokens; two during a rotation. Omit on update to keep the stored ones.',
  })
  secrets?: string[] | null;

  @Field(() => String, { nullable: true })
  username?: string | null;

  @Field(() => String, { nullable: true, description: 'BASIC only; omit on update to keep the stored one' })
  password?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Allowed clock difference for signed timestamps (default 300)',
  })
  toleranceSeconds?: number | null;
}

@InputType()
export class RateLimitInput {
  @Field(() => Int)
  requestsPerMinute!: number;

  @Field(() => Int, { nullable: true })
  burst?: number | null;
}

@InputType()
export class TriggerRedactionInput {
  @Field(() => [String], { nullable: true, description: 'Header names, such as X-Acme-Account' })
  headers?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Query keys, matched at any depth, such as customer_ssn',
  })
  query?: string[] | null;
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

  @Field(() => [TriggerVariableInput], { nullable: true })
  properties?: TriggerVariableInput[] | null;

  @Field(() => TriggerVariableItemsInput, { nullable: true })
  items?: TriggerVariableItemsInput | null;
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

  @Field(() => ValidationMode, {
    nullable: true,
    description: 'STRICT (default) refuses bad payloads with 422',
  })
  validation?: ValidationMode | null;

  @Field(() => ResponseMode, { nullable: true, description: 'ASYNC (default) answers 202 at once' })
  responseMode?: ResponseMode | null;

  @Field(() => Int, { nullable: true, description: 'SYNC: how long to wait for the run (default 10000)' })
  syncTimeoutMs?: number | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'SYNC: {status, headers, body}; strings may hold templates',
  })
  response?: Record<string, unknown> | null;

  @Field(() => WebhookAuthInput, { nullable: true })
  auth?: WebhookAuthInput | null;

  @Field(() => [String], { nullable: true, description: 'IP addresses or CIDR ranges allowed to send' })
  ipAllowlist?: string[] | null;

  @Field(() => RateLimitInput, { nullable: true })
  rateLimit?: RateLimitInput | null;

  @Field(() => TriggerRedactionInput, {
    nullable: true,
    description:
      'Header names and query keys to redact from stored deliveries and templates, besides the default list',
  })
  redact?: TriggerRedactionInput | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'False keeps no payload (privacy): it is stored only until its run ends, then erased; such deliveries cannot be replayed (default true)',
  })
  storePayload?: boolean | null;
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

  @Field(() => Boolean, { nullable: true, description: 'Fail the step when a reference has no value' })
  strictReferences?: boolean | null;
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
