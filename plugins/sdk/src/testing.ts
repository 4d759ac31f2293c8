import net from 'node:net';
import type { z } from 'zod';
import type {
  ActionContext,
  AnyActionDefinition,
  ConnectFunction,
  Logger,
  PluginDefinition,
  RunInfo,
} from './define';
import { PermanentError } from './errors';
import { parseOrThrowPermanent } from './validation';

export type TestActionOptions = {
  /** Raw input, validated with the action's input schema (defaults applied) like the host does. */
  input: unknown;
  /** Credential value; validated with the credential schema when the action declares one. */
  credential?: unknown;
  /** Defaults to the global fetch (no egress checks in the harness). */
  fetch?: typeof fetch;
  /** Defaults to a plain TCP connection (no egress checks in the harness either). */
  connect?: ConnectFunction;
  signal?: AbortSignal;
  logger?: Logger;
  idempotencyKey?: string;
  run?: Partial<RunInfo>;
  heartbeat?: (details?: unknown) => void;
};

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const CONNECT_TIMEOUT_MS = 15_000;

/** The harness's `ctx.connect`: `net.connect`, resolved once connected, with the timeout and signal honoured. */
const plainConnect: ConnectFunction = (host, port, options = {}) => {
  if (options.signal?.aborted) return Promise.reject(options.signal.reason);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, signal: options.signal });
    const timedOut = () => socket.destroy(new Error(`connecting to ${host}:${port} timed out`));
    socket.setTimeout(options.timeoutMs ?? CONNECT_TIMEOUT_MS, timedOut);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('timeout', timedOut);
      socket.off('error', reject);
      resolve(socket);
    });
  });
};

/**
 * Runs one action the way the host would, without Temporal: validates the input (and the
 * credential), calls `run` with a simple context and validates the output. Validation
 * failures throw PermanentError, like in production.
 */
export async function testAction<P extends PluginDefinition<any, any>, K extends keyof P['actions'] & string>(
  plugin: P,
  actionName: K,
  options: TestActionOptions,
): Promise<z.output<P['actions'][K]['output']>> {
  const action = (plugin.actions as Record<string, AnyActionDefinition>)[actionName];
  if (!action || !Object.prototype.hasOwnProperty.call(plugin.actions, actionName)) {
    throw new PermanentError(`plugin "${plugin.name}" has no action "${actionName}"`);
  }
  const label = `${plugin.name}.${actionName}`;
  const input = parseOrThrowPermanent(action.input, options.input, `invalid input for ${label}`);

  let credential: unknown;
  if (action.credential) {
    const def = (plugin.credentials as Record<string, { schema: z.ZodType }>)[action.credential];
    if (!def)
      throw new PermanentError(
        `${label} needs credential "${action.credential}", which the plugin does not define`,
      );
    if (options.credential === undefined || options.credential === null) {
      throw new PermanentError(`${label} needs a "${action.credential}" credential, but none was given`);
    }
    credential = parseOrThrowPermanent(
      def.schema,
      options.credential,
      `invalid "${action.credential}" credential for ${label}`,
    );
  }

  const run: RunInfo = {
    workspaceId: 'test-workspace',
    flowId: 'test-flow',
    flowVersion: 1,
    runId: 'test-run',
    deliveryId: 'test-delivery',
    stepKey: actionName,
    attempt: 1,
    ...options.run,
  };
  const ctx: ActionContext<unknown> = {
    credential,
    fetch: options.fetch ?? globalThis.fetch,
    connect: options.connect ?? plainConnect,
    logger: options.logger ?? silentLogger,
    signal: options.signal ?? new AbortController().signal,
    heartbeat: options.heartbeat ?? (() => {}),
    idempotencyKey: options.idempotencyKey ?? `${run.runId}:${run.stepKey}`,
    run,
  };
  const output = await action.run(ctx, input);
  return parseOrThrowPermanent(action.output, output, `${label} returned an invalid output`);
}
