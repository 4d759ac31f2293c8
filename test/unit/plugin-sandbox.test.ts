/**
 * The plugin sandbox's own behaviour (what a hostile plugin can reach is in
 * test/integration/plugin-isolation.test.ts): errors keep their kind across the process boundary, logs and
 * heartbeats come back to the step, each workspace gets its own runner, a plugin that ignores a cancellation
 * is stopped with its runner, and a crashed runner fails only its attempt.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPermanentError, isRateLimitedError, writeManifest, type ActionContext } from '@hookflow/sdk';
import { loadPluginFromDir, type LoadedPlugin } from '../../src/plugins-host/registry';
import { PluginSandbox } from '../../src/plugins-host/sandbox';

const CODE = `const { z } = require('zod');
const { definePlugin, defineAction, RateLimitedError } = require('@hookflow/sdk');
const action = (run) => defineAction({ displayName: 'A', description: '', input: z.object({}).passthrough(), output: z.any(), run });
module.exports = definePlugin({ name: 'moody', displayName: 'Moody', description: '', actions: {
  pid: action(() => ({ pid: process.pid })),
  chatty: action((ctx) => { ctx.logger.info('working', { step: ctx.run.stepKey }); ctx.heartbeat({ done: 1 }); return { key: ctx.idempotencyKey }; }),
  limited: action(() => { throw new RateLimitedError('slow down', 7); }),
  broken: action(() => { throw new Error('temporary'); }),
  stubborn: action(() => new Promise(() => {})),
  crash: action(() => process.exit(3)),
} });`;

function context(
  workspaceId: string,
  overrides: Partial<ActionContext> = {},
): Omit<ActionContext, 'credential'> {
  return {
    fetch: globalThis.fetch,
    connect: () => Promise.reject(new Error('unused')),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    heartbeat() {},
    idempotencyKey: 'run-1:step',
    run: {
      workspaceId,
      flowId: 'f',
      flowVersion: 1,
      runId: 'r',
      deliveryId: 'd',
      stepKey: 'step',
      attempt: 1,
    },
    ...overrides,
  };
}

describe('PluginSandbox', () => {
  let dir: string;
  let plugin: LoadedPlugin;
  const sandbox = new PluginSandbox({ egressAllow: [], log: { warn() {} } });

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-sandbox-'));
    // Laid out like an installed plugin's npm prefix, with the host's zod and SDK linked in.
    const modules = path.join(dir, 'node_modules');
    fs.mkdirSync(path.join(modules, '@hookflow'), { recursive: true });
    fs.symlinkSync(path.resolve(__dirname, '../../node_modules/zod'), path.join(modules, 'zod'));
    fs.symlinkSync(path.resolve(__dirname, '../../plugins/sdk'), path.join(modules, '@hookflow', 'sdk'));
    const pkg = path.join(modules, 'moody');
    fs.mkdirSync(pkg);
    fs.writeFileSync(
      path.join(pkg, 'package.json'),
      JSON.stringify({ name: 'moody', version: '1.0.0', main: 'index.js', hookflow: { apiVersion: 1 } }),
    );
    fs.writeFileSync(path.join(pkg, 'index.js'), CODE);
    writeManifest(pkg);
    plugin = loadPluginFromDir('moody', pkg, 'INSTALLED');
  });

  afterAll(async () => {
    await sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const call = (action: string, workspaceId = 'w1', overrides: Partial<ActionContext> = {}) =>
    sandbox.run(plugin, { action, input: {}, context: context(workspaceId, overrides) });

  it('runs each workspace in a runner of its own, and reuses it', async () => {
    const a = (await call('pid', 'w1')) as { pid: number };
    const again = (await call('pid', 'w1')) as { pid: number };
    const b = (await call('pid', 'w2')) as { pid: number };
    expect(again.pid).toBe(a.pid);
    expect(b.pid).not.toBe(a.pid);
    expect(a.pid).not.toBe(process.pid);
  });

  it('brings logs and heartbeats back to the step, with its idempotency key', async () => {
    const logs: unknown[] = [];
    const beats: unknown[] = [];
    const output = await call('chatty', 'w1', {
      logger: { debug() {}, info: (msg, data) => logs.push([msg, data]), warn() {}, error() {} },
      heartbeat: (details) => beats.push(details),
      idempotencyKey: 'run-9:chatty',
    });
    expect(output).toEqual({ key: 'run-9:chatty' });
    expect(logs).toEqual([['working', { step: 'step' }]]);
    expect(beats).toEqual([{ done: 1 }]);
  });

  it('keeps the kind of an error: rate limited with its delay, temporary', async () => {
    const limited = await call('limited').catch((e: unknown) => e);
    expect(isRateLimitedError(limited)).toBe(true);
    expect(limited).toMatchObject({ message: 'slow down', retryAfterSeconds: 7 });
    const broken = await call('broken').catch((e: unknown) => e);
    expect(broken).toMatchObject({ message: 'temporary' });
    expect(isPermanentError(broken)).toBe(false);
    await expect(call('nope')).rejects.toThrow('plugin "moody@1.0.0" has no action "nope"');
  });

  it('stops a runner whose plugin ignores a cancellation; the next call gets a new one', async () => {
    const before = (await call('pid', 'w3')) as { pid: number };
    const abort = new AbortController();
    const stuck = call('stubborn', 'w3', { signal: abort.signal });
    abort.abort();
    await expect(stuck).rejects.toThrow(/the plugin runner exited \(SIGKILL\)/);
    const after = (await call('pid', 'w3')) as { pid: number };
    expect(after.pid).not.toBe(before.pid);
  });

  it('fails only the attempt when a runner crashes', async () => {
    const err = await call('crash', 'w4').catch((e: unknown) => e);
    expect(err).toMatchObject({ message: expect.stringMatching(/the plugin runner exited \(code 3\)/) });
    expect(isPermanentError(err)).toBe(false);
    await expect(call('pid', 'w4')).resolves.toEqual({ pid: expect.any(Number) });
  });
});
