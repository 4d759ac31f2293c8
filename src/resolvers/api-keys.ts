import { Arg, Ctx, Field, ID, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { ApiKey } from '../schema/ApiKey';
import { ApiKeyRole } from '../schema/enums';
import { createApiKey, listApiKeys, revokeApiKey } from '../services/api-keys';
import type { GraphqlContext } from './context';

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey!: ApiKey;

  @Field({ description: 'The key itself: shown only here, store it now' })
  key!: string;
}

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Query(() => [ApiKey], { description: "The workspace's API keys (ADMIN only)" })
  apiKeys(@Ctx() ctx: GraphqlContext): Promise<ApiKey[]> {
    return listApiKeys(ctx.em, ctx.scope);
  }

  @Mutation(() => CreatedApiKey, { description: 'ADMIN only' })
  createApiKey(
    @Arg('name', () => String) name: string,
    @Arg('role', () => ApiKeyRole) role: ApiKeyRole,
    @Arg('installationAdmin', () => Boolean, {
      defaultValue: false,
      description: 'Grant the installation-level right (plugins); only a key that holds it may grant it',
    })
    installationAdmin: boolean,
    @Ctx() ctx: GraphqlContext,
  ): Promise<CreatedApiKey> {
    return createApiKey(ctx.em, ctx.scope, name, role, installationAdmin);
  }

  @Mutation(() => ApiKey, { description: 'ADMIN only; the key stops working at once' })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<ApiKey> {
    return revokeApiKey(ctx.em, ctx.scope, id);
  }
}
