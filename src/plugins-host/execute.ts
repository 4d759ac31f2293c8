/**
 * Runs one plugin action with the host's checks around it: input, credential and output are
 * validated with the plugin's zod schemas; anything that cannot succeed on retry becomes a
 * PermanentError (mapped to a non-retryable Temporal failure by the activity).
 */
import { PermanentError, parseOrThrowPermanent, type ActionContext } from '@hookflow/sdk';
import type { PluginRegistry } from './registry';

export type ExecuteActionArgs = {
  registry: PluginRegistry;
  plugin: string;
  version?: string;
  action: string;
  input: unknown;
  /** The decrypted credential value (validated here against the plugin's credential schema). */
  credential?: unknown;
  context: Omit<ActionContext, 'credential' | 'fetch'> & { fetch: typeof fetch };
};

function notInstalled(registry: PluginRegistry, plugin: string, version: string | undefined): PermanentError {
  const id = version ? `${plugin}@${version}` : plugin;
  const installed = registry.versions(plugin);
  const hint = installed.length ? ` (installed versions: ${installed.join(', ')})` : '';
  return new PermanentError(`plugin "${id}" is not installed${hint}`);
}

/** Validates, runs and validates again; returns the parsed output. */
export async function executeAction(args: ExecuteActionArgs): Promise<unknown> {
  const { registry, plugin, version, action: actionName } = args;
  const loaded = registry.get(plugin, version);
  if (!loaded) throw notInstalled(registry, plugin, version);
  const resolved = registry.resolve(plugin, actionName, loaded.version);
  if (!resolved) {
    throw new PermanentError(`plugin "${plugin}@${loaded.version}" has no action "${actionName}"`);
  }
  const { action } = resolved;
  const label = `${plugin}@${loaded.version} ${actionName}`;

  const input = parseOrThrowPermanent(action.input, args.input, `invalid input for ${label}`);

  let credential: unknown = undefined;
  if (action.credential) {
    const definition = (loaded.definition.credentials as Record<string, { schema: unknown }>)[
      action.credential
    ];
    if (!definition) {
      throw new PermanentError(
        `${label} needs credential type "${action.credential}", which the plugin does not define`,
      );
    }
    if (args.credential === undefined || args.credential === null) {
      throw new PermanentError(`${label} needs a "${action.credential}" credential, but the step has none`);
    }
    credential = parseOrThrowPermanent(
      definition.schema as Parameters<typeof parseOrThrowPermanent>[0],
      args.credential,
      `the "${action.credential}" credential for ${label} is invalid`,
    );
  }

  const ctx: ActionContext<unknown> = { ...args.context, credential };
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
