import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

describe('configuration', () => {
  it('has working defaults for the embedded mode', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      dataDir: './data',
      databaseUrl: undefined,
      temporal: { address: undefined, namespace: 'default', taskQueue: 'hookflow' },
      roles: ['api', 'ingress', 'worker'],
      egressAllow: [],
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({
      PORT: '8080',
      HOST: ' 127.0.0.1 ',
      PUBLIC_URL: 'https://hooks.example.com/',
      DATABASE_URL: 'postgres://u@db/hookflow',
      TEMPORAL_ADDRESS: 'temporal:7233',
      HOOKFLOW_ROLES: 'worker, api',
      HOOKFLOW_SECRET_KEY: key,
      HOOKFLOW_EGRESS_ALLOW: '10.0.0.0/8, internal.example',
    });
    expect(c.host).toBe('127.0.0.1');
    expect(c.publicUrl).toBe('https://hooks.example.com');
    expect(c.roles).toEqual(['worker', 'api']);
    expect(c.secretKey).toEqual(Buffer.alloc(32, 7));
    expect(c.egressAllow).toEqual(['10.0.0.0/8', 'internal.example']);
  });

  it('names every bad variable in one error', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        HOST: 'http://0.0.0.0',
        PUBLIC_URL: 'ftp://x',
        DATABASE_URL: 'mysql://x',
        TEMPORAL_ADDRESS: 'nohost',
        HOOKFLOW_ROLES: 'api,cron',
        HOOKFLOW_SECRET_KEY: 'c2hvcnQ=',
        LOG_LEVEL: 'loud',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const named = error!.problems.map((p) => p.split(':')[0]).sort();
    expect(named).toEqual(
      [
        'DATABASE_URL',
        'HOOKFLOW_ROLES',
        'HOOKFLOW_SECRET_KEY',
        'HOST',
        'LOG_LEVEL',
        'PORT',
        'PUBLIC_URL',
        'TEMPORAL_ADDRESS',
      ].sort(),
    );
  });

  it('reads the task queues a worker serves (HOOKFLOW_WORKER_QUEUES), defaulting to the main queue', () => {
    expect(loadConfig({}).temporal.workerQueues).toEqual(['hookflow']);
    expect(loadConfig({ TEMPORAL_TASK_QUEUE: 'main' }).temporal.workerQueues).toEqual(['main']);
    expect(
      loadConfig({ HOOKFLOW_WORKER_QUEUES: 'plugins-untrusted, hookflow,plugins-untrusted' }).temporal
        .workerQueues,
    ).toEqual(['plugins-untrusted', 'hookflow']);
    expect(() => loadConfig({ HOOKFLOW_WORKER_QUEUES: 'ok,not ok' })).toThrow(
      /HOOKFLOW_WORKER_QUEUES.*task queue names use letters, digits/,
    );
  });

  it.each(['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost', 'hookflow-api'])(
    'listens on HOST=%s',
    (host) => {
      expect(loadConfig({ HOST: host }).host).toBe(host);
    },
  );

  it.each(['', '  '])('listens on every IPv4 interface when HOST is empty (%p)', (host) => {
    expect(loadConfig({ HOST: host }).host).toBe('0.0.0.0');
  });

  it.each(['0.0.0.0:3000', 'http://localhost', 'two words', '-bad'])('refuses HOST=%s', (host) => {
    expect(() => loadConfig({ HOST: host })).toThrow(/HOST: must be an IP address/);
  });

  it('requires a secret key with an external database', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@db/x' })).toThrow(
      /HOOKFLOW_SECRET_KEY: is required/,
    );
  });

  it('stops the process at start with the message, before touching anything', () => {
    const r = spawnSync(process.execPath, [path.resolve(__dirname, '../../dist/src/main.js')], {
      env: { PATH: process.env.PATH, PORT: '-1', LOG_LEVEL: 'chatty' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toContain('PORT:');
    expect(r.stderr).toContain('LOG_LEVEL:');
  });
});
