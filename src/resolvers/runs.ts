import { Arg, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { Run } from '../schema/Run';
import { StepRun } from '../schema/StepRun';
import { getRun, stepRuns } from '../services/runs';
import type { GraphqlContext } from './context';

@Resolver(() => Run)
export class RunResolver {
  @Query(() => Run)
  run(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<Run> {
    return getRun(ctx.em, ctx.scope, id);
  }

  @FieldResolver(() => [StepRun], { description: 'Step results in flow order' })
  steps(@Root() run: Run, @Ctx() ctx: GraphqlContext): Promise<StepRun[]> {
    return stepRuns(ctx.em, run);
  }
}
