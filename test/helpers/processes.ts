import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { freePort } from '../../src/temporal/dev-server';
import { eventually } from './api-harness';
import { temporalAddress } from './hookflow';

const MAIN = path.resolve(__dirname, '../../dist/src/main.js');

/** Environment for a Hookflow process on PostgreSQL and the test Temporal server, on a free port. */
export async function processEnv(databaseUrl: string, overrides: Record<string, string> = {}) {
  const port = String(await freePort());
  return {
    PORT: port,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(4).toString('hex')}`,
    HOOKFLOW_SECRET_KEY: randomBytes(32).toString('base64'),
    HOOKFLOW_ADMIN_KEY: `hf_test_${randomBytes(16).toString('hex')}`,
    HOOKFLOW_EGRESS_ALLOW: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}

export type HookflowProcess = {
  proc: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
};

/** Runs `dist/src/main.js` (the built app, as `npm start` would) and waits until /readyz answers 200. */
export async function startHookflowProcess(env: Record<string, string>): Promise<HookflowProcess> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const running: HookflowProcess = { proc, exited, output: () => output };
  running.exited.catch(() => undefined);
  await eventually(
    async () => {
      if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}: ${output}`);
      const r = await fetch(`http://127.0.0.1:${env.PORT}/readyz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    },
    60_000,
    'the process to be ready',
  );
  return running;
}
