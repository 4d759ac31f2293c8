/**
 * Child processes of the benchmark: spawned in their own process group (optionally pinned to one core with
 * taskset), stopped with SIGTERM then SIGKILL of the whole group, and killed when the benchmark exits however it
 * exits. Also reads a process's CPU time and peak RSS from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function commandWorks(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether server and load generator can be pinned to separate cores. */
export const TASKSET = commandWorks('taskset', ['-c', '0', 'true']);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** The compiled benchmark scripts sit next to this file; the app's entry point is two levels up. */
export const benchScript = (name: string) => path.join(__dirname, `${name}.js`);
export const MAIN_SCRIPT = path.resolve(__dirname, '../../src/main.js');

export type Child = {
  name: string;
  pid: number;
  /** Resolves with a description of how the process ended. */
  exited: Promise<string>;
  running(): boolean;
  /** stdout so far (kept whole: scripts report their result there). */
  stdout(): string;
  /** The last lines of stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL to the whole process group after graceMs. */
  stop(graceMs?: number): Promise<void>;
};

export type SpawnOptions = { env?: NodeJS.ProcessEnv; core?: number };

export function spawnNode(name: string, script: string, args: string[], opts: SpawnOptions = {}): Child {
  let command = process.execPath;
  let argv = ['--enable-source-maps', script, ...args];
  if (opts.core !== undefined && TASKSET) {
    argv = ['-c', String(opts.core), command, ...argv];
    command = 'taskset';
  }
  const proc = spawn(command, argv, {
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let stdout = '';
  const stderr: string[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const stdoutEnded = new Promise((resolve) => proc.stdout!.once('close', resolve));
  readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 40) stderr.shift();
  });
  const exited = new Promise<string>((resolve) => {
    proc.once('error', (err) => resolve(`could not start: ${err.message}`));
    proc.once('exit', (code, signal) => {
      // Let the last output arrive (a grandchild holding the pipe must not keep us waiting).
      void Promise.race([stdoutEnded, sleep(1_000)]).then(() =>
        resolve(signal ? `killed by ${signal}` : `exit code ${code}`),
      );
    });
  });
  const running = () => proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined;
  return {
    name,
    pid: proc.pid ?? -1,
    exited,
    running,
    stdout: () => stdout,
    stderrTail: () => stderr.join('\n'),
    async stop(graceMs = 10_000) {
      if (running()) {
        proc.kill('SIGTERM');
        await Promise.race([exited, sleep(graceMs)]);
      }
      killGroup(proc, 'SIGKILL'); // whatever is left of the group: a dev server the app did not stop, …
      live.delete(proc);
    },
  };
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Runs a benchmark script to completion and parses the JSON it prints on stdout. */
export async function runScript<T>(name: string, args: string[], opts: SpawnOptions = {}): Promise<T> {
  const child = spawnNode(name, benchScript(name), args, opts);
  const how = await child.exited;
  await child.stop();
  if (how !== 'exit code 0') throw new Error(`${name} failed (${how}):\n${child.stderrTail()}`);
  return JSON.parse(child.stdout()) as T;
}

/** Pins a running process and all its threads to one core (for processes the benchmark did not spawn itself). */
export function pinProcess(pid: number, core: number): boolean {
  return TASKSET && commandWorks('taskset', ['-a', '-p', '-c', String(core), String(pid)]);
}

/** utime + stime of a process in milliseconds. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces: state is the first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Peak resident set size (VmHWM) of a process in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
  return Math.round(kb / 1024);
}

/** Polls `GET url` until it answers 200; fails early when `child` exits or `signal` aborts. */
export async function waitForHttp(
  url: string,
  opts: { timeoutMs: number; child?: Child; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    opts.signal?.throwIfAborted();
    if (opts.child && !opts.child.running()) {
      throw new Error(`${opts.child.name} exited (${await opts.child.exited}):\n${opts.child.stderrTail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${url} was not ready within ${opts.timeoutMs} ms (${last})`);
}
