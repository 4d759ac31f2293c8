import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, Field, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { PluginSource } from '../schema/enums';
import type { Services } from '../services';
import { UnavailableError } from '../services/errors';
import type { PluginService, PluginView } from '../services/plugins';
import type { GraphqlContext } from './context';

@ObjectType('PluginAction')
export class PluginActionView {
  @Field({ description: 'Used as the step action, e.g. "request"' })
  name!: string;

  @Field()
  displayName!: string;

  @Field()
  description!: string;

  @Field(() => GraphQLJSONObject, { description: 'JSON Schema of the step input' })
  inputSchema!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'JSON Schema of the output ({{steps.<key>.output…}})' })
  outputSchema!: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: 'The credential type a step must provide' })
  credential!: string | null;

  @Field(() => Int, { nullable: true })
  timeoutMs!: number | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Retry hints of the action' })
  retry!: unknown;
}

@ObjectType('PluginCredentialType')
export class PluginCredentialTypeView {
  @Field({ description: 'Used as createCredential(type)' })
  name!: string;

  @Field()
  displayName!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => GraphQLJSONObject, { description: 'JSON Schema of the credential data' })
  schema!: Record<string, unknown>;
}

@ObjectType('Plugin', { description: 'One loaded version of a connector plugin' })
export class PluginObject {
  @Field({ description: 'Used as the step plugin, e.g. "http"' })
  name!: string;

  @Field()
  version!: string;

  @Field()
  packageName!: string;

  @Field(() => Int)
  apiVersion!: number;

  @Field()
  displayName!: string;

  @Field()
  description!: string;

  @Field(() => String, { nullable: true })
  icon!: string | null;

  @Field(() => PluginSource)
  source!: PluginSource;

  @Field({ description: 'Disabled plugins cannot be saved in steps, and their steps fail at run time' })
  enabled!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'Installed plugins only: the task queue their steps run on (null: the main queue)',
  })
  taskQueue!: string | null;

  @Field(() => Date, { nullable: true })
  installedAt!: Date | null;

  @Field(() => [PluginActionView])
  actions!: PluginActionView[];

  @Field(() => [PluginCredentialTypeView])
  credentialTypes!: PluginCredentialTypeView[];
}

function toObject(view: PluginView): PluginObject {
  const { credentials, source, ...rest } = view;
  return { ...rest, source: source as PluginSource, credentialTypes: credentials };
}

@Resolver(() => PluginObject)
export class PluginResolver {
  constructor(private readonly services: Services) {}

  private get service(): PluginService {
    if (!this.services.plugins) throw new UnavailableError('plugins are not managed by this process');
    return this.services.plugins;
  }

  @Query(() => [PluginObject], { description: 'Every loaded plugin version, by name, newest version first' })
  async plugins(@Ctx() ctx: GraphqlContext): Promise<PluginObject[]> {
    if (!this.services.plugins) {
      // A process without the marketplace (tests of the API alone): the registry as loaded.
      const { registry } = this.services;
      return registry
        .list()
        .map((m) =>
          toObject({ ...m, enabled: registry.isEnabled(m.name), taskQueue: null, installedAt: null }),
        );
    }
    return (await this.service.list(ctx.em)).map(toObject);
  }

  @Mutation(() => PluginObject, {
    description:
      'Installation admin: installs "name@version" from the npm registry or the absolute path of a .tgz on the server (npm install --ignore-scripts)',
  })
  async installPlugin(
    @Arg('spec', () => String) spec: string,
    @Arg('taskQueue', () => String, {
      nullable: true,
      description: 'Run its steps on this task queue (served by workers started with HOOKFLOW_WORKER_QUEUES)',
    })
    taskQueue: string | null,
    @Ctx() ctx: GraphqlContext,
  ): Promise<PluginObject> {
    return toObject(await this.service.install(ctx.em, ctx.scope, spec, { taskQueue }));
  }

  @Mutation(() => PluginObject, {
    description: 'Installation admin: enables or disables every version of a plugin',
  })
  async setPluginEnabled(
    @Arg('name', () => String) name: string,
    @Arg('enabled', () => Boolean) enabled: boolean,
    @Ctx() ctx: GraphqlContext,
  ): Promise<PluginObject> {
    return toObject(await this.service.setEnabled(ctx.em, ctx.scope, name, enabled));
  }

  @Mutation(() => PluginObject, {
    description:
      'Installation admin: routes an installed plugin to its own task queue (null: back to the main queue)',
  })
  async setPluginTaskQueue(
    @Arg('name', () => String) name: string,
    @Arg('taskQueue', () => String, { nullable: true }) taskQueue: string | null,
    @Ctx() ctx: GraphqlContext,
  ): Promise<PluginObject> {
    return toObject(await this.service.setTaskQueue(ctx.em, ctx.scope, name, taskQueue));
  }

  @Mutation(() => Boolean, {
    description: 'Installation admin: removes an installed version; refused while an active flow uses it',
  })
  uninstallPlugin(
    @Arg('name', () => String) name: string,
    @Arg('version', () => String) version: string,
    @Ctx() ctx: GraphqlContext,
  ): Promise<boolean> {
    return this.service.uninstall(ctx.em, ctx.scope, name, version);
  }
}
