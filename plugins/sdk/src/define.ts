import type { Socket } from 'node:net';
import type { z } from 'zod';

/** The plugin API this SDK implements; a plugin's package.json declares it as `"hookflow": { "apiVersion": 1 }`. */
export const HOOKFLOW_API_VERSION = 1;

/** Marks objects built by `definePlugin` (checked by the host together with the shape). */
export const PLUGIN_KIND = 'hookflow.plugin';

export interface Logger {
  debug(msg: string, data?: Record<string, unknown>): void;
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

/** Where this action runs: stable across retries except `attempt` (1-based). */
export interface RunInfo {
  workspaceId: string;
  flowId: string;
  flowVersion: number;
  runId: string;
  deliveryId: string;
  stepKey: string;
  attempt: number;
}

export interface ConnectOptions {
  /** Aborts connecting; once connected, aborting destroys the socket. Pass `ctx.signal`. */
  signal?: AbortSignal;
  /** Gives up connecting after this long (default 15 000 ms). */
  timeoutMs?: number;
}

/** Opens a TCP connection to `host:port` (a host name or an IP address) and resolves once it is connected. */
export type ConnectFunction = (host: string, port: number, options?: ConnectOptions) => Promise<Socket>;

export interface ActionContext<Cred = unknown> {
  /** The decrypted credential (validated against its schema), or undefined when the action needs none. */
  credential: Cred | undefined;
  /** Egress-checked fetch: private/loopback/metadata destinations are refused. Use it instead of the global fetch. */
  fetch: typeof fetch;
  /**
   * Egress-checked TCP connection for every protocol that is not HTTP (SMTP, databases, raw sockets): the
   * same policy as `fetch`, applied to IP addresses and to every address a name resolves to, before any
   * byte is sent. For TLS, wrap the socket: `tls.connect({ socket, servername })`. Use it instead of `net.connect`.
   */
  connect: ConnectFunction;
  logger: Logger;
  /** Aborted when the step is cancelled or times out; pass it on to every I/O call. */
  signal: AbortSignal;
  /** Tells the host the action is still alive (long-running actions). */
  heartbeat(details?: unknown): void;
  /** Stable across retries of the same step in the same run: send it as the remote API's idempotency key. */
  idempotencyKey: string;
  run: RunInfo;
}

export interface RetryPolicy {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
}

export interface ActionDefinition<
  I extends z.ZodType = z.ZodType,
  O extends z.ZodType = z.ZodType,
  Cred = any,
> {
  displayName: string;
  description: string;
  /** Validated (and defaults applied) before `run` is called. */
  input: I;
  /** What `run` returns is validated with this schema (unknown keys of objects are stripped). */
  output: O;
  /** Key in the plugin's `credentials` that this action needs. */
  credential?: string;
  retry?: RetryPolicy;
  timeoutMs?: number;
  run(ctx: ActionContext<Cred>, input: z.output<I>): Promise<z.input<O>> | z.input<O>;
}

export type AnyActionDefinition = ActionDefinition<any, any, any>;

export interface CredentialDefinition<S extends z.ZodObject = z.ZodObject> {
  displayName: string;
  description?: string;
  schema: S;
}

/** The decrypted value of a credential definition: `ActionContext<CredentialValue<typeof myCred>>`. */
export type CredentialValue<D extends CredentialDefinition<any>> = z.output<D['schema']>;

export type ActionInput<A extends AnyActionDefinition> = z.input<A['input']>;
export type ActionOutput<A extends AnyActionDefinition> = z.output<A['output']>;

export interface PluginDefinition<
  C extends Record<string, CredentialDefinition<any>> = Record<string, CredentialDefinition<any>>,
  A extends Record<string, AnyActionDefinition> = Record<string, AnyActionDefinition>,
> {
  readonly kind: typeof PLUGIN_KIND;
  /** The SDK API version the plugin was built with. */
  readonly apiVersion: number;
  /** Short name used by flow steps (`http`, `email`…): lowercase letters, digits and dashes. */
  name: string;
  displayName: string;
  description: string;
  /** A URL, data URI or icon name shown by frontends. */
  icon?: string;
  credentials: C;
  actions: A;
}

export type PluginInput<
  C extends Record<string, CredentialDefinition<any>>,
  A extends Record<string, AnyActionDefinition>,
> = {
  name: string;
  displayName: string;
  description: string;
  icon?: string;
  credentials?: C;
  actions: A;
};

export const PLUGIN_NAME_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
export const ACTION_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Thrown by definePlugin/defineAction when a definition is malformed (a bug in the plugin). */
export class PluginDefinitionError extends Error {
  readonly code = 'INVALID_PLUGIN_DEFINITION';
  constructor(message: string) {
    super(message);
    this.name = 'PluginDefinitionError';
  }
}

function isSchema(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === 'function'
  );
}

