/**
 * Temporal's own server (not the CLI dev server) on a PostgreSQL database of its own, with several history shards:
 * for benchmarks, and for operators who want to try the production engine on one machine.
 *
 * The server and its SQL schema tool are built once with `go install` into `~/.cache/hookflow/temporal-server-<v>/`,
 * next to a copy of the PostgreSQL schema, so later runs need no Go. Every start drops and recreates the two
 * databases (`<prefix>` and `<prefix>_visibility`, PostgreSQL ≥ 13), writes a config into a temp dir and runs all
 * four services (frontend, history, matching, worker) in one process bound to 127.0.0.1.
 *
 * `node dist/test/bench/temporal-cluster.js start` (`npm run temporal:cluster`) runs it until SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import pg from 'pg';
import { freePort } from '../../src/temporal/dev-server';

export type TemporalCluster = { address: string; namespace: string; stop(): Promise<void> };

export interface TemporalClusterOptions {
  /** Default `TEST_PG_ADMIN_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`. */
  pgAdminUrl?: string;
  /** Default `hookflow_temporal`: databases `<prefix>` and `<prefix>_visibility`, recreated on every start. */
  databasePrefix?: string;
  /** numHistoryShards (default 4). */
  shards?: number;
  /** Progress lines. */
  log?: (msg: string) => void;
}

const SERVER_VERSION = 'v1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';
const HOST = '127.0.0.1';
const NAMESPACE = 'default';
const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 15_000;
const GRPC_ALREADY_EXISTS = 6;
/** Ringpop stores membership ports in a smallint column: they must be ≤ 32767, below Linux's ephemeral range. */
const MEMBERSHIP_PORT_RANGE = { min: 20_000, max: 32_767 };

type Service = (typeof SERVICES)[number];
type Ports = Record<Service, { grpc: number; membership: number }> & { frontendHttp: number };
type PgTarget = { host: string; port: number; user: string; password: string };

export async function startTemporalCluster(opts: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = opts.log ?? (() => undefined);
  const adminUrl =
    opts.pgAdminUrl ?? process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const prefix = opts.databasePrefix ?? 'hookflow_temporal';
  const shards = opts.shards ?? 4;
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`invalid databasePrefix "${prefix}"`);
  const started = Date.now();

  const binaries = await ensureTemporalServerBinaries(log);
  // Keyed by the schema folder each database gets.
  const databases = { temporal: prefix, visibility: `${prefix}_visibility` };
  log(`recreating databases ${databases.temporal} and ${databases.visibility} and their schemas`);
  await recreateDatabases(adminUrl, Object.values(databases));
  const target = pgTarget(adminUrl);
  const schemaDir = path.join(path.dirname(binaries.sqlTool), 'schema');
  for (const [schema, database] of Object.entries(databases)) {
    await setupSchema(binaries.sqlTool, target, database, path.join(schemaDir, schema, 'versioned'));
  }

  const ports = await choosePorts();
  const address = `${HOST}:${ports.frontend.grpc}`;
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'hookflow-temporal-cluster-'));
  await fs.mkdir(path.join(root, 'config'));
  // JSON is valid YAML, and the server's loader reads it as such.
  const config = serverConfig({ target, databases, shards, ports });
  await fs.writeFile(path.join(root, 'config', 'cluster.yaml'), JSON.stringify(config, null, 2));

  const server = spawnServer(binaries.server, root, log);
  const stop = async () => {
    await server.stop();
    await fs.rm(root, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(server, address, log);
  } catch (err) {
    await stop();
    throw err;
  }
  log(
    `Temporal server ${SERVER_VERSION} ready at ${address} (namespace ${NAMESPACE}, ${shards} history shards, ` +
      `PostgreSQL databases ${databases.temporal} + ${databases.visibility}) in ${seconds(started)}`,
  );
  return { address, namespace: NAMESPACE, stop };
}

// --- binaries --------------------------------------------------------------------------------------------

function cacheDir(): string {
  return path.join(os.homedir(), '.cache', 'hookflow', `temporal-server-${SERVER_VERSION}`);
}

/** Returns the cached server and sql tool, building them (and copying the schema) into the cache when missing. */
export async function ensureTemporalServerBinaries(
  log: (msg: string) => void = () => undefined,
): Promise<{ server: string; sqlTool: string }> {
  const dir = cacheDir();
  const binaries = { server: path.join(dir, 'server'), sqlTool: path.join(dir, 'sql') };
  if (await isCompleteCache(dir)) return binaries;
  await fs.rm(dir, { recursive: true, force: true }); // leftovers of an older or broken layout
  await buildIntoCache(dir, log);
  return binaries;
}

async function isCompleteCache(dir: string): Promise<boolean> {
  const required = ['server', 'sql', 'schema/temporal/versioned', 'schema/visibility/versioned'];
  const found = await Promise.all(required.map((p) => exists(path.join(dir, p))));
  return found.every(Boolean);
}

