/**
 * The plugin marketplace end to end: the example third-party plugin (test/fixtures/plugin-example) is built
 * and packed with npm pack, installed through installPlugin on a real app, used in a flow and run by the
 * worker; failed installs leave nothing behind; enable/disable act at save and run time; an installed plugin
 * routed to its own task queue runs on a second worker process that serves only that queue.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { npmPack, packExample, packPackage, writeManifest } from '../fixtures/plugin-example/test/pack';
import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gql,
  gqlOk,
  startTestApp,
  temporalAddress,
  type TestApp,
} from '../helpers/hookflow';
import { createWorkspace } from '../../src/services/api-keys';
import { createTestDatabase, query } from '../helpers/postgres';
import { startTargetServer } from '../helpers/target-server';

const PLUGINS = `{ plugins { name version packageName apiVersion displayName description icon source enabled taskQueue
  actions { name displayName description inputSchema outputSchema credential timeoutMs retry }
  credentialTypes { name displayName description schema } } }`;
const INSTALL = `mutation($spec: String!, $q: String) { installPlugin(spec: $spec, taskQueue: $q) {
  name version packageName source enabled taskQueue actions { name credential } credentialTypes { name } } }`;
const SET_ENABLED = `mutation($name: String!, $enabled: Boolean!) { setPluginEnabled(name: $name, enabled: $enabled) { name version enabled } }`;
const SET_QUEUE = `mutation($name: String!, $q: String) { setPluginTaskQueue(name: $name, taskQueue: $q) { name taskQueue } }`;
const UNINSTALL = `mutation($name: String!, $version: String!) { uninstallPlugin(name: $name, version: $version) }`;
const CREATE_CREDENTIAL = `mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id name plugin type } }`;

const TOKEN = 'acme_marketplace_token_5f2c9e7d';
const ORDER = { order_id: 'A-77', title: 'Ship A-77' };

describe('plugin marketplace', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let tmp: string;
  let tarball: string;
  let badApiTarball: string;
  let garbageTarball: string;
  let takesHttpTarball: string;
  let noManifestTarball: string;
  let mismatchedManifestTarball: string;
  let editorKey: string;
  let plainAdminKey: string;
  let otherAdminKey: string;
  let acme: Awaited<ReturnType<typeof startTargetServer>>;
  let credentialId: string;
  let flow: { id: string; webhookUrl: string };
  const apps: TestApp[] = [];

  const pluginsDir = () => path.join(app.config.dataDir, 'plugins');
  const installedRows = () =>
    query<{
      name: string;
      version: string;
      source: string;
      enabled: boolean;
      task_queue: string | null;
      spec: string | null;
    }>(
      db.url,
      'select name, version, source, enabled, task_queue, spec from installed_plugin order by name, version',
    );
  const pluginDirs = () =>
    fs.existsSync(pluginsDir()) ? fs.readdirSync(pluginsDir()).filter((d) => !d.startsWith('.')) : [];
  const pluginNames = async () =>
    ((await gqlOk(app, app.adminKey, PLUGINS)).plugins as { name: string; version: string }[]).map(
      (p) => `${p.name}@${p.version}`,
    );

  async function post(url: string, body: unknown) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { deliveryId: string }).deliveryId;
  }

  async function finished(deliveryId: string) {
    return eventually(
      async () => {
        const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: deliveryId })).delivery;
        return d.run && d.run.status !== 'RUNNING' ? d : undefined;
      },
      90_000,
      'the run to finish',
    );
  }

  const acmeStep = (input: Record<string, unknown> = { title: '{{webhook.title}}', tags: ['shop'] }) => ({
    key: 'note',
    plugin: 'acme-notes',
    action: 'createNote',
    credentialId,
    input,
  });

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-market-'));
    tarball = packExample(path.join(tmp, 'example'));
    badApiTarball = packPackage(
      path.join(tmp, 'bad-api-src'),
      tmp,
      JSON.parse(
        fs.readFileSync(path.join(__dirname, '../fixtures/plugins/bad-api-version/package.json'), 'utf8'),
      ),
      {
        'index.js': fs.readFileSync(
          path.join(__dirname, '../fixtures/plugins/bad-api-version/index.js'),
          'utf8',
        ),
      },
      { manifest: false },
    );
    garbageTarball = path.join(tmp, 'garbage-1.0.0.tgz');
    fs.writeFileSync(garbageTarball, 'this is not a gzip archive');
    takesHttpTarball = packPackage(
      path.join(tmp, 'takes-http-src'),
      tmp,
      {
        name: 'hookflow-plugin-fake-http',
        version: '9.0.0',
        main: 'index.js',
        hookflow: { apiVersion: 1 },
        peerDependencies: { '@hookflow/sdk': '^0.1.0', zod: '^4.0.0' },
      },
      {
        'index.js': `const { z } = require('zod');
const { definePlugin, defineAction } = require('@hookflow/sdk');
module.exports = definePlugin({ name: 'http', displayName: 'Fake', description: 'takes a built-in name', actions: {
  request: defineAction({ displayName: 'R', description: '', input: z.object({}), output: z.object({}), run: () => ({}) }) } });`,
      },
    );

    const quiet = {
      name: 'hookflow-plugin-quiet',
      version: '1.0.0',
      main: 'index.js',
      hookflow: { apiVersion: 1 },
      peerDependencies: { '@hookflow/sdk': '^0.1.0', zod: '^4.0.0' },
    };
    const quietCode = (action: string) => `const { z } = require('zod');
const { definePlugin, defineAction } = require('@hookflow/sdk');
module.exports = definePlugin({ name: 'quiet', displayName: 'Quiet', description: '', actions: {
  ${action}: defineAction({ displayName: 'A', description: '', input: z.object({}), output: z.object({}), run: () => ({}) }) } });`;
    noManifestTarball = packPackage(
      path.join(tmp, 'no-manifest-src'),
      tmp,
      quiet,
      { 'index.js': quietCode('ping') },
      { manifest: false },
    );
    // Built for one action, then the code changed and the manifest was not written again.
    const stale = path.join(tmp, 'stale-src');
    fs.mkdirSync(stale);
    fs.writeFileSync(path.join(stale, 'package.json'), JSON.stringify({ ...quiet, version: '2.0.0' }));
    fs.writeFileSync(path.join(stale, 'index.js'), quietCode('ping'));
    writeManifest(stale);
    fs.writeFileSync(path.join(stale, 'index.js'), quietCode('pong'));
    mismatchedManifestTarball = npmPack(stale, tmp);

    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
    apps.push(app);
    editorKey = (
      await gqlOk(app, app.adminKey, 'mutation { createApiKey(name: "editor", role: EDITOR) { key } }')
    ).createApiKey.key;
    plainAdminKey = (
      await gqlOk(app, app.adminKey, 'mutation { createApiKey(name: "admin", role: ADMIN) { key } }')
    ).createApiKey.key;
    otherAdminKey = (await createWorkspace(app.services.db.em(), 'Other')).key;
    acme = await startTargetServer((req) =>
      req.url === '/v1/notes'
        ? { status: 201, body: { id: `N-${Date.now()}`, url: 'https://acme.test/n/1' } }
        : {},
    );
  }, 180_000);

  afterAll(async () => {
    for (const a of apps.reverse()) await a.stop();
    await acme?.close();
    await db?.drop();
    for (const a of apps) fs.rmSync(a.config.dataDir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lists the built-in plugins with their manifests, without an install', async () => {
    const { plugins } = await gqlOk(app, editorKey, PLUGINS);
    const http = plugins.find((p: { name: string }) => p.name === 'http');
    expect(http).toMatchObject({
      packageName: '@hookflow/plugin-http',
      source: 'BUILTIN',
      enabled: true,
      taskQueue: null,
      apiVersion: 1,
      actions: expect.arrayContaining([expect.objectContaining({ name: 'request', credential: null })]),
      credentialTypes: [],
    });
    const request = http.actions.find((a: { name: string }) => a.name === 'request');
    expect(request.inputSchema).toMatchObject({ type: 'object', required: ['url'] });
    expect(await installedRows()).toEqual([]);
  });

  it('only a key holding the installation-level right can grant it', async () => {
    const grant = `mutation($admin: Boolean!) { createApiKey(name: "ops", role: ADMIN, installationAdmin: $admin) {
      key apiKey { role installationAdmin } } }`;
    const refused = await gql(app, plainAdminKey, grant, { admin: true });
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(refused.errors![0]!.message).toMatch(/needs an installation admin key/);
    const keys = `{ apiKeys { name installationAdmin } }`;
    expect((await gqlOk(app, app.adminKey, keys)).apiKeys).not.toContainEqual(
      expect.objectContaining({ name: 'ops' }),
    );

    const granted = (await gqlOk(app, app.adminKey, grant, { admin: true })).createApiKey;
    expect(granted.apiKey).toEqual({ role: 'ADMIN', installationAdmin: true });
    const list = (await gqlOk(app, granted.key, keys)).apiKeys;
    expect(list).toContainEqual({ name: 'bootstrap admin', installationAdmin: true });
    expect(list).toContainEqual({ name: 'admin', installationAdmin: false });
    // Holding it does not make every key it creates hold it.
    expect(
      (await gqlOk(app, granted.key, grant, { admin: false })).createApiKey.apiKey.installationAdmin,
    ).toBe(false);
  });

  describe('failed installs leave nothing behind', () => {
    const cases: [string, () => string, () => string | undefined, RegExp][] = [
      ['an editor key', () => tarball, () => editorKey, /needs an installation admin key/],
      [
        "another workspace's ADMIN key",
        () => tarball,
        () => otherAdminKey,
        /needs an installation admin key; workspace roles do not grant it/,
      ],
      [
        "this workspace's ADMIN key without the installation right",
        () => tarball,
        () => plainAdminKey,
        /needs an installation admin key/,
      ],
      ['a tarball that is not one', () => garbageTarball, () => undefined, /TAR_BAD_ARCHIVE/],
      [
        'a package with an unsupported apiVersion',
        () => badApiTarball,
        () => undefined,
        /plugin API version 99 is not supported by this Hookflow \(supported: 1\)/,
      ],
      [
        'a package taking the name of a built-in plugin',
        () => takesHttpTarball,
        () => undefined,
        /"http" is already provided by @hookflow\/plugin-http/,
      ],
      [
        'a package that ships no manifest',
        () => noManifestTarball,
        () => undefined,
        /ships no hookflow-manifest\.json \(run "hookflow-manifest"/,
      ],
      [
        'a package whose manifest does not describe its code',
        () => mismatchedManifestTarball,
        () => undefined,
        /hookflow-manifest\.json does not describe its code/,
      ],
      ['a missing tarball', () => path.join(tmp, 'missing-1.0.0.tgz'), () => undefined, /does not exist/],
      ['a relative tarball path', () => 'plugins/x-1.0.0.tgz', () => undefined, /absolute path/],
      ['a git URL', () => 'git+ssh://git@github.com/acme/x.git', () => undefined, /neither an npm package/],
      ['a flag', () => '--global', () => undefined, /neither an npm package/],
      ['a URL as version', () => 'left-pad@https://evil.test/x', () => undefined, /is not a version/],
    ];

    it.each(cases)('%s', async (_what, spec, key, message) => {
      const before = await pluginNames();
      const r = await gql(app, key() ?? app.adminKey, INSTALL, { spec: spec() });
      expect(r.data).toBeNull();
      const code = key() ? 'FORBIDDEN' : 'BAD_USER_INPUT';
      expect(r.errors![0]!.extensions!.code).toBe(code);
      expect(r.errors![0]!.message).toMatch(message);
      if (code === 'BAD_USER_INPUT') expect(r.errors![0]!.extensions!.issues[0].path).toBe('spec');
      expect(await installedRows()).toEqual([]);
      expect(pluginDirs()).toEqual([]);
      expect(await pluginNames()).toEqual(before);
      expect(app.registry.versions('acme-notes')).toEqual([]);
    });
  });

  it('installs the packed example plugin and records it', async () => {
    const { installPlugin } = await gqlOk(app, app.adminKey, INSTALL, { spec: tarball });
    expect(installPlugin).toEqual({
      name: 'acme-notes',
      version: '1.0.0',
      packageName: 'hookflow-plugin-acme-notes',
      source: 'INSTALLED',
      enabled: true,
      taskQueue: null,
      actions: [{ name: 'createNote', credential: 'apiToken' }],
      credentialTypes: [{ name: 'apiToken' }],
    });
    expect(await installedRows()).toEqual([
      expect.objectContaining({ name: 'acme-notes', version: '1.0.0', source: 'INSTALLED', spec: tarball }),
    ]);
    expect(pluginDirs()).toEqual(['hookflow-plugin-acme-notes@1.0.0']);
    const listed = (await gqlOk(app, app.adminKey, PLUGINS)).plugins.find(
      (p: { name: string }) => p.name === 'acme-notes',
    );
    expect(listed.credentialTypes[0].schema).toMatchObject({
      type: 'object',
      properties: { baseUrl: { secret: false }, token: { minLength: 16 } },
      required: ['token'],
    });
    expect(listed.actions[0]).toMatchObject({ timeoutMs: 15_000, retry: { maximumAttempts: 4 } });

    // The same version again: refused, and the installed copy is untouched.
    const again = await gql(app, app.adminKey, INSTALL, { spec: tarball });
    expect(again.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(again.errors![0]!.message).toMatch(/hookflow-plugin-acme-notes@1.0.0 is already installed/);
    expect(pluginDirs()).toEqual(['hookflow-plugin-acme-notes@1.0.0']);
    expect(await installedRows()).toHaveLength(1);
  });

  it('runs the installed plugin in a flow: the step gets the decrypted credential', async () => {
    credentialId = (
      await gqlOk(app, editorKey, CREATE_CREDENTIAL, {
        input: {
          name: 'Acme',
          plugin: 'acme-notes',
          type: 'apiToken',
          data: { baseUrl: acme.url, token: TOKEN },
        },
      })
    ).createCredential.id;
    flow = (
      await gqlOk(app, editorKey, CREATE_FLOW, {
        input: {
          name: 'Notes',
          trigger: {
            label: 'Order',
            variables: [
              { name: 'order_id', type: 'STRING', required: true },
              { name: 'title', type: 'STRING', required: true },
            ],
          },
          steps: [acmeStep()],
        },
      })
    ).createFlow;
    const deliveryId = await post(flow.webhookUrl, ORDER);
    const d = await finished(deliveryId);
    expect(d.run.status).toBe('COMPLETED');
    expect(d.run.steps).toEqual([
      expect.objectContaining({
        stepKey: 'note',
        status: 'SUCCEEDED',
        input: { title: 'Ship A-77', tags: ['shop'] },
        output: { id: expect.stringMatching(/^N-/), url: 'https://acme.test/n/1' },
      }),
    ]);
    const call = acme.requests.at(-1)!;
    expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call.headers['idempotency-key']).toBe(`${d.run.id}:note`);
    expect(JSON.parse(call.body)).toEqual({ title: 'Ship A-77', body: '', tags: ['shop'] });
  });

  it('checks template-free step inputs against the action schema at save time', async () => {
    // Save time reads the JSON Schema of the manifest (a format, not the plugin's own refinement message).
    const cases: [unknown[], { path: string; message: RegExp }][] = [
      [[acmeStep({ title: '', tags: ['x'] })], { path: 'steps[0].input.title', message: /Too small/ }],
      [[acmeStep({ title: 'x', tags: 'shop' })], { path: 'steps[0].input.tags', message: /expected array/ }],
      [[acmeStep({ tags: ['x'] })], { path: 'steps[0].input.title', message: /expected string/ }],
      [
        [{ key: 'call', plugin: 'http', action: 'request', input: { url: 'not a url' } }],
        { path: 'steps[0].input.url', message: /Invalid URL/ },
      ],
    ];
    const versions = await query(db.url, 'select count(*)::int as n from flow_version');
    for (const [steps, issue] of cases) {
      const r = await gql(app, editorKey, CREATE_FLOW, { input: { name: 'Bad', steps } });
      expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(r.errors![0]!.extensions!.issues).toEqual(
        expect.arrayContaining([{ path: issue.path, message: expect.stringMatching(issue.message) }]),
      );
    }
    expect(await query(db.url, 'select count(*)::int as n from flow_version')).toEqual(versions);

    // A template may render to anything: only the run can tell.
    const ok = await gqlOk(app, editorKey, CREATE_FLOW, {
      input: {
        name: 'Templated',
        steps: [
          acmeStep({ title: '{{webhook.title}}', tags: '{{webhook.tags}}' }),
          { key: 'call', plugin: 'http', action: 'request', input: { url: '{{webhook.url}}' } },
        ],
      },
    });
    await gqlOk(app, editorKey, 'mutation($id: ID!) { deleteFlow(id: $id) }', { id: ok.createFlow.id });
  });

  it('disabling a plugin refuses it at save time and fails its steps at run time; enabling undoes it', async () => {
    for (const key of [editorKey, plainAdminKey, otherAdminKey]) {
      const forbidden = await gql(app, key, SET_ENABLED, { name: 'acme-notes', enabled: false });
      expect(forbidden.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    }
    expect((await installedRows())[0]).toMatchObject({ enabled: true });

    const off = await gqlOk(app, app.adminKey, SET_ENABLED, { name: 'acme-notes', enabled: false });
    expect(off.setPluginEnabled).toEqual({ name: 'acme-notes', version: '1.0.0', enabled: false });
    const listed = (await gqlOk(app, editorKey, PLUGINS)).plugins.find(
      (p: { name: string }) => p.name === 'acme-notes',
    );
    expect(listed.enabled).toBe(false);

    const save = await gql(app, editorKey, CREATE_FLOW, { input: { name: 'Off', steps: [acmeStep()] } });
    expect(save.errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: 'steps[0].plugin', message: 'plugin "acme-notes" is disabled' }],
    });

    const calls = acme.requests.length;
    const d = await finished(await post(flow.webhookUrl, ORDER));
    expect(d.run.status).toBe('FAILED');
    expect(d.run.steps).toEqual([
      expect.objectContaining({ status: 'FAILED', attempts: 1, error: 'plugin "acme-notes" is disabled' }),
    ]);
    expect(acme.requests.length).toBe(calls);

    await gqlOk(app, app.adminKey, SET_ENABLED, { name: 'acme-notes', enabled: true });
    const again = await finished(await post(flow.webhookUrl, ORDER));
    expect(again.run.status).toBe('COMPLETED');
    expect(acme.requests.length).toBe(calls + 1);
  });

  it('built-in plugins can be disabled and enabled too', async () => {
    const step = { key: 'call', plugin: 'http', action: 'request', input: { url: `${acme.url}/ping` } };
    await gqlOk(app, app.adminKey, SET_ENABLED, { name: 'http', enabled: false });
    try {
      const save = await gql(app, editorKey, CREATE_FLOW, { input: { name: 'Http off', steps: [step] } });
      expect(save.errors![0]!.extensions!.issues).toEqual([
        { path: 'steps[0].plugin', message: 'plugin "http" is disabled' },
      ]);
      expect(await installedRows()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'http', source: 'BUILTIN', enabled: false }),
        ]),
      );
    } finally {
      await gqlOk(app, app.adminKey, SET_ENABLED, { name: 'http', enabled: true });
    }
    await gqlOk(app, editorKey, CREATE_FLOW, { input: { name: 'Http on', steps: [step] } });
    const unknown = await gql(app, app.adminKey, SET_ENABLED, { name: 'nope', enabled: false });
    expect(unknown.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect(await installedRows()).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'nope' })]),
    );
    const r = await gql(app, app.adminKey, SET_QUEUE, { name: 'http', q: 'elsewhere' });
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(r.errors![0]!.message).toMatch(/built-in plugins run on the main task queue/);
  });

  it('routes an installed plugin to its own task queue, served by a second worker process', async () => {
    const queue = `plugins-untrusted-${Date.now()}`;
    // A worker-only process with its own DATA_DIR serving only that queue (as an operator would run it,
    // under a less-privileged user); it installs the plugin from the recorded spec when it first needs it.
    const worker = await startTestApp({
      databaseUrl: db.url,
      roles: ['worker'],
      secretKey: app.config.secretKey,
      adminKey: undefined,
      temporal: { ...app.config.temporal, workerQueues: [queue] },
    });
    apps.push(worker);
    expect(worker.registry.versions('acme-notes')).toEqual([]);

    const bad = await gql(app, app.adminKey, SET_QUEUE, { name: 'acme-notes', q: 'no spaces allowed' });
    expect(bad.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const routed = await gqlOk(app, app.adminKey, SET_QUEUE, { name: 'acme-notes', q: queue });
    expect(routed.setPluginTaskQueue).toEqual({ name: 'acme-notes', taskQueue: queue });

    const deliveryId = await post(flow.webhookUrl, ORDER);
    const d = await finished(deliveryId);
    expect(d.run.status).toBe('COMPLETED');
    expect(worker.registry.versions('acme-notes')).toEqual(['1.0.0']);
    expect(fs.readdirSync(path.join(worker.config.dataDir, 'plugins'))).toEqual([
      'hookflow-plugin-acme-notes@1.0.0',
    ]);

    // The run began on the main queue; Temporal scheduled the step on the plugin's queue, which only the second
    // process polls.
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const history = await new Client({ connection }).workflow
        .getHandle(`delivery-${deliveryId}`)
        .fetchHistory();
      const scheduled = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'executeStep')
        .map((a) => a!.taskQueue?.name);
      expect(scheduled).toEqual([app.config.temporal.taskQueue, queue]);
    } finally {
      await connection.close();
    }

    // The other process picks up state changes by polling the table.
    await gqlOk(app, app.adminKey, SET_ENABLED, { name: 'acme-notes', enabled: false });
    await eventually(async () => (worker.registry.isEnabled('acme-notes') ? undefined : true), 20_000);
    await gqlOk(app, app.adminKey, SET_ENABLED, { name: 'acme-notes', enabled: true });
    await gqlOk(app, app.adminKey, SET_QUEUE, { name: 'acme-notes', q: null });
    const back = await finished(await post(flow.webhookUrl, ORDER));
    expect(back.run.status).toBe('COMPLETED');
  });

  it('uninstall is refused while an active flow uses the version, and removes everything once allowed', async () => {
    const forbidden = await gql(app, editorKey, UNINSTALL, { name: 'acme-notes', version: '1.0.0' });
    expect(forbidden.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const builtin = await gql(app, app.adminKey, UNINSTALL, { name: 'http', version: '0.1.0' });
    expect(builtin.errors![0]!.message).toMatch(/built-in plugins cannot be uninstalled/);
    const unknown = await gql(app, app.adminKey, UNINSTALL, { name: 'acme-notes', version: '9.9.9' });
    expect(unknown.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });

    const inUse = await gql(app, app.adminKey, UNINSTALL, { name: 'acme-notes', version: '1.0.0' });
    expect(inUse.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(inUse.errors![0]!.message).toMatch(/acme-notes@1.0.0 is in use.*"Notes"/);
    expect(await installedRows()).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'acme-notes' })]),
    );
    expect(pluginDirs()).toEqual(['hookflow-plugin-acme-notes@1.0.0']);

    await gqlOk(app, editorKey, 'mutation($id: ID!) { setFlowStatus(id: $id, status: PAUSED) { id } }', {
      id: flow.id,
    });
    expect(
      (await gqlOk(app, app.adminKey, UNINSTALL, { name: 'acme-notes', version: '1.0.0' })).uninstallPlugin,
    ).toBe(true);
    expect((await installedRows()).filter((r) => r.name === 'acme-notes')).toEqual([]);
    expect(pluginDirs()).toEqual([]);
    expect(await pluginNames()).not.toContain('acme-notes@1.0.0');

    // The flow can no longer be saved with it, and its runs would fail with a clear message.
    const save = await gql(app, editorKey, CREATE_FLOW, { input: { name: 'Gone', steps: [acmeStep()] } });
    expect(save.errors![0]!.extensions!.issues).toEqual([
      { path: 'steps[0].plugin', message: 'plugin "acme-notes" is not installed' },
    ]);
    await gqlOk(app, editorKey, 'mutation($id: ID!) { setFlowStatus(id: $id, status: ACTIVE) { id } }', {
      id: flow.id,
    });
    const d = await finished(await post(flow.webhookUrl, ORDER));
    expect(d.run.steps[0]).toMatchObject({
      status: 'FAILED',
      error: 'plugin "acme-notes@1.0.0" is not installed',
    });

    // And it can be installed again.
    await gqlOk(app, app.adminKey, INSTALL, { spec: tarball });
    expect(pluginDirs()).toEqual(['hookflow-plugin-acme-notes@1.0.0']);
  });
});
