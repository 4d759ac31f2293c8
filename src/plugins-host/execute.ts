/**
 * Runs one plugin action with the host's checks around it: input, credential and output are
 * validated with the plugin's zod schemas; anything that cannot succeed on retry becomes a
 * PermanentError (mapped to a non-retryable Temporal failure by the activity).
 *
 * First-party plugins run here, in the trusted worker; installed plugins run the same checks inside the
 * sandbox (./sandbox), which holds no secret but the step's own credential.
 */
import {
  PermanentError,
  parseOrThrowPermanent,
  type ActionContext,
  type AnyActionDefinition,
  type PluginDefinition,
} from '@hookflow/sdk';
import type { PluginRegistry } from './registry';
import type { PluginSandbox } from './sandbox';

export type ActionCall = {
  action: string;
  input: unknown;
  /** The decrypted credential value (validated against the plugin's credential schema). */
  credential?: unknown;
  context: Omit<ActionContext, 'credential'>;
};

export type ExecuteActionArgs = ActionCall & {
  registry: PluginRegistry;
  /** Where installed plugins run. */
  sandbox: PluginSandbox;
  plugin: string;
  version?: string;
};

function notInstalled(registry: PluginRegistry, plugin: string, version: string | undefined): PermanentError {
  const id = version ? `${plugin}@${version}` : plugin;
  const installed = registry.versions(plugin);
  const hint = installed.length ? ` (installed versions: ${installed.join(', ')})` : '';
  return new PermanentError(`plugin "${id}" is not installed${hint}`);
}

/** Runs the action where its plugin belongs; returns the parsed output. */
export async function executeAction(args: ExecuteActionArgs): Promise<unknown> {
  const { registry, plugin, version } = args;
  const loaded = registry.get(plugin, version);
  if (!loaded) throw notInstalled(registry, plugin, version);
  if (!registry.resolve(plugin, args.action, loaded.version)) {
    throw new PermanentError(`plugin "${plugin}@${loaded.version}" has no action "${args.action}"`);
  }
  if (loaded.definition) return runDefinition(loaded.definition, `${plugin}@${loaded.version}`, args);
  if (loaded.source === 'BUILTIN') {
    throw new PermanentError(`plugin "${plugin}@${loaded.version}" is not loaded in this process`);
  }
  return args.sandbox.run(loaded, args);
}

/** Validates, runs and validates again (in the trusted worker or in the sandbox). */
export async function runDefinition(
  definition: PluginDefinition,
  id: string,
  call: ActionCall,
): Promise<unknown> {
  const actions = definition.actions as Record<string, AnyActionDefinition>;
  const action = Object.prototype.hasOwnProperty.call(actions, call.action)
    ? actions[call.action]
    : undefined;
  if (!action) throw new PermanentError(`plugin "${id}" has no action "${call.action}"`);
  const label = `${id} ${call.action}`;

  const input = parseOrThrowPermanent(action.input, call.input, `invalid input for ${label}`);

  let credential: unknown = undefined;
  if (action.credential) {
    const credentialDefinition = (definition.credentials as Record<string, { schema: unknown }>)[
      action.credential
    ];
    if (!credentialDefinition) {
      throw new PermanentError(
        `${label} needs credential type "${action.credential}", which the plugin does not define`,
      );
    }
    if (call.credential === undefined || call.credential === null) {
      throw new PermanentError(`${label} needs a "${action.credential}" credential, but the step has none`);
    }
    credential = parseOrThrowPermanent(
      credentialDefinition.schema as Parameters<typeof parseOrThrowPermanent>[0],
      call.credential,
      `the "${action.credential}" credential for ${label} is invalid`,
    );
  }

  const ctx: ActionContext<unknown> = { ...call.context, credential };
  let output: unknown;
  try {
    output = await action.run(ctx, input);
  } catch (err) {
    if (err instanceof Error) throw err;
    throw new Error(`${label} failed: ${typeof err === 'string' ? err : JSON.stringify(err)}`, {
      cause: err,
    });
  }
  return parseOrThrowPermanent(action.output, output, `${label} returned an invalid output`);
}