/** Builds into a temp dir next to the cache folder, then renames it into place (atomic on one filesystem). */
async function buildIntoCache(dir: string, log: (msg: string) => void): Promise<void> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const tmp = await fs.mkdtemp(`${dir}-build-`);
  const started = Date.now();
  log(
    `building Temporal server ${SERVER_VERSION} and its sql tool with go install into ${dir} ` +
      '(the first build takes a few minutes; later runs reuse the cache)',
  );
  const heartbeat = setInterval(
    () => log(`still building the Temporal server (${seconds(started)} elapsed)`),
    HEARTBEAT_MS,
  );
  try {
    const packages = ['cmd/server', 'cmd/tools/sql'].map((p) => `${SERVER_MODULE}/${p}@${SERVER_VERSION}`);
    await run('go', ['install', ...packages], { GOBIN: tmp });
    await copySchema(path.join(await moduleDir(), 'schema', 'postgresql', 'v12'), path.join(tmp, 'schema'));
    await fs.chmod(tmp, 0o755); // mkdtemp made it private
    await fs.rename(tmp, dir).catch(async (err: unknown) => {
      if (!(await isCompleteCache(dir))) throw err; // else a concurrent build won the race
    });
  } finally {
    clearInterval(heartbeat);
    await fs.rm(tmp, { recursive: true, force: true });
  }
  log(`Temporal server ${SERVER_VERSION} built in ${seconds(started)}`);
}

/** Where Go unpacked the server module (the schema files live there). */
async function moduleDir(): Promise<string> {
  const out = await run('go', ['mod', 'download', '-json', `${SERVER_MODULE}@${SERVER_VERSION}`]);
  return (JSON.parse(out) as { Dir: string }).Dir;
}

/** Copies the schema out of the read-only module cache, leaving the copy writable so the cache can be deleted. */
async function copySchema(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
  await fs.chmod(to, 0o755);
  for (const entry of await fs.readdir(to, { recursive: true, withFileTypes: true })) {
    await fs.chmod(path.join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644);
  }
}

// --- databases -----------------------------------------------------------------------------------------

async function recreateDatabases(adminUrl: string, names: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const name of names) {
      // FORCE: a server left over from an earlier run may still hold connections.
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.query(`create database ${name}`);
    }
  } finally {
    await admin.end();
  }
}

