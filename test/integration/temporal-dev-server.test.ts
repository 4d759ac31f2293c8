import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import {
  cachedCliPath,
  findTemporalCli,
  TEMPORAL_CLI_VERSION,
  TemporalCliError,
} from '../../src/temporal/cli';
import { TemporalDevServer, type DevServerLogLevel } from '../../src/temporal/dev-server';

let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'hookflow-temporal-'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('findTemporalCli', () => {
  const log = () => undefined;

  async function fakeBinary(file: string, mode = 0o755): Promise<string> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '#!/bin/sh\necho fake temporal\n', { mode });
    return file;
  }

  it('rejects an explicit cliPath that does not exist, naming the path', async () => {
    const bad = path.join(tmp, 'no-such-dir', 'temporal');
    const err = await findTemporalCli({ cliPath: bad, log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliError);
    expect(err).toMatchObject({ code: 'TEMPORAL_CLI_INVALID_PATH' });
    expect((err as Error).message).toContain(bad);
    expect((err as Error).message).toMatch(
      /does not exist.*TEMPORAL_CLI_PATH|TEMPORAL_CLI_PATH.*does not exist/s,
    );
  });

  it('rejects an explicit cliPath that is not executable or is a directory', async () => {
    const file = await fakeBinary(path.join(tmp, 'not-exec', 'temporal'), 0o644);
    await expect(findTemporalCli({ cliPath: file, log })).rejects.toThrow(/is not executable/);
    await expect(findTemporalCli({ cliPath: tmp, log })).rejects.toThrow(/is not a file/);
  });

  it('prefers PATH, then the versioned cache', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const cached = await fakeBinary(path.join(cacheDir, `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal'));
    expect(cached).toBe(cachedCliPath(cacheDir));
    expect(await findTemporalCli({ cacheDir, searchPath: '', log })).toBe(cached);

    const onPath = await fakeBinary(path.join(tmp, 'bin', 'temporal'));
    const searchPath = [path.join(tmp, 'empty'), path.dirname(onPath)].join(path.delimiter);
    expect(await findTemporalCli({ cacheDir, searchPath, log })).toBe(onPath);
  });

  it('explains the options when nothing is found and Go is missing or installing is off', async () => {
    const cacheDir = path.join(tmp, 'empty-cache');
    const noGo = findTemporalCli({ cacheDir, searchPath: '', log });
    await expect(noGo).rejects.toMatchObject({ code: 'TEMPORAL_CLI_NOT_FOUND' });
    await expect(noGo).rejects.toThrow(
      /Go is not installed[\s\S]*TEMPORAL_CLI_PATH[\s\S]*PATH[\s\S]*install Go/,
    );
    await expect(findTemporalCli({ cacheDir, searchPath: '', install: false, log })).rejects.toThrow(
      /installing is disabled/,
    );
    await expect(fs.stat(cacheDir)).rejects.toThrow(); // nothing was created
  });
});

describe('TemporalDevServer', () => {
  let server: TemporalDevServer | undefined;

  afterEach(async () => {
    await server?.stop();
  });

  async function describeWorkflow(address: string, namespace: string, workflowId: string) {
    const connection = await Connection.connect({ address, connectTimeout: 5_000 });
    try {
      return await new Client({ connection, namespace }).workflow.getHandle(workflowId).describe();
    } finally {
      await connection.close();
    }
  }

  function portOpen(address: string): Promise<boolean> {
    const [host, port] = address.split(':');
    return new Promise((resolve) => {
      const socket = net.connect({ host, port: Number(port) });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
  }

  it('restarts a killed child on the same port with the same db file, and stop() leaves nothing running', async () => {
    const cliPath =
      process.env.TEST_TEMPORAL_CLI_PATH ?? (await findTemporalCli({ install: false, log: () => undefined }));
    const logs: { level: DevServerLogLevel; msg: string }[] = [];
    const namespace = 'hookflow-dev-server-test';
    server = new TemporalDevServer({
      cliPath,
      namespace,
      dbFile: path.join(tmp, 'data', 'temporal.db'),
      log: (level, msg) => logs.push({ level, msg }),
    });

    await server.start();
    const address = server.address;
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(logs.some((l) => l.level === 'info' && l.msg.includes('ready at'))).toBe(true);

    // A workflow with no worker stays RUNNING; it must survive the restart through the db file.
    const workflowId = `dev-server-test-${Date.now()}`;
    const connection = await Connection.connect({ address });
    await new Client({ connection, namespace }).workflow.start('neverPolled', {
      taskQueue: 'no-worker-here',
      workflowId,
    });
    await connection.close();

    const firstPid = server.pid!;
    expect(firstPid).toBeGreaterThan(0);
    process.kill(firstPid, 'SIGKILL');

    const deadline = Date.now() + 30_000;
    let description;
    while (!description && Date.now() < deadline) {
      await sleep(250);
      if (server.restarts < 1 || server.pid === undefined) continue;
      description = await describeWorkflow(address, namespace, workflowId).catch(() => undefined);
    }
    expect(description?.status.name).toBe('RUNNING');
    expect(server.address).toBe(address);
    expect(server.restarts).toBe(1);
    const secondPid = server.pid!;
    expect(secondPid).not.toBe(firstPid);
    expect(
      logs.some((l) => l.level === 'warn' && /exited unexpectedly \(killed by SIGKILL\)/.test(l.msg)),
    ).toBe(true);

    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(() => process.kill(secondPid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await sleep(1_500); // longer than the first restart backoff: no restart after stop()
    expect(server.pid).toBeUndefined();
    expect(server.restarts).toBe(1);
    expect(await portOpen(address)).toBe(false);
  }, 120_000);

  it('start() fails clearly and cleans up when the port is taken', async () => {
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      server = new TemporalDevServer({
        cliPath: process.env.TEST_TEMPORAL_CLI_PATH!,
        namespace: 'default',
        port,
        readyTimeoutMs: 20_000,
        log: () => undefined,
      });
      await expect(server.start()).rejects.toThrow(/exited during startup|did not become ready/);
      expect(server.pid).toBeUndefined();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 60_000);
});
