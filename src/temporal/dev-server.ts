/**
 * Runs and supervises `temporal server start-dev` as a child process: picks a free port, waits until the
 * frontend answers, restarts the child (same port, same db file) with backoff if it dies, and kills it when
 * stopped or when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';

export type DevServerLogLevel = 'info' | 'warn' | 'error';

export interface TemporalDevServerOptions {
  cliPath: string;
  /** SQLite file for persistence; without it everything is lost when the child exits. */
  dbFile?: string;
  /** `--sqlite-pragma name=value` for each entry (journal mode, synchronous, …). */
  sqlitePragmas?: Record<string, string>;
  /** Frontend gRPC port; a free one is picked when omitted. */
  port?: number;
  namespace: string;
  /** Serve the Web UI (default false); on `uiPort` or a free port. */
  ui?: boolean;
  uiPort?: number;
  /** How long start() waits for the frontend (default 60 s; the first start of a new db file is the slowest). */
  readyTimeoutMs?: number;
  log: (level: DevServerLogLevel, msg: string) => void;
}

const HOST = '127.0.0.1';

/**
 * SQLite settings of the embedded dev server. WAL with synchronous=normal roughly doubles the engine's
 * throughput here; its risk is losing the last transactions on a power loss (not on a process crash), which
 * the reconciler covers: a delivery whose workflow the engine lost is started again.
 */
export const EMBEDDED_SQLITE_PRAGMAS: Record<string, string> = { journal_mode: 'wal', synchronous: 'normal' };
const RESTART_BACKOFF_MS = { initial: 1_000, max: 30_000 };
/** A child that ran this long before dying is considered healthy again: backoff starts over. */
const STABLE_AFTER_MS = 60_000;

export class TemporalDevServer {
  private child?: ChildProcess;
  private childStartedAt = 0;
  private port?: number;
  private uiPort?: number;
  private stopping = false;
  private supervising = false;
  private consecutiveCrashes = 0;
  private restartTimer?: NodeJS.Timeout;
  private output: string[] = [];
  private restartCount = 0;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  constructor(private readonly opts: TemporalDevServerOptions) {
    this.port = opts.port;
    this.uiPort = opts.uiPort;
  }

  /** `host:port` of the frontend; available once start() has resolved. */
  get address(): string {
    if (this.port === undefined) throw new Error('TemporalDevServer has not been started');
    return `${HOST}:${this.port}`;
  }

  get uiUrl(): string | undefined {
    return this.opts.ui && this.uiPort !== undefined ? `http://${HOST}:${this.uiPort}` : undefined;
  }

  /** PID of the current child, if one is running. */
  get pid(): number | undefined {
    return this.child && isRunning(this.child) ? this.child.pid : undefined;
  }

