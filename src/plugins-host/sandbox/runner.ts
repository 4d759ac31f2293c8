/**
 * The sandboxed plugin runner: a child process of a worker that runs one installed plugin's actions for one
 * workspace. It starts with an empty environment (no HOOKFLOW_SECRET_KEY, no DATABASE_URL), under Node's
 * permission model (reads only the plugin's own directory and the host's packages; no writes, no child
 * processes, no workers, no native addons), with every socket egress-checked. It receives one step's rendered
 * input and credential at a time and answers with the output.
 *
 *   node --permission --allow-fs-read=… runner.js <package dir> <egress allow list as JSON>
 */
import {
  PermanentError,
  isPermanentError,
  isRateLimitedError,
  loadDefinition,
  manifestOf,
  type PluginDefinition,
} from '@hookflow/sdk';
import { createEgressFetch } from '../egress';
import { runDefinition } from '../execute';
import { guardNetwork } from './network-guard';
import type { FromRunner, RunMessage, RunnerError, ToRunner } from './protocol';

const [packageDir, allowJson] = process.argv.slice(2) as [string, string];
const allow = JSON.parse(allowJson) as string[];
guardNetwork(allow);
const fetch = createEgressFetch({ allow });
const running = new Map<number, AbortController>();

let loaded: { definition?: PluginDefinition; error?: string } | undefined;
function definition(): PluginDefinition {
  if (!loaded) {
    try {
      loaded = { definition: loadDefinition(packageDir) };
    } catch (err) {
      loaded = { error: `the plugin's code cannot be loaded: ${(err as Error).message}` };
    }
  }
  if (!loaded.definition) throw new PermanentError(loaded.error!);
  return loaded.definition;
}

function send(message: FromRunner): void {
  process.send?.(message);
}

function toRunnerError(err: unknown): RunnerError {
  const message = err instanceof Error ? err.message : String(err);
  if (isRateLimitedError(err)) return { message, permanent: false, retryAfterSeconds: err.retryAfterSeconds };
  if (!isPermanentError(err)) return { message, permanent: false };
  return { message, permanent: true, details: plain((err as { details?: unknown }).details) };
}

/** A structured-clone-safe copy (what a plugin hands us may hold functions or class instances). */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

async function run(message: RunMessage): Promise<void> {
  const { id } = message;
  const abort = new AbortController();
  running.set(id, abort);
  const log =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, data?: Record<string, unknown>): void =>
      send({ type: 'log', id, level, msg: String(msg), data: plain(data) });
  try {
    const output = await runDefinition(definition(), message.plugin, {
      action: message.action,
      input: message.input,
      credential: message.credential,
      context: {
        fetch,
        connect: fetch.connect,
        signal: abort.signal,
        heartbeat: (details?: unknown) => send({ type: 'heartbeat', id, details: plain(details) }),
        idempotencyKey: message.idempotencyKey,
        logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
        run: message.run,
      },
    });
    send({ type: 'result', id, output: plain(output) });
  } catch (err) {
    send({ type: 'error', id, error: toRunnerError(err) });
  } finally {
    running.delete(id);
  }
}

process.on('message', (message: ToRunner) => {
  if (message.type === 'run') void run(message);
  else if (message.type === 'abort') running.get(message.id)?.abort(new Error('the step was cancelled'));
  else if (message.type === 'inspect') {
    try {
      send({ type: 'manifest', id: message.id, manifest: manifestOf(definition()) });
    } catch (err) {
      send({ type: 'error', id: message.id, error: toRunnerError(err) });
    }
  }
});
// The worker going away ends the runner.
process.on('disconnect', () => process.exit(0));
