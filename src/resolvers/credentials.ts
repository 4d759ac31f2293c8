import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, InputType, Mutation, Query, Resolver } from 'type-graphql';
import { Credential } from '../schema/Credential';
import type { Services } from '../services';
import type { CredentialService } from '../services/credentials';
import { UnavailableError } from '../services/errors';
import type { GraphqlContext } from './context';

@InputType()
export class CreateCredentialInput {
  @Field()
  name!: string;

  @Field({ description: 'Plugin name, e.g. "email"' })
  plugin!: string;

  @Field({ description: "One of the plugin's credentialTypes" })
  type!: string;

  @Field(() => GraphQLJSONObject, {
    description: "The secret values, checked against the type's schema; stored encrypted, never returned",
  })
  data!: Record<string, unknown>;
}

@Resolver(() => Credential)
export class CredentialResolver {
  constructor(private readonly services: Services) {}

  private get service(): CredentialService {
    if (!this.services.credentials) throw new UnavailableError('credentials are not managed by this process');
    return this.services.credentials;
  }

  @Query(() => [Credential], { description: "The workspace's credentials (metadata only), oldest first" })
  credentials(@Ctx() ctx: GraphqlContext): Promise<Credential[]> {
    return this.service.list(ctx.em, ctx.scope);
  }

  @Mutation(() => Credential, { description: 'EDITOR: stores a credential for steps to use' })
  createCredential(
    @Arg('input', () => CreateCredentialInput) input: CreateCredentialInput,
    @Ctx() ctx: GraphqlContext,
  ): Promise<Credential> {
    return this.service.create(ctx.em, ctx.scope, input);
  }

  @Mutation(() => Boolean, {
    description: 'EDITOR: deletes a credential; refused while the current version of a flow uses it',
  })
  deleteCredential(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphqlContext): Promise<boolean> {
    return this.service.delete(ctx.em, ctx.scope, id);
  }
}
