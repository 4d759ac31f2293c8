/**
 * A hostile third-party plugin finds nothing to steal: its top-level code never runs in the api/ingress/worker
 * process, and its action, run in the sandbox, sees an empty environment, cannot read DATA_DIR or the worker's
 * /proc entry, cannot reach the database (TCP or Unix socket) or the app, cannot spawn processes, write files or
 * reach Node's internal bindings. Its credential reaches it, and never Temporal's history.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { packPackage } from '../fixtures/plugin-example/test/pack';
import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gqlOk,
  startTestApp,
  temporalAddress,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase } from '../helpers/postgres';

const LOADED_MARK = '__hookflowHostilePluginLoaded';
const SECRET_TOKEN = 'hostile_credential_value_7c1d2e';

const HOSTILE_CODE = `'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { z } = require('zod');
const { definePlugin, defineAction } = require('@hookflow/sdk');
globalThis.${LOADED_MARK} = true;

const attempt = async (fn) => {
  try {
    return 'GOT ' + String(await fn()).slice(0, 200);
  } catch (err) {
    return 'denied: ' + err.code + ' ' + err.name;
  }
};
const connect = (options) =>
  new Promise((resolve, reject) => {
    const socket = net.connect(options);
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', reject);
  });

module.exports = definePlugin({
  name: 'hostile',
  displayName: 'Hostile',
  description: 'Tries to steal what a worker holds',
  credentials: { token: { displayName: 'Token', schema: z.object({ token: z.string() }) } },
  actions: {
    probe: defineAction({
      displayName: 'Probe',
      description: '',
      credential: 'token',
      input: z.object({ dataDir: z.string(), dbPort: z.number(), apiPort: z.number() }),
      output: z.object({ env: z.array(z.string()), results: z.record(z.string(), z.string()), sawCredential: z.boolean() }),
      async run(ctx, input) {
        const results = {
          listDataDir: await attempt(() => fs.readdirSync(input.dataDir).join(',')),
          readCanary: await attempt(() => fs.readFileSync(path.join(input.dataDir, 'canary.txt'), 'utf8')),
          workerEnviron: await attempt(() => fs.readFileSync('/proc/' + process.ppid + '/environ', 'utf8')),
          databaseTcp: await attempt(() => connect({ host: '127.0.0.1', port: input.dbPort })),
          databaseTcpByPort: await attempt(() => connect(input.dbPort)),
          databaseSocket: await attempt(() => connect({ path: '/var/run/postgresql/.s.PGSQL.' + input.dbPort })),
          appGlobalFetch: await attempt(() => fetch('http://127.0.0.1:' + input.apiPort + '/metrics').then((r) => r.status)),
          appCtxFetch: await attempt(() => ctx.fetch('http://127.0.0.1:' + input.apiPort + '/metrics').then((r) => r.status)),
          udp: await attempt(() => require('node:dgram').createSocket('udp4')),
          binding: await attempt(() => process.binding('tcp_wrap')),
          childProcess: await attempt(() => require('node:child_process').execSync('id')),
          writeFile: await attempt(() => fs.writeFileSync(path.join(input.dataDir, 'pwned.txt'), 'x')),
        };
        return { env: Object.keys(process.env), results, sawCredential: ctx.credential.token === '${SECRET_TOKEN}' };
      },
    }),
  },
});
`;

describe('a hostile installed plugin', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;
  let tmp: string;
  const savedDatabaseUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-hostile-'));
    db = await createTestDatabase();
    // What a careless worker would hand a plugin that ran beside it.
    process.env.DATABASE_URL = db.url;
    app = await startTestApp({ databaseUrl: db.url, egressAllow: [] });
    fs.writeFileSync(path.join(app.config.dataDir, 'canary.txt'), 'the secret key would be here');
  }, 120_000);

  afterAll(async () => {
    if (savedDatabaseUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = savedDatabaseUrl;
    await app?.stop();
    await db?.drop();
    if (app) fs.rmSync(app.config.dataDir, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runs only in the sandbox, where it finds nothing to steal', async () => {
    const tarball = packPackage(
      path.join(tmp, 'src'),
      tmp,
      {
        name: 'hookflow-plugin-hostile',
        version: '1.0.0',
        main: 'index.js',
        hookflow: { apiVersion: 1 },
        peerDependencies: { '@hookflow/sdk': '^0.1.0', zod: '^4.0.0' },
      },
      { 'index.js': HOSTILE_CODE },
    );
    // Packing ran the code once in a child process of its own (the author's build), never in this one.
    await gqlOk(app, app.adminKey, 'mutation($spec: String!) { installPlugin(spec: $spec) { name } }', {
      spec: tarball,
    });
    const credentialId = (
      await gqlOk(
        app,
        app.adminKey,
        'mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id } }',
        { input: { name: 'Hostile', plugin: 'hostile', type: 'token', data: { token: SECRET_TOKEN } } },
      )
    ).createCredential.id;
    const flow = (
      await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: {
          name: 'Hostile',
          trigger: { label: 'Hook' },
          steps: [
            {
              key: 'probe',
              plugin: 'hostile',
              action: 'probe',
              credentialId,
              input: {
                dataDir: app.config.dataDir,
                dbPort: Number(new URL(db.url).port || 5432),
                apiPort: app.port,
              },
            },
          ],
        },
      })
    ).createFlow;

    const res = await fetch(flow.webhookUrl, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    const { deliveryId } = (await res.json()) as { deliveryId: string };
    const delivery = await eventually(
      async () => {
        const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: deliveryId })).delivery;
        return d.run && d.run.status !== 'RUNNING' ? d : undefined;
      },
      60_000,
      'the run to finish',
    );
    expect(delivery.run.status).toBe('COMPLETED');
    const output = delivery.run.steps[0].output as {
      env: string[];
      results: Record<string, string>;
      sawCredential: boolean;
    };
    expect(output.env).toEqual([]);
    expect(output.sawCredential).toBe(true);
    for (const [what, result] of Object.entries(output.results)) {
      expect([what, result]).toEqual([what, expect.stringMatching(/^denied: /)]);
    }
    const permission = expect.stringContaining('ERR_ACCESS_DENIED');
    const egress = expect.stringContaining('EgressBlockedError');
    expect(output.results).toEqual({
      listDataDir: permission,
      readCanary: permission,
      workerEnviron: permission,
      databaseTcp: egress,
      databaseTcpByPort: egress,
      databaseSocket: egress,
      appGlobalFetch: expect.stringMatching(/^denied: /),
      appCtxFetch: egress,
      udp: egress,
      binding: permission,
      childProcess: permission,
      writeFile: permission,
    });
    expect(fs.existsSync(path.join(app.config.dataDir, 'pwned.txt'))).toBe(false);
    // The api, ingress and worker of this app run in this process: the plugin's code never did.
    expect((globalThis as Record<string, unknown>)[LOADED_MARK]).toBeUndefined();

    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const history = await new Client({ connection }).workflow
        .getHandle(`delivery-${deliveryId}`)
        .fetchHistory();
      // Every payload of every event, decoded.
      const text = [...JSON.stringify(history).matchAll(/"data":"([A-Za-z0-9+/=]*)"/g)]
        .map(([, data]) => Buffer.from(data!, 'base64').toString('utf8'))
        .join('\n');
      expect(text).toContain(delivery.run.id);
      expect(text).not.toContain(SECRET_TOKEN);
    } finally {
      await connection.close();
    }
  }, 120_000);
});
