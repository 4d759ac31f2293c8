import { Arg, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { Delivery } from '../schema/Delivery';
import { Run } from '../schema/Run';
import { getDelivery, latestRun } from '../services/deliveries';
import type { GraphqlContext } from './context';

@Resolver(() => Delivery)
export class DeliveryResolver {
  @Query(() => Delivery)
  delivery(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Delivery> {
    return getDelivery(ctx.em, ctx.scope, id);
  }

  @FieldResolver(() => Run, {
    nullable: true,
    description: 'The newest run of this delivery (null until one started)',
  })
  run(@Root() delivery: Delivery, @Ctx() ctx: GraphqlContext): Promise<Run | null> {
    return latestRun(ctx.em, delivery);
  }
}
