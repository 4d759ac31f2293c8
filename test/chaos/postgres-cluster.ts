/**
 * A PostgreSQL cluster of the chaos suite's own: `initdb` in a temp dir, served by `pg_ctl` on a free port of
 * 127.0.0.1 (no Unix socket outside that dir), stopped and started at will, and removed when its scope closes
 * or the process exits. Run as the `postgres` user when the suite runs as root (the server refuses root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../src/temporal/dev-server';
import type { Scope } from '../bench/scope';

const run = promisify(execFile);
const COMMAND_TIMEOUT_MS = 60_000;

export type PgCluster = {
  port: number;
  url(database: string): string;
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl stop -m fast`: sessions are cut, the server is gone when it resolves. */
  stop(): Promise<void>;
  start(): Promise<void>;
};

/** The newest server's bin dir under /usr/lib/postgresql (or PG_BIN). */
function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(`${root}/${v}/bin/initdb`))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root} (set PG_BIN)`);
  return `${root}/${newest}/bin`;
}

/** uid/gid of the postgres user when we are root, else nothing (run as ourselves). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPgCluster(scope: Scope, log: (msg: string) => void): Promise<PgCluster> {
  const bin = binDir();
  const user = serverUser();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hookflow-chaos-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const pgCtl = (...args: string[]) =>
    run(`${bin}/pg_ctl`, ['-D', data, '-w', '-t', '60', ...args], { ...user, timeout: COMMAND_TIMEOUT_MS });
  const removeNow = () => {
    try {
      execFileSync(`${bin}/pg_ctl`, ['-D', data, '-m', 'immediate', 'stop'], { ...user, stdio: 'ignore' });
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', removeNow); // however the suite ends
  scope.defer('PostgreSQL cluster', dir, async () => {
    await pgCtl('-m', 'fast', 'stop').catch(() => undefined);
    removeNow();
    process.removeListener('exit', removeNow);
  });

  await run(`${bin}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
    ...user,
    timeout: COMMAND_TIMEOUT_MS,
  });
  // Five app processes with pools of 20, the dispatchers' listeners and the suite's own connections.
  appendFileSync(
    path.join(data, 'postgresql.conf'),
    `\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nmax_connections = 300\n`,
  );
  const cluster: PgCluster = {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: cluster.url('postgres') });
      await admin.connect();
      try {
        await admin.query(`create database ${name}`);
      } finally {
        await admin.end();
      }
      return cluster.url(name);
    },
    stop: async () => void (await pgCtl('-m', 'fast', 'stop')),
    start: async () => void (await pgCtl('-l', path.join(dir, 'server.log'), 'start')),
  };
  await cluster.start();
  log(`PostgreSQL (${path.basename(path.dirname(bin))}) at 127.0.0.1:${port}, cluster in ${dir}`);
  return cluster;
}
