/**
 * The local HTTP endpoint the flows' `http.request` steps post to. Step URLs end with the order id
 * (`/<flow>/<step>/<order_id>`), so the sink knows which run reached which step, and when: it keeps the first
 * receive time (performance.now() of this process) of every path. Retried steps arrive twice; only the first
 * arrival counts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

type Waiter = { prefix: string; target: number; seen: number; done: () => void };

export class Sink {
  /** path → first receive time */
  private readonly firstSeen = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Sink> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sink = new Sink(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const receivedAt = performance.now();
      req.resume();
      req.on('end', () => {
        sink.record(req.url ?? '/', receivedAt);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    return sink;
  }

  private record(path: string, receivedAt: number): void {
    if (this.firstSeen.has(path)) return;
    this.firstSeen.set(path, receivedAt);
    for (const waiter of this.waiters) {
      if (path.startsWith(waiter.prefix) && ++waiter.seen >= waiter.target) waiter.done();
    }
  }

  /** First receive times of the paths that start with prefix, keyed by the rest of the path. */
  received(prefix: string): Map<string, number> {
    const found = new Map<string, number>();
    for (const [path, at] of this.firstSeen)
      if (path.startsWith(prefix)) found.set(path.slice(prefix.length), at);
    return found;
  }

  /** Resolves true once `target` distinct paths under prefix arrived, false at the deadline or on abort. */
  async waitFor(
    prefix: string,
    target: number,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<boolean> {
    let done!: () => void;
    const reached = new Promise<void>((resolve) => (done = resolve));
    const waiter: Waiter = { prefix, target, seen: this.received(prefix).size, done };
    if (waiter.seen >= target) return true;
    this.waiters.add(waiter);
    const stopTimer = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stopTimer.signal]) : stopTimer.signal;
    try {
      return await Promise.race([
        reached.then(() => true),
        sleep(opts.timeoutMs, false, { signal }).catch(() => false),
      ]);
    } finally {
      stopTimer.abort();
      this.waiters.delete(waiter);
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
