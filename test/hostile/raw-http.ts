/** A bare HTTP/1.1 client on node:net, for what fetch refuses to send: lying lengths, raw bytes, stalls. */
import net from 'node:net';

export type RawResponse = { status: number; headers: Record<string, string>; body: string };

export type RawReply = {
  /** Every response read, interim 1xx ones included, in order. */
  responses: RawResponse[];
  /** The status of the last final (non-1xx) response, or 0 when none came. */
  status: number;
  /** Its body parsed as JSON, when it is JSON. */
  json: any;
  /** The server ended or reset the connection. */
  closed: boolean;
  bytesSent: number;
  elapsedMs: number;
};

/**
 * What to send, in order: bytes, a pause, or the same bytes over and over (an endless body) until an answer
 * arrives, the connection closes or `forMs` passed.
 */
export type RawStep = string | Buffer | { pauseMs: number } | { repeat: Buffer; forMs: number };

export type RawOptions = {
  /** Give up after this long (the reply then has what arrived so far). */
  timeoutMs?: number;
  /** How many final responses to wait for (pipelined requests); default 1. */
  answers?: number;
  /** Wait for the server to close the connection, not only for the answers. */
  untilClosed?: boolean;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where the body that starts at `start` ends, or -1 when it has not fully arrived yet. */
function bodyEnd(
  data: Buffer,
  start: number,
  status: number,
  headers: Record<string, string>,
  closed: boolean,
  toHead: boolean,
) {
  if (toHead || status < 200 || status === 204 || status === 304) return start;
  if (headers['content-length']) {
    const end = start + Number(headers['content-length']);
    return end <= data.length ? end : -1;
  }
  if (headers['transfer-encoding'] === 'chunked') {
    if (data.subarray(start, start + 5).toString() === '0\r\n\r\n') return start + 5;
    const last = data.indexOf('\r\n0\r\n\r\n', start);
    return last < 0 ? -1 : last + 7;
  }
  return closed ? data.length : -1;
}

/** The complete responses in `data`; `toHead`: they answer HEAD requests, so they have no body. */
export function parseResponses(data: Buffer, closed: boolean, toHead = false): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const last = bodyEnd(data, end + 4, status, headers, closed, toHead);
    if (last < 0) break;
    responses.push({ status, headers, body: data.subarray(end + 4, last).toString('utf8') });
    at = last;
  }
  return responses;
}

export function rawExchange(port: number, steps: RawStep[], opts: RawOptions = {}): Promise<RawReply> {
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  let bytesSent = 0;
  let closed = false;
  let answered = false;
  const toHead = String(steps[0] ?? '').startsWith('HEAD ');

  const responses = () => parseResponses(Buffer.concat(received), closed, toHead);
  const finalCount = () => responses().filter((r) => r.status >= 200).length;

  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.timeoutMs ?? 15_000);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.on('data', (chunk) => {
      received.push(chunk);
      answered = finalCount() >= (opts.answers ?? 1);
      if (answered && !opts.untilClosed) finish();
    });
    socket.on('error', () => undefined); // a reset shows as `closed`
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });

  const write = (bytes: string | Buffer) =>
    new Promise<void>((resolve) => {
      if (closed || socket.destroyed) return resolve();
      bytesSent += Buffer.byteLength(bytes);
      // Resolves once the kernel took the bytes; a peer that stopped reading makes it wait (bounded by the loop).
      socket.write(bytes, () => resolve());
    });

  const send = async () => {
    await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', resolve));
    for (const step of steps) {
      if (closed || answered) break;
      if (typeof step === 'string' || Buffer.isBuffer(step)) await write(step);
      else if ('pauseMs' in step) await sleep(step.pauseMs);
      else {
        const until = performance.now() + step.forMs;
        while (!closed && !answered && performance.now() < until) {
          await Promise.race([write(step.repeat), sleep(50)]);
        }
      }
    }
  };

  const sending = send();
  return done.then(async () => {
    socket.destroy(); // also ends a write the server never read
    await sending;
    const all = responses();
    const final = all.findLast((r) => r.status >= 200);
    let json: unknown;
    try {
      json = final ? JSON.parse(final.body) : undefined;
    } catch {
      json = undefined;
    }
    return {
      responses: all,
      status: final?.status ?? 0,
      json,
      closed,
      bytesSent,
      elapsedMs: performance.now() - started,
    };
  });
}

/** A request head (request line and headers, CRLF-terminated) for `path` on the test app. */
export function head(method: string, path: string, headers: Record<string, string | string[]>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** One chunk of a chunked body; an empty buffer is the last chunk. */
export const chunk = (data: string | Buffer): Buffer => {
  const bytes = Buffer.from(data);
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
};
