/**
 * Encrypted credentials: create/list/delete with their rejections; save-time checks of a step's credential;
 * a step receives its credential decrypted; every secret string is redacted from stored inputs, outputs,
 * errors, logs and Temporal history, so a dump of the database and the captured logs hold none of them;
 * strictReferences; and the rekey command.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { startApp } from '../../src/app';
import { createWorkspace } from '../../src/services/api-keys';
import { SecretBox } from '../../src/services/crypto';
import { packExample, packPackage } from '../fixtures/plugin-example/test/pack';
import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gql,
  gqlOk,
  temporalAddress,
  testConfig,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase, query } from '../helpers/postgres';

const CREATE_CREDENTIAL = `mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id name plugin type createdAt } }`;
const LIST = '{ credentials { id name plugin type createdAt } }';
const DELETE = 'mutation($id: ID!) { deleteCredential(id: $id) }';
const INSTALL = 'mutation($spec: String!) { installPlugin(spec: $spec) { name version } }';

/** The secrets of this scenario: none may appear in plain text in the database, the logs or Temporal. */
const KEY = 'k3y_' + randomBytes(12).toString('hex');
const ACME_TOKEN = 'acme_' + randomBytes(12).toString('hex');
const HEADER_SECRET = 'hdr_' + randomBytes(12).toString('hex');
const SECRETS = [KEY, ACME_TOKEN, HEADER_SECRET];

/** A tiny plugin that misbehaves on purpose: it logs, returns and throws its secret. */
const KEYED_PLUGIN = `const { createHash } = require('node:crypto');
const { z } = require('zod');
const { definePlugin, defineAction, PermanentError } = require('@hookflow/sdk');
module.exports = definePlugin({
  name: 'keyed', displayName: 'Keyed', description: 'Leaks its key on purpose',
  credentials: { secretKey: { displayName: 'Key', schema: z.object({
    key: z.string().min(8),
    label: z.string().meta({ secret: false }).default('main'),
    mode: z.enum(['fast', 'slow']).default('fast'),
  }) } },
  actions: {
    show: defineAction({
      displayName: 'Show', description: 'Echoes the key', credential: 'secretKey',
      input: z.object({ fail: z.enum(['no', 'permanent', 'retry']).default('no'), note: z.string().default('') }),
      output: z.object({ echoed: z.string(), sha256: z.string(), label: z.string(), mode: z.string(),
        link: z.string(), note: z.string() }),
      retry: { maximumAttempts: 2, initialIntervalMs: 100 },
      run(ctx, input) {
        const { key, label, mode } = ctx.credential;
        ctx.logger.info('using key ' + key, { key, nested: { again: [key] } });
        ctx.heartbeat({ key });
        if (input.fail === 'permanent') throw new PermanentError('remote said: key ' + key + ' is revoked');
        if (input.fail === 'retry') throw new Error('connection reset while sending ' + key);
        return { echoed: key, sha256: createHash('sha256').update(key).digest('hex'), label, mode,
          link: 'https://x.test/?k=' + encodeURIComponent(key), note: input.note };
      },
    }),
  },
});`;

