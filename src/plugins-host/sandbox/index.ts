/**
 * Where installed (third-party) plugins run: a sandboxed runner process per workspace and plugin version,
 * started on first use and stopped when idle. Workers hand it one step at a time; the runner never sees
 * the master key, the database or another workspace's data (see ./runner.ts for what it may do).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PermanentError, RateLimitedError, type StaticManifest } from '@hookflow/sdk';
import { packageDirByName, type LoadedPlugin } from '../registry';
import type { ActionCall } from '../execute';
import type { FromRunner, RunMessage, RunnerError, ToRunner } from './protocol';

export type SandboxOptions = {
  /** HOOKFLOW_EGRESS_ALLOW: the runner applies the same egress policy as the worker. */
  egressAllow: readonly string[];
  /** A runner with nothing to do for this long exits (default 60 s). */
  idleMs?: number;
  log: { warn(obj: object, msg?: string): void };
};

/** A plugin that ignores its abort signal this long after a cancellation or timeout is stopped with its runner. */
const ABORT_GRACE_MS = 2_000;
const RUNNER_HEAP_MB = 256;

type Pending = {
  resolve(value: unknown): void;
  reject(err: Error): void;
  call?: ActionCall;
};

/** The compiled runner script (tests load this module from TypeScript sources; the runner is always built). */
function runnerScript(): string {
  const compiled = path.join(__dirname, 'runner.js');
  if (fs.existsSync(compiled)) return compiled;
  const root = path.resolve(__dirname, '../../..');
  return path.join(root, 'dist', path.relative(root, __dirname), 'runner.js');
}

/** What a runner may read: its own code, the host packages it imports, and the plugin's npm prefix. */
function readablePaths(pluginDir: string): string[] {
  const script = runnerScript();
  // The host's node_modules (packages only, no secrets) and where its links point (the SDK's workspace).
  const hostModules = path.dirname(packageDirByName('zod', [__dirname]));
  const sdk = fs.realpathSync(packageDirByName('@hookflow/sdk', [__dirname]));
  // The plugin's prefix (DATA_DIR/plugins/<name>@<version>), which holds its dependencies.
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = pluginDir.lastIndexOf(marker);
  const prefix = at === -1 ? pluginDir : pluginDir.slice(0, at);
  return [
    ...new Set([path.dirname(path.dirname(script)), hostModules, sdk, prefix, fs.realpathSync(pluginDir)]),
  ];
}

class Runner {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer?: NodeJS.Timeout;
  exited = false;

  constructor(
    readonly pluginDir: string,
    private readonly opts: SandboxOptions,
    private readonly onExit: () => void,
  ) {
    this.child = fork(runnerScript(), [pluginDir, JSON.stringify(opts.egressAllow)], {
      execArgv: [
        '--permission',
        ...readablePaths(pluginDir).map((p) => `--allow-fs-read=${p}`),
        `--max-old-space-size=${RUNNER_HEAP_MB}`,
      ],
      env: {},
      cwd: pluginDir,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const tail: string[] = [];
    const keep = (chunk: Buffer) => {
      tail.push(chunk.toString('utf8'));
      if (tail.length > 20) tail.shift();
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('message', (m: FromRunner) => this.receive(m));
    this.child.on('error', (err) => this.opts.log.warn({ err, plugin: pluginDir }, 'plugin runner error'));
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      clearTimeout(this.idleTimer);
      const why = `the plugin runner exited (${signal ?? `code ${code}`})${tail.length ? `: ${tail.join('').trim().slice(-500)}` : ''}`;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
      this.onExit();
    });
    this.idle();
  }

  request(message: Omit<RunMessage, 'id'> | { type: 'inspect' }, call?: ActionCall): Promise<unknown> {
    const id = this.nextId++;
    clearTimeout(this.idleTimer);
    const result = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, call });
    }).finally(() => {
      this.pending.delete(id);
      if (this.pending.size === 0) this.idle();
    });
    const signal = call?.context.signal;
    if (signal) {
      const onAbort = () => {
        this.send({ type: 'abort', id });
        setTimeout(() => {
          if (this.pending.has(id)) this.stop();
        }, ABORT_GRACE_MS).unref();
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      void result.catch(() => {}).finally(() => signal.removeEventListener('abort', onAbort));
    }
    this.send({ ...message, id } as ToRunner);
    return result;
  }

  stop(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private send(message: ToRunner): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  private idle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.opts.idleMs ?? 60_000);
    this.idleTimer.unref();
  }

  private receive(message: FromRunner): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case 'result':
        return pending.resolve(message.output);
      case 'manifest':
        return pending.resolve(message.manifest);
      case 'error':
        return pending.reject(toError(message.error));
      case 'log':
        return pending.call?.context.logger[message.level](
          message.msg,
          message.data as Record<string, unknown> | undefined,
        );
      case 'heartbeat':
        return pending.call?.context.heartbeat(message.details);
    }
  }
}

function toError(error: RunnerError): Error {
  if (error.retryAfterSeconds !== undefined)
    return new RateLimitedError(error.message, error.retryAfterSeconds);
  return error.permanent
    ? new PermanentError(error.message, { details: error.details })
    : new Error(error.message);
}

export class PluginSandbox {
  private readonly runners = new Map<string, Runner>();

  constructor(private readonly opts: SandboxOptions) {}

  /** Runs one action of an installed plugin for one workspace's step; resolves with the validated output. */
  run(plugin: LoadedPlugin, call: ActionCall): Promise<unknown> {
    const { context } = call;
    return this.runner(`${context.run.workspaceId}\n${plugin.dir}`, plugin.dir).request(
      {
        type: 'run',
        plugin: `${plugin.name}@${plugin.version}`,
        action: call.action,
        input: call.input,
        credential: call.credential,
        idempotencyKey: context.idempotencyKey,
        run: context.run,
      },
      call,
    );
  }

  /** Loads a package's code in a runner of its own and returns the manifest built from it. */
  async inspect(pluginDir: string): Promise<StaticManifest> {
    const runner = new Runner(pluginDir, this.opts, () => {});
    try {
      return (await runner.request({ type: 'inspect' })) as StaticManifest;
    } finally {
      runner.stop();
    }
  }

  async close(): Promise<void> {
    for (const runner of this.runners.values()) runner.stop();
    this.runners.clear();
  }

  private runner(key: string, pluginDir: string): Runner {
    let runner = this.runners.get(key);
    if (!runner || runner.exited) {
      runner = new Runner(pluginDir, this.opts, () => {
        if (this.runners.get(key) === runner) this.runners.delete(key);
      });
      this.runners.set(key, runner);
    }
    return runner;
  }
}
