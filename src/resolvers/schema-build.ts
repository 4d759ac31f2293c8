import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray } from 'type-graphql';
import type { Services } from '../services';
import { ActivityResolver } from './activity';
import { ApiKeyResolver } from './api-keys';
import { AuthoringResolver } from './authoring';
import { CredentialResolver } from './credentials';
import { DeliveryResolver } from './deliveries';
import { FlowResolver } from './flows';
import { PluginResolver } from './plugins';
import { RunResolver } from './runs';
import { StatsResolver } from './stats';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const resolvers: NonEmptyArray<Function> = [
  FlowResolver,
  DeliveryResolver,
  RunResolver,
  ApiKeyResolver,
  ActivityResolver,
  StatsResolver,
  AuthoringResolver,
  PluginResolver,
  CredentialResolver,
];

/** type-graphql insists on a PubSub when a schema has subscriptions; ours bring their own `subscribe`. */
const noPubSub = {
  publish(): void {
    throw new Error('the GraphQL schema has no topic-based subscriptions; publish through services.events');
  },
  subscribe(): AsyncIterable<unknown> {
    throw new Error('the GraphQL schema has no topic-based subscriptions; subscribe through services.events');
  },
};

/**
 * Builds the executable schema for one app. Resolver instances live in a container owned by this schema and
 * get this app's services through their constructor (type-graphql's own container would be per build too, but
 * could not inject them), so two apps in one process never share state. Subscriptions, whose `subscribe`
 * function has no resolver instance, use the services of the per-request context.
 */
export async function buildGraphqlSchema(services: Services): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>();
  return buildSchema({
    resolvers,
    validate: false,
    emitSchemaFile: false,
    pubSub: noPubSub,
    container: {
      get(cls: new (services: Services) => unknown) {
        let instance = instances.get(cls);
        if (!instance) instances.set(cls, (instance = new cls(services)));
        return instance;
      },
    },
  });
}