describe('credentials', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let tmp: string;
  const logs: string[] = [];
  let viewerKey: string;
  let otherKey: string;
  let keyedId: string;
  let acmeId: string;
  let flowId: string;
  let webhookUrl: string;
  const deliveries: string[] = [];

  const credentialRows = () => query(db.url, 'select id, name, data_encrypted from credential order by name');

  async function start(overrides: Parameters<typeof testConfig>[0] = {}): Promise<TestApp> {
    const config = await testConfig({ databaseUrl: db.url, logLevel: 'debug', ...overrides });
    const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    const started = await startApp(config, log);
    return { ...started, adminKey: config.adminKey!, config };
  }

  async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-webhook-token': HEADER_SECRET, ...headers },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    const { deliveryId } = (await res.json()) as { deliveryId: string };
    deliveries.push(deliveryId);
    return deliveryId;
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

  const keyedStep = (input: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
    key: 'show',
    plugin: 'keyed',
    action: 'show',
    credentialId: keyedId,
    input,
    ...extra,
  });

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-cred-'));
    const acmeTarball = packExample(path.join(tmp, 'example'));
    const keyedTarball = packPackage(
      path.join(tmp, 'keyed'),
      tmp,
      {
        name: 'hookflow-plugin-keyed',
        version: '1.0.0',
        main: 'index.js',
        hookflow: { apiVersion: 1 },
        peerDependencies: { '@hookflow/sdk': '^0.1.0', zod: '^4.0.0' },
      },
      { 'index.js': KEYED_PLUGIN },
    );
    db = await createTestDatabase();
    app = await start();
    await gqlOk(app, app.adminKey, INSTALL, { spec: acmeTarball });
    await gqlOk(app, app.adminKey, INSTALL, { spec: keyedTarball });
    viewerKey = (await gqlOk(app, app.adminKey, 'mutation { createApiKey(name: "v", role: VIEWER) { key } }'))
      .createApiKey.key;
    otherKey = (await createWorkspace(app.services.db.em(), 'Other')).key;
  }, 180_000);

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    if (app) fs.rmSync(app.config.dataDir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('createCredential', () => {
    const cases: [string, Record<string, unknown>, { path: string; message: RegExp }][] = [
      ['an empty name', { name: ' ', data: { key: KEY } }, { path: 'name', message: /must not be empty/ }],
      [
        'an unknown plugin',
        { plugin: 'nope' },
        { path: 'plugin', message: /plugin "nope" is not installed/ },
      ],
      [
        'an unknown type',
        { type: 'password' },
        { path: 'type', message: /plugin "keyed" has no credential type "password" \(it has: secretKey\)/ },
      ],
      [
        'a plugin without credentials',
        { plugin: 'http' },
        { path: 'type', message: /it needs no credentials/ },
      ],
      ['a missing value', { data: {} }, { path: 'data.key', message: /expected string/ }],
      ['a short key', { data: { key: 'short' } }, { path: 'data.key', message: />=8 characters/ }],
      [
        'a value outside the enum',
        { data: { key: KEY, mode: 'turbo' } },
        { path: 'data.mode', message: /expected one of "fast"\|"slow"/ },
      ],
    ];

    it.each(cases)(
      'refuses %s with BAD_USER_INPUT and the path, storing nothing',
      async (_what, input, issue) => {
        const before = await credentialRows();
        const r = await gql(app, app.adminKey, CREATE_CREDENTIAL, {
          input: { name: 'K', plugin: 'keyed', type: 'secretKey', data: { key: KEY }, ...input },
        });
        expect(r.data).toBeNull();
        expect(r.errors![0]!.extensions).toMatchObject({
          code: 'BAD_USER_INPUT',
          issues: [{ path: issue.path, message: expect.stringMatching(issue.message) }],
        });
        expect(JSON.stringify(r)).not.toContain(KEY);
        expect(await credentialRows()).toEqual(before);
      },
    );

    it('refuses a viewer (FORBIDDEN) and a non-object value (GraphQL validation)', async () => {
      const input = { name: 'K', plugin: 'keyed', type: 'secretKey', data: { key: KEY } };
      const viewer = await gql(app, viewerKey, CREATE_CREDENTIAL, { input });
      expect(viewer.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
      const notObject = await gql(app, app.adminKey, CREATE_CREDENTIAL, { input: { ...input, data: [KEY] } });
      expect(notObject.errors![0]!.extensions!.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
      expect(await credentialRows()).toEqual([]);
    });

    it('stores it sealed and lists metadata only; names are unique per workspace', async () => {
      const { createCredential } = await gqlOk(app, app.adminKey, CREATE_CREDENTIAL, {
        input: { name: 'Keyed', plugin: 'keyed', type: 'secretKey', data: { key: KEY, label: 'prod' } },
      });
      keyedId = createCredential.id;
      expect(createCredential).toMatchObject({ name: 'Keyed', plugin: 'keyed', type: 'secretKey' });
      acmeId = (
        await gqlOk(app, app.adminKey, CREATE_CREDENTIAL, {
          input: { name: 'Acme', plugin: 'acme-notes', type: 'apiToken', data: { token: ACME_TOKEN } },
        })
      ).createCredential.id;

      const rows = await credentialRows();
      expect(rows).toHaveLength(2);
      expect(JSON.stringify(rows)).not.toMatch(new RegExp(`${KEY}|${ACME_TOKEN}`));
      const box = new SecretBox(app.config.secretKey!);
      expect(JSON.parse(box.decrypt(String(rows.find((r) => r.name === 'Keyed')!.data_encrypted)))).toEqual({
        key: KEY,
        label: 'prod',
      });

      const listed = (await gqlOk(app, viewerKey, LIST)).credentials;
      expect(listed.map((c: { name: string }) => c.name)).toEqual(['Keyed', 'Acme']);
      const noData = await gql(app, app.adminKey, '{ credentials { id dataEncrypted } }');
      expect(noData.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');

      const dup = await gql(app, app.adminKey, CREATE_CREDENTIAL, {
        input: { name: 'Keyed', plugin: 'keyed', type: 'secretKey', data: { key: KEY } },
      });
      expect(dup.errors![0]!.extensions!.issues).toEqual([
        { path: 'name', message: 'a credential named "Keyed" already exists' },
      ]);
      // Another workspace sees none of them and may use the same name.
      expect((await gqlOk(app, otherKey, LIST)).credentials).toEqual([]);
      await gqlOk(app, otherKey, CREATE_CREDENTIAL, {
        input: { name: 'Keyed', plugin: 'keyed', type: 'secretKey', data: { key: 'other-workspace-key' } },
      });
      expect(await credentialRows()).toHaveLength(3);
    });
  });

  describe('a step and its credential at save time', () => {
    const cases: [string, () => unknown[], string, RegExp][] = [
      [
        'no credential where the action needs one',
        () => [keyedStep({}, { credentialId: null })],
        'steps[0].credentialId',
        /keyed\.show needs a "secretKey" credential of keyed/,
      ],
      [
        'an unknown credential',
        () => [keyedStep({}, { credentialId: '00000000-0000-4000-8000-000000000000' })],
        'steps[0].credentialId',
        /not found/,
      ],
      [
        'a malformed id',
        () => [keyedStep({}, { credentialId: 'abc' })],
        'steps[0].credentialId',
        /credential abc not found/,
      ],
      [
        'a credential of another plugin',
        () => [keyedStep({}, { credentialId: acmeId })],
        'steps[0].credentialId',
        /"Acme" is a acme-notes "apiToken" credential; keyed\.show needs a keyed "secretKey" one/,
      ],
      [
        'a credential on an action that needs none',
        () => [
          {
            key: 'h',
            plugin: 'http',
            action: 'request',
            input: { url: 'https://x.test' },
            credentialId: keyedId,
          },
        ],
        'steps[0].credentialId',
        /http\.request does not use a credential/,
      ],
    ];

    it.each(cases)('refuses %s', async (_what, steps, issuePath, message) => {
      const versions = await query(db.url, 'select count(*)::int as n from flow_version');
      const r = await gql(app, app.adminKey, CREATE_FLOW, { input: { name: 'Bad', steps: steps() } });
      expect(r.errors![0]!.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ path: issuePath, message: expect.stringMatching(message) }],
      });
      expect(await query(db.url, 'select count(*)::int as n from flow_version')).toEqual(versions);
    });

    it("refuses another workspace's credential as not found", async () => {
      const r = await gql(app, otherKey, CREATE_FLOW, { input: { name: 'Theirs', steps: [keyedStep()] } });
      expect(r.errors![0]!.extensions!.issues).toEqual([
        { path: 'steps[0].credentialId', message: `credential ${keyedId} not found` },
      ]);
    });
  });

  describe('at run time', () => {
    beforeAll(async () => {
      const { createFlow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: {
          name: 'Leaky',
          trigger: {
            label: 'In',
            variables: [{ name: 'fail', type: 'STRING' }],
            auth: { type: 'HEADER_TOKEN', secrets: [HEADER_SECRET] },
          },
          steps: [keyedStep({ fail: '{{webhook.fail}}', note: 'sent with {{webhook.fail}}' })],
        },
      });
      flowId = createFlow.id;
      webhookUrl = createFlow.webhookUrl;
    });

    it('passes the decrypted credential to the action and redacts it from what is stored', async () => {
      const d = await finished(await post(webhookUrl, { fail: 'no' }));
      expect(d.run.status).toBe('COMPLETED');
      const [step] = d.run.steps;
      expect(step.output).toEqual({
        echoed: '[redacted]',
        sha256: createHash('sha256').update(KEY).digest('hex'),
        label: 'prod',
        mode: 'fast',
        link: 'https://x.test/?k=[redacted]',
        note: 'sent with no',
      });
    });

    it('redacts it from permanent and retried errors, and from the run error', async () => {
      const permanent = await finished(await post(webhookUrl, { fail: 'permanent' }));
      expect(permanent.run.steps[0]).toMatchObject({
        status: 'FAILED',
        attempts: 1,
        error: 'remote said: key [redacted] is revoked',
      });
      const retried = await finished(await post(webhookUrl, { fail: 'retry' }));
      expect(retried.run.steps[0]).toMatchObject({
        status: 'FAILED',
        attempts: 2,
        error: 'connection reset while sending [redacted]',
      });
      const run = await gqlOk(app, app.adminKey, 'query($id: ID!) { run(id: $id) { status } }', {
        id: retried.run.id,
      });
      expect(run.run.status).toBe('FAILED');
    });

    it('strictReferences fails the step when a reference has no value; otherwise it renders empty', async () => {
      const { updateFlow } = await gqlOk(
        app,
        app.adminKey,
        'mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { version } }',
        {
          id: flowId,
          input: {
            steps: [
              keyedStep({ note: 'for {{webhook.customer}}' }, { key: 'lenient' }),
              keyedStep({ note: 'for {{webhook.customer}}' }, { key: 'strict', strictReferences: true }),
            ],
          },
        },
      );
      expect(updateFlow.version).toBe(2);
      const d = await finished(await post(webhookUrl, { fail: 'no' }));
      expect(d.run.status).toBe('FAILED');
      expect(d.run.steps.map((s: any) => [s.stepKey, s.status, s.attempts, s.error])).toEqual([
        ['lenient', 'SUCCEEDED', 1, null],
        ['strict', 'FAILED', 1, 'strict references: {{webhook.customer}} had no value'],
      ]);
      expect(d.run.steps[0].output.note).toBe('for ');
    });

    it('leaves no secret in plain text in the database, the logs or the Temporal history', async () => {
      // The acme-notes credential was never used by a step: it is only sealed.
      const dump = spawnSync('pg_dump', ['--data-only', '--no-owner', db.url], { encoding: 'utf8' });
      expect(dump.status).toBe(0);
      expect(dump.stdout).toContain('sha256'); // the dump holds the step outputs
      const columns = await query<{ table_name: string; column_name: string }>(
        db.url,
        `select table_name, column_name from information_schema.columns
          where table_schema = 'public' and data_type in ('text', 'character varying', 'json', 'jsonb')`,
      );
      let selected = '';
      for (const c of columns) {
        const rows = await query(db.url, `select "${c.column_name}"::text as v from "${c.table_name}"`);
        selected += JSON.stringify(rows);
      }
      const all = logs.join('');
      expect(all).toContain('using key [redacted]');
      const connection = await Connection.connect({ address: temporalAddress() });
      let history = '';
      try {
        const client = new Client({ connection });
        for (const id of deliveries) {
          history += JSON.stringify(await client.workflow.getHandle(`delivery-${id}`).fetchHistory());
        }
      } finally {
        await connection.close();
      }
      expect(history).toContain('[redacted]');
      for (const secret of SECRETS) {
        for (const [where, text] of [
          ['pg_dump', dump.stdout],
          ['columns', selected],
          ['logs', all],
          ['temporal', history],
        ]) {
          expect({
            where,
            leaked: text!.includes(secret) || text!.includes(encodeURIComponent(secret)),
          }).toEqual({
            where,
            leaked: false,
          });
        }
      }
    });
  });

  describe('deleteCredential', () => {
    it('is refused while a flow uses it, for viewers, and across workspaces; then deletes', async () => {
      const viewer = await gql(app, viewerKey, DELETE, { id: keyedId });
      expect(viewer.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
      const other = await gql(app, otherKey, DELETE, { id: keyedId });
      expect(other.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });
      const inUse = await gql(app, app.adminKey, DELETE, { id: keyedId });
      expect(inUse.errors![0]!.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ path: 'id', message: 'used by "Leaky"; remove it from their steps first' }],
      });
      expect(await credentialRows()).toHaveLength(3);

      expect((await gqlOk(app, app.adminKey, DELETE, { id: acmeId })).deleteCredential).toBe(true);
      const missing = await gql(app, app.adminKey, DELETE, { id: acmeId });
      expect(missing.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });
      expect(await credentialRows()).toHaveLength(2);
    });
  });

  describe('rekey', () => {
    const sealedValues = async () => {
      const rows = await query<{ v: string }>(
        db.url,
        `select data_encrypted as v from credential
         union all select token_encrypted from webhook_trigger
         union all select jsonb_array_elements_text(trigger->'auth'->'sealedSecrets') from flow_version`,
      );
      return rows.map((r) => r.v);
    };
    const rekeyCommand = (env: Record<string, string>) =>
      spawnSync(process.execPath, [path.resolve(__dirname, '../../dist/src/rekey.js')], {
        env: { PATH: process.env.PATH, DATA_DIR: app.config.dataDir, DATABASE_URL: db.url, ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });

    it('re-encrypts every sealed value under the new key in one transaction', async () => {
      await app.stop();
      const oldKey = app.config.secretKey!;
      const newKey = randomBytes(32);
      const before = await sealedValues();
      expect(before.length).toBeGreaterThanOrEqual(5);

      // A wrong current key changes nothing.
      const wrong = rekeyCommand({
        HOOKFLOW_SECRET_KEY: randomBytes(32).toString('base64'),
        HOOKFLOW_NEW_SECRET_KEY: newKey.toString('base64'),
      });
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toMatch(/does not open with the current key .*nothing was changed/);
      expect(await sealedValues()).toEqual(before);
      const badNew = rekeyCommand({
        HOOKFLOW_SECRET_KEY: oldKey.toString('base64'),
        HOOKFLOW_NEW_SECRET_KEY: 'c2hvcnQ=',
      });
      expect(badNew.status).toBe(78);
      expect(badNew.stderr).toMatch(/HOOKFLOW_NEW_SECRET_KEY: must be 32 bytes/);

      const ok = rekeyCommand({
        HOOKFLOW_SECRET_KEY: oldKey.toString('base64'),
        HOOKFLOW_NEW_SECRET_KEY: newKey.toString('base64'),
      });
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/Re-encrypted \d+ value\(s\)/);
      const after = await sealedValues();
      expect(after).toHaveLength(before.length);
      const oldBox = new SecretBox(oldKey);
      const newBox = new SecretBox(newKey);
      after.forEach((sealed, i) => {
        expect(() => oldBox.decrypt(sealed)).toThrow();
        expect(newBox.decrypt(sealed)).toBe(oldBox.decrypt(before[i]!));
      });

      // The app with the new key: same webhook URL and header secret, and the credential still opens.
      app = await start({ secretKey: newKey, adminKey: app.adminKey, dataDir: app.config.dataDir });
      const flow = (
        await gqlOk(app, app.adminKey, 'query($id: ID!) { flow(id: $id) { webhookUrl } }', { id: flowId })
      ).flow;
      expect(flow.webhookUrl.split('/').pop()).toBe(webhookUrl.split('/').pop());
      const d = await finished(await post(flow.webhookUrl, {}));
      expect(d.run.steps[0]).toMatchObject({
        status: 'SUCCEEDED',
        output: expect.objectContaining({ echoed: '[redacted]' }),
      });
    });
  });
});
