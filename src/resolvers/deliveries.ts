import {
  Arg,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { Delivery } from '../schema/Delivery';
import { DeliveryStatus } from '../schema/enums';
import { Run } from '../schema/Run';
import { getDelivery, latestRun } from '../services/deliveries';
import { listDeliveries, MAX_PAGE_SIZE, type DeliveryPage } from '../services/delivery-pages';
import { replayDelivery, runsOf } from '../services/replay';
import type { GraphqlContext } from './context';

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` to get the next page' })
  endCursor!: string | null;
}

@ObjectType()
export class DeliveryEdge {
  @Field()
  cursor!: string;

  @Field(() => Delivery)
  node!: Delivery;
}

@ObjectType()
export class DeliveryConnection implements DeliveryPage {
  @Field(() => [DeliveryEdge])
  edges!: DeliveryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@Resolver(() => Delivery)
export class DeliveryResolver {
  @Query(() => Delivery)
  delivery(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Delivery> {
    return getDelivery(ctx.em, ctx.scope, id);
  }

  @Query(() => DeliveryConnection, {
    description: `A flow's deliveries, newest first, optionally of one status; pages of at most ${MAX_PAGE_SIZE}`,
  })
  deliveries(
    @Arg('flowId', () => ID) flowId: string,
    @Arg('status', () => DeliveryStatus, { nullable: true }) status: DeliveryStatus | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphqlContext,
  ): Promise<DeliveryPage> {
    return listDeliveries(ctx.em, ctx.scope, { flowId, status, first: first ?? 20, after });
  }

  @Mutation(() => Run, {
    description:
      'Runs an ACCEPTED delivery again with the same payload on the flow’s current version (a new run; needs EDITOR)',
  })
  replayDelivery(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Run> {
    return replayDelivery(ctx.em, ctx.scope, ctx.services, id);
  }

  @FieldResolver(() => Run, {
    nullable: true,
    description: 'The newest run of this delivery (null until one started)',
  })
  run(@Root() delivery: Delivery, @Ctx() ctx: GraphqlContext): Promise<Run | null> {
    return latestRun(ctx.em, delivery);
  }

  @FieldResolver(() => [Run], { description: 'Every run of this delivery, newest first (replays add runs)' })
  runs(@Root() delivery: Delivery, @Ctx() ctx: GraphqlContext): Promise<Run[]> {
    return runsOf(ctx.em, delivery);
  }
}
