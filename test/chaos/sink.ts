/**
 * The receiver the flow's `http.request` steps post to (`/chaos/<step>/<order id>`): records every request with
 * the Idempotency-Key the http plugin sends and whether its 200 answer reached the client (not when the worker
 * died first). On request it holds the next one for a while, so that a worker can be killed mid-request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type SinkRequest = {
  orderId: string;
  step: string;
  key: string;
  clientPort: number;
  /** Wall-clock time it arrived; when its answer was handed to the client (never, if the client hung up). */
  receivedAt: Date;
  answeredAt?: Date;
};

export class ChaosSink {
  readonly requests: SinkRequest[] = [];
  private holdNext?: { ms: number; held: (clientPort: number) => void };

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ChaosSink> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sink = new ChaosSink(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => void sink.handle(req, res));
    return sink;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const [, , step = '', orderId = ''] = (req.url ?? '').split('/');
    const key = String(req.headers['idempotency-key'] ?? '');
    const entry: SinkRequest = {
      orderId,
      step,
      key,
      clientPort: req.socket.remotePort ?? 0,
      receivedAt: new Date(),
    };
    this.requests.push(entry);
    let clientGone = false;
    res.once('close', () => (clientGone = !res.writableFinished)); // before the answer: the client hung up
    res.once('finish', () => !clientGone && (entry.answeredAt = new Date()));
    req.resume();
    await new Promise((resolve) => req.once('end', resolve).once('close', resolve));
    const hold = this.holdNext;
    if (hold) {
      this.holdNext = undefined;
      hold.held(entry.clientPort);
      await sleep(hold.ms);
    }
    if (clientGone || req.socket.destroyed) return; // the client is gone: nothing reaches it
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  }

  /** Holds the next request for ms; resolves with the client's port once one is held, or undefined in time. */
  async holdNextRequest(ms: number, timeoutMs: number): Promise<number | undefined> {
    const held = new Promise<number>((resolve) => (this.holdNext = { ms, held: resolve }));
    const port = await Promise.race([held, sleep(timeoutMs, undefined)]);
    this.holdNext = undefined;
    return port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
