import { Arg, Ctx, Field, Float, ID, Int, ObjectType, Query, registerEnumType, Resolver } from 'type-graphql';
import { MAX_BUCKETS, StatsBucket, usageStats, type UsageBucket } from '../services/stats';
import type { GraphqlContext } from './context';

registerEnumType(StatsBucket, { name: 'StatsBucket', description: 'Bucket size of usage statistics (UTC)' });

@ObjectType('RejectReasonCount')
export class RejectReasonCountView {
  @Field()
  reason!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType('UsageBucket', { description: 'What happened in one time bucket; test webhooks are not counted' })
export class UsageBucketView implements UsageBucket {
  @Field(() => Date, { description: 'Start of the bucket (UTC)' })
  start!: Date;

  @Field(() => Int, { description: 'Requests recorded: accepted + rejected + duplicates' })
  received!: number;

  @Field(() => Int)
  accepted!: number;

  @Field(() => Int)
  rejected!: number;

  @Field(() => [RejectReasonCountView])
  rejectedByReason!: RejectReasonCountView[];

  @Field(() => Int, { description: 'Repeated idempotency keys (answered 200, not run again)' })
  duplicates!: number;

  @Field(() => Int, { description: 'Runs that finished COMPLETED in this bucket' })
  runsSucceeded!: number;

  @Field(() => Int, { description: 'Runs that finished FAILED in this bucket' })
  runsFailed!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Median time from request to commit, accepted deliveries',
  })
  acceptLatencyP50Ms!: number | null;

  @Field(() => Float, { nullable: true })
  acceptLatencyP95Ms!: number | null;

  @Field(() => Float, { nullable: true, description: 'Median run duration of the runs that finished here' })
  runDurationP50Ms!: number | null;

  @Field(() => Float, { nullable: true })
  runDurationP95Ms!: number | null;
}

@Resolver()
export class StatsResolver {
  @Query(() => [UsageBucketView], {
    description: `Usage per bucket in [from, to), every bucket included (at most ${MAX_BUCKETS}); one flow or, without flowId, the whole workspace`,
  })
  usageStats(
    @Arg('flowId', () => ID, { nullable: true }) flowId: string | null,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Arg('bucket', () => StatsBucket, { defaultValue: StatsBucket.HOUR }) bucket: StatsBucket,
    @Ctx() ctx: GraphqlContext,
  ): Promise<UsageBucket[]> {
    return usageStats(ctx.em, ctx.scope, { flowId, from, to, bucket });
  }
}
