import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, Mutation, ObjectType, Query, registerEnumType, Resolver } from 'type-graphql';
import { depthOf, MAX_JSON_DEPTH } from '../ingress/body';
import { validatorFor } from '../ingress/validator';
import { Delivery } from '../schema/Delivery';
import { TriggerVariableView } from '../schema/graphql-types';
import { getDelivery } from '../services/deliveries';
import { BadInputError } from '../services/errors';
import { inferVariables } from '../services/infer';
import { ValueType } from '../services/json-schema-paths';
import { SuggestionSource, variableSuggestions, type VariableSuggestion } from '../services/references';
import { sendTestWebhook, type PayloadCheck } from '../services/test-webhooks';
import type { GraphqlContext } from './context';

registerEnumType(ValueType, {
  name: 'ReferenceType',
  description: 'The type of the value a reference reads',
});
registerEnumType(SuggestionSource, { name: 'SuggestionSource', description: 'Where a reference reads from' });

@ObjectType('FlowWarning', { description: 'A reference that will have no value when the flow runs' })
export class FlowWarningView {
  @Field({ description: 'Where in the flow, such as steps[0].input.body.email' })
  path!: string;

  @Field()
  message!: string;
}

@ObjectType('VariableSuggestion', { description: 'A reference valid at a step, for autocompletion' })
export class VariableSuggestionView implements VariableSuggestion {
  @Field({ description: 'Such as webhook.items[0].sku' })
  reference!: string;

  @Field({ description: 'Ready to insert: {{webhook.items[0].sku}}' })
  template!: string;

  @Field(() => ValueType)
  type!: ValueType;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => SuggestionSource)
  source!: SuggestionSource;
}

/** The ingress's own validator, so a test payload is judged exactly like a request. */
const ingressCheck: PayloadCheck = (active, body) =>
  validatorFor(active.versionId, active.trigger.variables)(body);

@Resolver()
export class AuthoringResolver {
  @Query(() => [VariableSuggestionView], {
    description:
      'Every reference valid inside a step of the current version: declared variables, request parts, earlier steps’ outputs, metadata',
  })
  async variableSuggestions(
    @Arg('flowId', () => ID) flowId: string,
    @Arg('stepKey', () => String) stepKey: string,
    @Ctx() ctx: GraphqlContext,
  ): Promise<VariableSuggestionView[]> {
    const { flows, registry } = ctx.services;
    const version = await flows.currentVersion(ctx.em, await flows.get(ctx.em, ctx.scope, flowId));
    return variableSuggestions(version, stepKey, registry).map((s) => ({
      ...s,
      template: `{{${s.reference}}}`,
    }));
  }

  @Mutation(() => [TriggerVariableView], {
    description:
      'Proposes trigger variables (all optional) from a sample JSON object; fields that are null or not valid variable names are skipped. Changes nothing.',
  })
  inferVariables(@Arg('sample', () => GraphQLJSON) sample: unknown): TriggerVariableView[] {
    return inferVariables(sample).variables;
  }

  @Mutation(() => [TriggerVariableView], {
    description: 'Like inferVariables, with the body of a recorded delivery as the sample. Changes nothing.',
  })
  async inferVariablesFromDelivery(
    @Arg('deliveryId', () => ID) deliveryId: string,
    @Ctx() ctx: GraphqlContext,
  ): Promise<TriggerVariableView[]> {
    const delivery = await getDelivery(ctx.em, ctx.scope, deliveryId);
    return inferVariables(delivery.body, {
      path: 'deliveryId',
      message: 'the delivery’s body is not a JSON object, so it names no fields',
    }).variables;
  }

  @Mutation(() => Delivery, {
    description:
      'Records a test delivery (isTest) with the payload as its JSON body and runs the flow’s current version; needs EDITOR. The trigger’s auth does not apply (the API key is the authentication).',
  })
  sendTestWebhook(
    @Arg('flowId', () => ID) flowId: string,
    @Arg('payload', () => GraphQLJSON) payload: unknown,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Delivery> {
    // The webhook body's limit, checked before anything walks the payload recursively (JSON.stringify would overflow).
    if (depthOf(payload) > MAX_JSON_DEPTH) {
      throw new BadInputError('the test payload is nested too deep', [
        { path: 'payload', message: `is nested deeper than ${MAX_JSON_DEPTH} levels` },
      ]);
    }
    return sendTestWebhook(ctx.em, ctx.scope, ctx.services, ingressCheck, flowId, payload);
  }
}
