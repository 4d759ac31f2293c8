import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { FlowStatus } from '../schema/enums';
import { Flow } from '../schema/Flow';
import type { FlowVersion } from '../schema/FlowVersion';
import { CreateFlowInput, StepView, UpdateFlowInput, WebhookTriggerView } from '../schema/graphql-types';
import type { Services } from '../services';
import { flowWarnings } from '../services/references';
import { FlowWarningView } from './authoring';
import { memo, type GraphqlContext } from './context';

@Resolver(() => Flow)
export class FlowResolver {
  constructor(private readonly services: Services) {}

  /** trigger and steps both read the current version: one query per flow and request. */
  private currentVersion(ctx: GraphqlContext, flow: Flow): Promise<FlowVersion> {
    return memo(ctx, `flow-version:${flow.id}:${flow.version}`, () =>
      this.services.flows.currentVersion(ctx.em, flow),
    );
  }

  @Query(() => [Flow], { description: "The workspace's flows, oldest first" })
  flows(@Ctx() ctx: GraphqlContext): Promise<Flow[]> {
    return this.services.flows.list(ctx.em, ctx.scope);
  }

  @Query(() => Flow)
  flow(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Flow> {
    return this.services.flows.get(ctx.em, ctx.scope, id);
  }

  @Mutation(() => Flow, { description: 'Creates a flow (version 1) with its webhook URL' })
  createFlow(
    @Arg('input', () => CreateFlowInput) input: CreateFlowInput,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Flow> {
    return this.services.flows.create(ctx.em, ctx.scope, input);
  }

  @Mutation(() => Flow, {
    description: 'Saves a new version; omitted fields keep their current value; the webhook URL stays',
  })
  updateFlow(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateFlowInput) input: UpdateFlowInput,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Flow> {
    return this.services.flows.update(ctx.em, ctx.scope, id, input);
  }

  @Mutation(() => Boolean, { description: 'Deletes the flow with its versions, deliveries and runs' })
  deleteFlow(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<boolean> {
    return this.services.flows.delete(ctx.em, ctx.scope, id);
  }

  @Mutation(() => Flow, { description: 'A PAUSED flow answers 404 on its webhook URL' })
  setFlowStatus(
    @Arg('id', () => ID) id: string,
    @Arg('status', () => FlowStatus) status: FlowStatus,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Flow> {
    return this.services.flows.setStatus(ctx.em, ctx.scope, id, status);
  }

  @Mutation(() => Flow, {
    description:
      'Issues a new webhook URL; the old one stops working at once, or after gracePeriodSeconds (at most 7 days)',
  })
  rotateWebhookToken(
    @Arg('id', () => ID) id: string,
    @Arg('gracePeriodSeconds', () => Int, { nullable: true }) gracePeriodSeconds: number | null,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Flow> {
    return this.services.flows.rotateToken(ctx.em, ctx.scope, id, gracePeriodSeconds);
  }

  @FieldResolver(() => String, { description: '<PUBLIC_URL>/api/webhook/<token>; keep it secret' })
  webhookUrl(@Root() flow: Flow, @Ctx() ctx: GraphqlContext): Promise<string> {
    return this.services.flows.webhookUrl(ctx.em, flow);
  }

  @FieldResolver(() => WebhookTriggerView, { description: 'The trigger of the current version' })
  async trigger(@Root() flow: Flow, @Ctx() ctx: GraphqlContext): Promise<WebhookTriggerView> {
    const { auth, ...trigger } = (await this.currentVersion(ctx, flow)).trigger;
    const { sealedSecrets, sealedPassword: _password, ...visible } = auth;
    return {
      ...trigger,
      storePayload: trigger.storePayload !== false, // versions saved before the setting existed kept payloads
      auth: { ...visible, secretCount: sealedSecrets.length },
    };
  }

  @FieldResolver(() => [StepView], { description: 'The steps of the current version, in order' })
  async steps(@Root() flow: Flow, @Ctx() ctx: GraphqlContext): Promise<StepView[]> {
    return (await this.currentVersion(ctx, flow)).steps;
  }

  // Save-time reference checks, computed from the current version.
  @FieldResolver(() => [FlowWarningView], {
    description:
      'References in the current version that will have no value at run time: undeclared variables, unknown or later steps, unknown output fields, malformed templates',
  })
  async warnings(@Root() flow: Flow, @Ctx() ctx: GraphqlContext): Promise<FlowWarningView[]> {
    return flowWarnings(await this.currentVersion(ctx, flow), this.services.registry);
  }
}