  /** How many times the supervisor has restarted the child. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Starts the child and resolves when the namespace is reachable; rejects (and cleans up) if it is not. */
  async start(): Promise<void> {
    if (this.child) throw new Error('TemporalDevServer already started');
    this.stopping = false;
    this.port ??= await freePort();
    if (this.opts.ui) this.uiPort ??= await freePort();
    if (this.opts.dbFile) await fs.mkdir(path.dirname(path.resolve(this.opts.dbFile)), { recursive: true });
    process.on('exit', this.killOnExit);
    const started = Date.now();
    try {
      await this.waitReady(this.spawnChild(), this.opts.readyTimeoutMs ?? 60_000);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.supervising = true;
    this.opts.log(
      'info',
      `Temporal dev server ready at ${this.address} (namespace ${this.opts.namespace}, ` +
        `${this.opts.dbFile ? `db file ${this.opts.dbFile}` : 'in memory'}${this.uiUrl ? `, UI ${this.uiUrl}` : ''}) ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  /** Stops supervising and terminates the child: SIGTERM, then SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    this.supervising = false;
    clearTimeout(this.restartTimer);
    process.removeListener('exit', this.killOnExit);
    const child = this.child;
    this.child = undefined;
    if (!child || !isRunning(child)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  private args(): string[] {
    const { namespace, dbFile, ui } = this.opts;
    const args = ['server', 'start-dev', '--ip', HOST, '--port', String(this.port), '--log-level', 'warn'];
    if (namespace !== 'default') args.push('--namespace', namespace); // "default" always exists
    if (dbFile) args.push('--db-filename', path.resolve(dbFile));
    for (const [name, value] of Object.entries(this.opts.sqlitePragmas ?? {})) {
      args.push('--sqlite-pragma', `${name}=${value}`);
    }
    args.push(...(ui ? ['--ui-port', String(this.uiPort)] : ['--headless']));
    return args;
  }

  private spawnChild(): ChildProcess {
    const child = spawn(this.opts.cliPath, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.childStartedAt = Date.now();
    this.output = [];
    const onLine = (line: string, fromStderr: boolean) => {
      if (!line.trim()) return;
      this.output.push(line);
      if (this.output.length > 30) this.output.shift();
      // stdout is only the start banner; stderr carries the server's warn/error log lines.
      if (fromStderr && !this.stopping && this.child === child) {
        this.opts.log(/level=(ERROR|FATAL)/.test(line) ? 'error' : 'warn', `temporal: ${line}`);
      }
    };
    readline.createInterface({ input: child.stdout! }).on('line', (l) => onLine(l, false));
    readline.createInterface({ input: child.stderr! }).on('line', (l) => onLine(l, true));
    let ended = false;
    const onEnd = (reason: string) => {
      if (ended) return;
      ended = true;
      this.onChildEnd(child, reason);
    };
    child.on('error', (err) => onEnd(err.message));
    child.on('exit', (code, signal) => onEnd(signal ? `killed by ${signal}` : `exit code ${code}`));
    return child;
  }

  /** Polls until the frontend answers for our namespace; fails fast if the child dies first. */
  private async waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!isRunning(child)) {
        throw new Error(
          `Temporal dev server exited during startup (${describeExit(child)}):\n${this.output.join('\n')}`,
        );
      }
      if (this.stopping || this.child !== child)
        throw new Error('Temporal dev server was stopped during startup');
      if ((await tcpOpen(this.port!)) && (await this.namespaceReachable())) return;
      await sleep(200);
    }
    throw new Error(
      `Temporal dev server did not become ready at ${this.address} within ${timeoutMs} ms:\n${this.output.join('\n')}`,
    );
  }

  private async namespaceReachable(): Promise<boolean> {
    const connection = Connection.lazy({ address: this.address, connectTimeout: 2_000 });
    try {
      await connection.ensureConnected();
      await connection.withDeadline(Date.now() + 2_000, () =>
        connection.workflowService.describeNamespace({ namespace: this.opts.namespace }),
      );
      return true;
    } catch {
      return false;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  private onChildEnd(child: ChildProcess, reason: string): void {
    if (!this.supervising || this.child !== child) return; // stop() or start() handles it
    if (Date.now() - this.childStartedAt >= STABLE_AFTER_MS) this.consecutiveCrashes = 0;
    const delay = Math.min(RESTART_BACKOFF_MS.max, RESTART_BACKOFF_MS.initial * 2 ** this.consecutiveCrashes);
    this.consecutiveCrashes++;
    this.opts.log(
      'warn',
      `Temporal dev server at ${this.address} exited unexpectedly (${reason}); restarting in ${delay / 1000} s`,
    );
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    this.restartCount++;
    const child = this.spawnChild();
    try {
      await this.waitReady(child, this.opts.readyTimeoutMs ?? 60_000);
      this.opts.log('info', `Temporal dev server restarted at ${this.address}`);
    } catch (err) {
      if (this.stopping || this.child !== child) return;
      // If it exited, onChildEnd already scheduled the next attempt; if it hangs, kill it so that happens.
      if (isRunning(child)) {
        this.opts.log('error', (err as Error).message);
        child.kill('SIGKILL');
      }
    }
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function describeExit(child: ChildProcess): string {
  if (child.pid === undefined) return 'could not spawn';
  return child.signalCode ? `killed by ${child.signalCode}` : `exit code ${child.exitCode}`;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Asks the OS for a free port on HOST (released before the child binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