function pgTarget(adminUrl: string): PgTarget {
  const url = new URL(adminUrl);
  return {
    host: url.hostname || HOST,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

async function setupSchema(sqlTool: string, target: PgTarget, database: string, versionedDir: string) {
  const connect = ['--ep', target.host, '-p', String(target.port), '-u', target.user];
  const common = [...connect, '--db', database, '--plugin', 'postgres12'];
  const env = { SQL_PASSWORD: target.password }; // kept out of argv (visible in ps)
  await run(sqlTool, [...common, 'setup-schema', '-v', '0.0'], env);
  await run(sqlTool, [...common, 'update-schema', '-d', versionedDir], env);
}

// --- server ----------------------------------------------------------------------------------------------

async function choosePorts(): Promise<Ports> {
  const taken = new Set<number>();
  const distinct = async (pick: () => Promise<number>) => {
    for (;;) {
      const port = await pick();
      if (taken.has(port)) continue;
      taken.add(port);
      return port;
    }
  };
  // The frontend's HTTP API port also enables Nexus (without it the server warns at every start).
  const ports = { frontendHttp: await distinct(freePort) } as Ports;
  for (const service of SERVICES) {
    ports[service] = { grpc: await distinct(freePort), membership: await distinct(freeMembershipPort) };
  }
  return ports;
}

async function freeMembershipPort(): Promise<number> {
  const { min, max } = MEMBERSHIP_PORT_RANGE;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${min} and ${max}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

function serverConfig(o: {
  target: PgTarget;
  databases: { temporal: string; visibility: string };
  shards: number;
  ports: Ports;
}) {
  // Each service keeps its own pool per store; 4 × (10 + 2) stays well below PostgreSQL's default 100.
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${o.target.host}:${o.target.port}`,
      connectProtocol: 'tcp',
      user: o.target.user,
      password: o.target.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const services = SERVICES.map((service) => {
    const { grpc, membership } = o.ports[service];
    const httpPort = service === 'frontend' ? o.ports.frontendHttp : undefined;
    return [
      service,
      { rpc: { grpcPort: grpc, membershipPort: membership, httpPort, bindOnLocalHost: true } },
    ];
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: o.shards,
      datastores: { default: store(o.databases.temporal, 10), visibility: store(o.databases.visibility, 2) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: HOST } },
    services: Object.fromEntries(services),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `${HOST}:${o.ports.frontend.grpc}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
  };
}

type ServerProcess = { child: ChildProcess; output: string[]; stop(): Promise<void> };

function spawnServer(binary: string, root: string, log: (msg: string) => void): ServerProcess {
  const args = ['--root', root, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start'];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  let stopping = false;
  const onLine = (line: string) => {
    if (!line.trim()) return;
    output.push(line);
    if (output.length > 30) output.shift();
    if (!stopping && !line.includes('Loading config')) log(`temporal-server: ${formatLogLine(line)}`);
  };
  readline.createInterface({ input: child.stdout! }).on('line', onLine);
  readline.createInterface({ input: child.stderr! }).on('line', onLine);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  child.on('exit', (code, signal) => {
    process.removeListener('exit', killOnExit);
    if (!stopping) log(`Temporal server exited unexpectedly (${signal ?? `exit code ${code}`})`);
  });
  child.on('error', (err) => log(`could not run ${binary}: ${err.message}`));

  const stop = async () => {
    stopping = true;
    if (!isRunning(child)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  return { child, output, stop };
}

/** Waits for the frontend, registers the namespace and waits until a workflow can actually be started in it. */
async function waitUntilReady(server: ServerProcess, address: string, log: (msg: string) => void) {
  const started = Date.now();
  const deadline = started + READY_TIMEOUT_MS;
  const connection = Connection.lazy({ address, connectTimeout: 2_000 });
  const client = new Client({ connection, namespace: NAMESPACE });
  const steps: [string, () => Promise<unknown>][] = [
    ['frontend answers', () => connection.workflowService.getSystemInfo({})],
    ['namespace registered', () => registerNamespace(connection)],
    ['namespace described', () => connection.workflowService.describeNamespace({ namespace: NAMESPACE })],
    // Other services learn about a new namespace when their cache refreshes (every few seconds).
    ['probe workflow started', () => startProbeWorkflow(client)],
  ];
  try {
    for (const [name, step] of steps) {
      await retryUntil(deadline, server, address, name, () =>
        connection.withDeadline(Date.now() + 5_000, step),
      );
      log(`${name} (${seconds(started)} after spawn)`);
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function registerNamespace(connection: Connection): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace: NAMESPACE,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS)) throw err;
  }
}

async function startProbeWorkflow(client: Client): Promise<void> {
  const id = `hookflow-cluster-probe-${randomUUID()}`;
  const handle = await client.workflow.start('hookflowClusterProbe', { taskQueue: id, workflowId: id });
  await handle.terminate('readiness probe');
}

async function retryUntil(
  deadline: number,
  server: ServerProcess,
  address: string,
  name: string,
  attempt: () => Promise<unknown>,
): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!isRunning(server.child)) {
      throw new Error(`Temporal server exited during startup:\n${server.output.join('\n')}`);
    }
    try {
      await attempt();
      return;
    } catch (err) {
      lastError = err;
    }
    await sleep(500);
  }
  throw new Error(
    `Temporal server at ${address} not ready within ${READY_TIMEOUT_MS / 1000} s (waiting for: ${name}; ` +
      `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}):\n` +
      server.output.join('\n'),
  );
}

// --- helpers ---------------------------------------------------------------------------------------------

/** Runs a command to completion and returns its stdout; on failure the error carries the output's tail. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: os.tmpdir(), env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) =>
      reject(
        new Error(
          `could not run ${cmd}: ${err.message}` +
            (cmd === 'go' ? ' (Go is needed once to build the Temporal server: https://go.dev/dl/)' : ''),
        ),
      ),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(stdout);
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-20).join('\n');
      reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit code ${code}`}):\n${tail}`));
    });
  });
}

/** `level msg: error` from the server's JSON log lines (their stack traces are long); other lines as they are. */
function formatLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string } | null;
    if (!entry?.msg) return line;
    return `${entry.level} ${entry.msg}${entry.error ? `: ${entry.error}` : ''}`;
  } catch {
    return line;
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

// --- command line ----------------------------------------------------------------------------------------

async function main(command: string | undefined): Promise<void> {
  if (command !== 'start') {
    console.error('usage: node dist/test/bench/temporal-cluster.js start');
    process.exitCode = 2;
    return;
  }
  const cluster = await startTemporalCluster({ log: (msg) => console.error(msg) });
  console.log(`Temporal frontend: ${cluster.address}  namespace: ${cluster.namespace}`);
  // Only the server child keeps the event loop alive: if the loop runs dry, the server is gone.
  const serverGone = () => {
    process.exitCode = 1;
    void cluster.stop(); // removes the config dir
  };
  process.once('beforeExit', serverGone);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.removeListener('beforeExit', serverGone);
  console.error(`${signal}: stopping the Temporal server`);
  await cluster.stop();
}

if (require.main === module) {
  main(process.argv[2]).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
