import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { PermanentError, isPermanentError, type ActionContext } from '@hookflow/sdk';
import { executeAction } from '../../src/plugins-host/execute';
import { InvalidPluginError, PluginRegistry, compareVersions } from '../../src/plugins-host/registry';
import { PluginSandbox } from '../../src/plugins-host/sandbox';

const fixtures = path.join(__dirname, '..', 'fixtures', 'plugins');
const httpPackage = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'plugins', 'http', 'package.json'), 'utf8'),
) as { version: string };

/** The rejection of a promise that must fail. */
const rejection = (promise: Promise<unknown>): Promise<any> =>
  promise.then(
    () => {
      throw new Error('expected the promise to reject');
    },
    (err: unknown) => err,
  );

function context(overrides: Partial<ActionContext> = {}): Omit<ActionContext, 'credential'> {
  return {
    fetch: globalThis.fetch,
    connect: () => Promise.reject(new Error('these tests open no sockets')),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    heartbeat() {},
    idempotencyKey: 'run-1:step',
    run: {
      workspaceId: 'w',
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

describe('PluginRegistry.load', () => {
  it('loads the first-party http plugin by package name', async () => {
    const registry = await PluginRegistry.load({ packages: [{ name: '@hookflow/plugin-http' }] });
    const [manifest, ...rest] = registry.list();
    expect(rest).toHaveLength(0);
    expect(manifest).toMatchObject({
      name: 'http',
      version: httpPackage.version,
      packageName: '@hookflow/plugin-http',
      apiVersion: 1,
      displayName: 'API Call',
      source: 'BUILTIN',
      credentials: [],
    });
    const action = manifest!.actions[0]!;
    expect(action).toMatchObject({
      name: 'request',
      displayName: 'API Call',
      credential: null,
      timeoutMs: expect.any(Number),
    });
    expect(action.retry).toMatchObject({ maximumAttempts: 5 });
    // JSON Schema from zod: defaults make input fields optional; the output is fully described.
    expect(action.inputSchema).toMatchObject({
      type: 'object',
      required: ['url'],
      properties: { method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'], default: 'POST' } },
    });
    expect(action.outputSchema).toMatchObject({ type: 'object', required: ['status', 'headers', 'body'] });
    expect(JSON.parse(JSON.stringify(manifest))).toEqual(manifest);

    expect(registry.latestVersion('http')).toBe(httpPackage.version);
    expect(registry.latestVersion('nope')).toBeUndefined();
    expect(registry.resolve('http', 'request')?.action.displayName).toBe('API Call');
    expect(registry.resolve('http', 'request', httpPackage.version)?.plugin.source).toBe('BUILTIN');
    expect(registry.resolve('http', 'request', '9.9.9')).toBeUndefined();
    expect(registry.resolve('http', 'toString')).toBeUndefined();
    expect(registry.hasAction('http', 'request', httpPackage.version)).toBe(true);
    expect(registry.hasAction('http', 'nope', httpPackage.version)).toBe(false);
  });

  it('loads an installed plugin from its directory through the same path', async () => {
    const registry = await PluginRegistry.load({
      packages: [
        { name: '@hookflow/plugin-http' },
        { name: 'hookflow-plugin-echo', dir: path.join(fixtures, 'echo-plugin') },
      ],
    });
    expect(registry.list().map((m) => `${m.name}@${m.version}:${m.source}`)).toEqual([
      'echo@2.1.0:INSTALLED',
      `http@${httpPackage.version}:BUILTIN`,
    ]);
    const echo = registry.list()[0]!;
    expect(echo.credentials).toEqual([
      {
        name: 'account',
        displayName: 'Account',
        description: null,
        schema: expect.objectContaining({ type: 'object', required: ['user', 'token'] }),
      },
    ]);
    expect(echo.actions[0]).toMatchObject({
      name: 'echo',
      credential: 'account',
      retry: { maximumAttempts: 2 },
      timeoutMs: 5000,
    });
  });

  it.each([
    [
      'bad-api-version',
      'hookflow-plugin-bad-api-version',
      /plugin API version 99 is not supported by this Hookflow \(supported: 1\)/,
    ],
    ['no-hookflow-field', 'hookflow-plugin-no-hookflow-field', /package\.json has no "hookflow" field/],
    ['not-a-plugin', 'hookflow-plugin-not-a-plugin', /ships no hookflow-manifest\.json/],
  ])('rejects the %s fixture, naming the package', async (dir, name, message) => {
    const err = await PluginRegistry.load({ packages: [{ name, dir: path.join(fixtures, dir) }] }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(InvalidPluginError);
    expect(err.code).toBe('INVALID_PLUGIN');
    expect(err.packageName).toBe(name);
    expect(err.message).toContain(`invalid plugin package "${name}"`);
    expect(err.message).toMatch(message);
  });

  it('rejects a package whose name does not match, a missing directory and an unknown package', async () => {
    await expect(
      PluginRegistry.load({
        packages: [{ name: 'something-else', dir: path.join(fixtures, 'echo-plugin') }],
      }),
    ).rejects.toThrow(/package\.json name is "hookflow-plugin-echo", expected "something-else"/);
    await expect(
      PluginRegistry.load({ packages: [{ name: 'ghost', dir: path.join(fixtures, 'ghost') }] }),
    ).rejects.toThrow(/invalid plugin package "ghost": cannot read/);
    await expect(
      PluginRegistry.load({ packages: [{ name: 'hookflow-plugin-that-does-not-exist' }] }),
    ).rejects.toThrow(
      /invalid plugin package "hookflow-plugin-that-does-not-exist": package is not installed/,
    );
  });

  it('refuses the same plugin version twice', async () => {
    await expect(
      PluginRegistry.load({
        packages: [{ name: '@hookflow/plugin-http' }, { name: '@hookflow/plugin-http' }],
      }),
    ).rejects.toThrow(/plugin "http@.*" is already loaded/);
  });

  it('orders versions semantically', () => {
    const sorted = ['1.2.9', '1.10.0', '1.2.10', '1.10.0-beta.2', '0.9.0'].sort(compareVersions);
    expect(sorted).toEqual(['0.9.0', '1.2.9', '1.2.10', '1.10.0-beta.2', '1.10.0']);
  });
});

describe('executeAction', () => {
  let registry: PluginRegistry;
  // The echo fixture is an installed plugin: it runs in the sandbox, the http plugin in this process.
  const sandbox = new PluginSandbox({ egressAllow: [], log: { warn() {} } });
  afterAll(() => sandbox.close());
  beforeAll(async () => {
    registry = await PluginRegistry.load({
      packages: [
        { name: '@hookflow/plugin-http' },
        { name: 'hookflow-plugin-echo', dir: path.join(fixtures, 'echo-plugin') },
      ],
    });
  });
  const run = (args: Partial<Parameters<typeof executeAction>[0]>) =>
    executeAction({
      registry,
      sandbox,
      plugin: 'echo',
      action: 'echo',
      input: {},
      context: context(),
      ...args,
    });

  it('validates the input (defaults applied) and the credential, then returns the parsed output', async () => {
    await expect(
      run({
        version: '2.1.0',
        input: { message: 'hi', times: 2 },
        credential: { user: 'ada', token: '12345678', extra: 1 },
      }),
    ).resolves.toEqual({ echoed: 'hihi', user: 'ada' });
    await expect(
      run({ input: { message: 'x' }, credential: { user: 'bob', token: '12345678' } }),
    ).resolves.toEqual({
      echoed: 'x',
      user: 'bob',
    });
  });

  it.each([
    [{ plugin: 'nope' }, 'plugin "nope" is not installed'],
    [{ plugin: 'x', version: '1.2.3' }, 'plugin "x@1.2.3" is not installed'],
    [{ version: '9.0.0' }, 'plugin "echo@9.0.0" is not installed (installed versions: 2.1.0)'],
    [{ action: 'shout' }, 'plugin "echo@2.1.0" has no action "shout"'],
    [{ action: '__proto__' }, 'plugin "echo@2.1.0" has no action "__proto__"'],
  ])('refuses %j permanently', async (args, message) => {
    const err = await rejection(run({ ...args, credential: { user: 'u', token: '12345678' } }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(message);
  });

  it('reports every input problem with its path', async () => {
    const err = await rejection(
      run({
        input: { message: '', times: 0 },
        credential: { user: 'u', token: '12345678' },
      }),
    );
    expect(isPermanentError(err)).toBe(true);
    expect(err.message).toMatch(/^invalid input for echo@2\.1\.0 echo: message: .+; times: .+/);
    expect(err.details.map((i: { path: string }) => i.path)).toEqual(['message', 'times']);
  });

  it('requires the credential the action declares and validates it without echoing its values', async () => {
    await expect(run({ input: { message: 'x' } })).rejects.toThrow(
      'echo@2.1.0 echo needs a "account" credential, but the step has none',
    );
    const err = await rejection(
      run({ input: { message: 'x' }, credential: { user: 'u', token: 'short-1' } }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/^the "account" credential for echo@2\.1\.0 echo is invalid: token: /);
    expect(err.message).not.toContain('short-1');
  });

  it('rejects an invalid output permanently and passes the action errors through', async () => {
    const credential = { user: 'u', token: '12345678' };
    await expect(run({ input: { message: 'bad-output' }, credential })).rejects.toThrow(
      /^echo@2\.1\.0 echo returned an invalid output: echoed: /,
    );
    const err = await rejection(run({ input: { message: 'fail-permanently' }, credential }));
    expect(isPermanentError(err)).toBe(true);
    expect(err.message).toBe('asked to fail');
  });

  it('runs the http plugin with the context fetch', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ created: true, method: req.method }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const output = await executeAction({
        registry,
        sandbox,
        plugin: 'http',
        action: 'request',
        input: { url, body: { a: 1 } },
        context: context(),
      });
      expect(output).toMatchObject({ status: 201, body: { created: true, method: 'POST' } });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