/** Problems with an action definition, as human-readable strings (empty when it is fine). */
export function actionDefinitionProblems(name: string, action: unknown): string[] {
  const problems: string[] = [];
  if (typeof action !== 'object' || action === null) return [`action "${name}" is not an object`];
  const a = action as Record<string, unknown>;
  if (!ACTION_NAME_PATTERN.test(name))
    problems.push(`action name "${name}" must match ${ACTION_NAME_PATTERN}`);
  if (typeof a.displayName !== 'string' || a.displayName === '')
    problems.push(`action "${name}" needs a displayName`);
  if (typeof a.description !== 'string') problems.push(`action "${name}" needs a description`);
  if (!isSchema(a.input)) problems.push(`action "${name}" needs a zod "input" schema`);
  if (!isSchema(a.output)) problems.push(`action "${name}" needs a zod "output" schema`);
  if (typeof a.run !== 'function') problems.push(`action "${name}" needs a run(ctx, input) function`);
  if (a.credential !== undefined && typeof a.credential !== 'string')
    problems.push(`action "${name}": credential must be a string`);
  if (a.timeoutMs !== undefined && !(typeof a.timeoutMs === 'number' && a.timeoutMs > 0)) {
    problems.push(`action "${name}": timeoutMs must be a positive number`);
  }
  if (a.retry !== undefined) {
    if (typeof a.retry !== 'object' || a.retry === null)
      problems.push(`action "${name}": retry must be an object`);
    else {
      const r = a.retry as Record<string, unknown>;
      for (const key of ['maximumAttempts', 'initialIntervalMs', 'backoffCoefficient', 'maximumIntervalMs']) {
        if (r[key] !== undefined && !(typeof r[key] === 'number' && (r[key] as number) > 0)) {
          problems.push(`action "${name}": retry.${key} must be a positive number`);
        }
      }
      if (typeof r.backoffCoefficient === 'number' && r.backoffCoefficient < 1) {
        problems.push(`action "${name}": retry.backoffCoefficient must be ≥ 1`);
      }
    }
  }
  return problems;
}

/**
 * Problems with a whole plugin definition (empty when it is fine). The host runs this on
 * whatever a package exports, so it only relies on the shape, not on `instanceof`.
 */
export function pluginDefinitionProblems(plugin: unknown): string[] {
  if (typeof plugin !== 'object' || plugin === null) return ['the export is not an object'];
  const p = plugin as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof p.name !== 'string' || !PLUGIN_NAME_PATTERN.test(p.name)) {
    problems.push(`name must match ${PLUGIN_NAME_PATTERN} (got ${JSON.stringify(p.name)})`);
  }
  if (typeof p.displayName !== 'string' || p.displayName === '') problems.push('displayName is required');
  if (typeof p.description !== 'string') problems.push('description is required');
  if (p.icon !== undefined && typeof p.icon !== 'string') problems.push('icon must be a string');
  const credentials = p.credentials ?? {};
  if (typeof credentials !== 'object' || credentials === null) problems.push('credentials must be an object');
  else {
    for (const [key, cred] of Object.entries(credentials)) {
      const c = cred as Record<string, unknown> | null;
      if (!ACTION_NAME_PATTERN.test(key))
        problems.push(`credential name "${key}" must match ${ACTION_NAME_PATTERN}`);
      if (typeof c !== 'object' || c === null) problems.push(`credential "${key}" is not an object`);
      else {
        if (typeof c.displayName !== 'string' || c.displayName === '')
          problems.push(`credential "${key}" needs a displayName`);
        if (!isSchema(c.schema)) problems.push(`credential "${key}" needs a zod object "schema"`);
      }
    }
  }
  if (typeof p.actions !== 'object' || p.actions === null || Object.keys(p.actions).length === 0) {
    problems.push('actions must be an object with at least one action');
  } else {
    for (const [name, action] of Object.entries(p.actions)) {
      problems.push(...actionDefinitionProblems(name, action));
      const credential = (action as { credential?: unknown } | null)?.credential;
      if (
        typeof credential === 'string' &&
        !(typeof credentials === 'object' && credentials !== null && credential in credentials)
      ) {
        problems.push(`action "${name}" needs credential "${credential}", which the plugin does not define`);
      }
    }
  }
  return problems;
}

/**
 * Defines one action. `input` and `output` are zod schemas; `run` receives the parsed input
 * and must return something the output schema accepts. Annotate `ctx` as
 * `ActionContext<CredentialValue<typeof myCredential>>` to type the credential.
 */
export function defineAction<I extends z.ZodType, O extends z.ZodType, Cred = unknown>(
  definition: ActionDefinition<I, O, Cred>,
): ActionDefinition<I, O, Cred> {
  const problems = actionDefinitionProblems('(action)', definition).filter(
    (p) => !p.startsWith('action name'),
  );
  if (problems.length) throw new PluginDefinitionError(`invalid action definition: ${problems.join('; ')}`);
  return definition;
}

/** Identity helper that keeps the literal schema type of a credential definition. */
export function defineCredential<S extends z.ZodObject>(
  definition: CredentialDefinition<S>,
): CredentialDefinition<S> {
  return definition;
}

/** Defines a plugin. Throws PluginDefinitionError naming every problem when the definition is malformed. */
export function definePlugin<
  const C extends Record<string, CredentialDefinition<any>> = Record<never, never>,
  const A extends Record<string, AnyActionDefinition> = Record<string, AnyActionDefinition>,
>(definition: PluginInput<C, A>): PluginDefinition<C, A> {
  const problems = pluginDefinitionProblems(definition);
  if (problems.length) {
    const name = typeof definition?.name === 'string' ? ` "${definition.name}"` : '';
    throw new PluginDefinitionError(`invalid plugin${name}: ${problems.join('; ')}`);
  }
  return Object.freeze({
    kind: PLUGIN_KIND,
    apiVersion: HOOKFLOW_API_VERSION,
    name: definition.name,
    displayName: definition.displayName,
    description: definition.description,
    ...(definition.icon !== undefined ? { icon: definition.icon } : {}),
    credentials: (definition.credentials ?? {}) as C,
    actions: definition.actions,
  });
}

/** True when `value` has the shape of a plugin definition (from any copy of the SDK). */
export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return pluginDefinitionProblems(value).length === 0;
}
