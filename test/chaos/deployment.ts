/**
 * The multi-process deployment under test, built from dist/: the Temporal dev server (its own process, so it
 * can be restarted), then one api, two ingress and two worker processes on the chaos PostgreSQL. Processes
 * keep their port across restarts (senders and the load balancer know fixed addresses); one that exits by
 * itself is restarted like a supervisor would, and counted.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TemporalDevServer } from '../../src/temporal/dev-server';
import { startHookflow, type HookflowProcess } from '../bench/hookflow';
import { Scope } from '../bench/scope';
import { startDevServer } from '../bench/temporal';

type Slot = { name: string; roles: string; port?: number; proc?: HookflowProcess; planned: boolean };

const SLOTS = [
  { name: 'api', roles: 'api' },
  { name: 'ingress-1', roles: 'ingress' },
  { name: 'ingress-2', roles: 'ingress' },
  { name: 'worker-1', roles: 'worker' },
  { name: 'worker-2', roles: 'worker' },
];
const START_ATTEMPTS = 5;
const MAX_UNEXPECTED_RESTARTS = 10;

export class Deployment {
  /** Exits nobody asked for (each restarted), with the end of the process's output. */
  readonly unexpectedExits: string[] = [];
  private readonly slots = new Map<string, Slot>();
  private closing = false;

  private constructor(
    private readonly scope: Scope,
    private readonly log: (msg: string) => void,
    private readonly databaseUrl: string,
    readonly temporal: TemporalDevServer,
  ) {}

  /** Starts everything; the caller's scope stops it all. */
  static async start(outer: Scope, log: (msg: string) => void, databaseUrl: string): Promise<Deployment> {
    const scope = new Scope(log);
    const temporal = await startDevServer(scope, log);
    const deployment = new Deployment(scope, log, databaseUrl, temporal);
    outer.defer('deployment', deployment, (d) => d.stop());
    for (const slot of SLOTS) deployment.slots.set(slot.name, { ...slot, planned: false });
    await deployment.startSlot(deployment.slot('api')); // first: it migrates the empty database
    await Promise.all(SLOTS.slice(1).map((s) => deployment.startSlot(deployment.slot(s.name))));
    return deployment;
  }

  url(name: string): string {
    return this.slot(name).proc!.url;
  }

  pid(name: string): number {
    return this.slot(name).proc!.child.pid;
  }

  /** SIGKILL to the process group (no clean-up runs), then a new process on the same port. */
  async killAndRestart(name: string): Promise<void> {
    const slot = this.slot(name);
    slot.planned = true;
    const child = slot.proc!.child;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await child.exited;
    slot.planned = false;
    this.log(`${name}: killed (SIGKILL), restarting`);
    const started = performance.now();
    await this.startSlot(slot);
    this.log(`${name}: back after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  /** Stops Temporal (SIGTERM), keeps it down for downMs, starts it again on the same port and file. */
  async temporalOutage(downMs: number): Promise<void> {
    await this.temporal.stop();
    this.log(`Temporal stopped for ${downMs / 1000} s`);
    await sleep(downMs);
    await this.temporal.start();
    this.log('Temporal is back');
  }

  /** The process among `names` that owns the client end of a loopback TCP connection from `clientPort`. */
  ownerOfConnection(clientPort: number, names: string[]): string | undefined {
    const hexPort = `:${clientPort.toString(16).toUpperCase().padStart(4, '0')}`;
    const inodes = new Set<string>();
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields[1]?.endsWith(hexPort)) inodes.add(`socket:[${fields[9]}]`);
      }
    }
    return names.find((name) => {
      const fdDir = `/proc/${this.pid(name)}/fd`;
      return readdirSync(fdDir).some((fd) => {
        try {
          return inodes.has(readlinkSync(`${fdDir}/${fd}`));
        } catch {
          return false; // closed meanwhile
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.closing = true;
    await this.scope.close();
  }

  private slot(name: string): Slot {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no process ${name}`);
    return slot;
  }

  /** Starts (or restarts) a slot's process, retrying while what it needs at boot is away; then watches it. */
  private async startSlot(slot: Slot): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        slot.proc = await startHookflow(
          this.scope,
          slot.name,
          {
            roles: slot.roles,
            databaseUrl: this.databaseUrl,
            temporal: { address: this.temporal.address, namespace: 'default' },
            port: slot.port,
          },
          this.log,
        );
        break;
      } catch (err) {
        if (attempt >= START_ATTEMPTS || this.closing) throw err;
        this.log(`${slot.name}: start attempt ${attempt} failed (${(err as Error).message.split('\n')[0]})`);
        await sleep(3_000);
      }
    }
    slot.port = Number(new URL(slot.proc.url).port);
    const child = slot.proc.child;
    void child.exited.then(async (how) => {
      if (this.closing || slot.planned || slot.proc?.child !== child) return;
      const tail = `${child.stdout().slice(-1_500)}\n${child.stderrTail()}`.trim();
      this.unexpectedExits.push(`${slot.name} (${how}): ${tail}`);
      this.log(`${slot.name} exited by itself (${how}); restarting it:\n${tail}`);
      if (this.unexpectedExits.length <= MAX_UNEXPECTED_RESTARTS) await this.startSlot(slot).catch(() => {});
    });
  }
}
