import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type SlackRequest = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

/** A scripted answer: status, JSON (or raw text) body, headers; `destroy` closes the socket instead. */
export type Scripted = {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  /** Post the message, then destroy the socket without answering (the answer is lost). */
  destroyAfterPosting?: boolean;
};

export type PostedMessage = { channel: string; ts: string; text?: string; blocks?: unknown };

export const BOT_TOKEN = 'xoxb-1111-2222-abcdefghijklmnop';
export const KNOWN_CHANNELS: Record<string, string> = {
  C0123456789: 'C0123456789',
  '#general': 'C0GENERAL01',
};

/**
 * A local stand-in for the Slack Web API (`/api/chat.postMessage`) that behaves as Slack documents:
 * Bearer token auth, JSON bodies, `ok: true|false` envelopes with HTTP 200. Tests script other answers.
 */
export async function startFakeSlack() {
  const requests: SlackRequest[] = [];
  const messages: PostedMessage[] = [];
  const scripted: Scripted[] = [];
  let seq = 0;

  const post = (
    body: Record<string, unknown>,
  ): { ok: true; channel: string; ts: string; message: unknown } => {
    const channel = KNOWN_CHANNELS[body.channel as string]!;
    seq += 1;
    const ts = `1712345678.${String(seq).padStart(6, '0')}`;
    const message: PostedMessage = {
      channel,
      ts,
      ...(body.text !== undefined ? { text: body.text as string } : {}),
      ...(body.blocks !== undefined ? { blocks: body.blocks } : {}),
    };
    messages.push(message);
    return {
      ok: true,
      channel,
      ts,
      message: {
        type: 'message',
        subtype: 'bot_message',
        user: 'U0BOT00001',
        bot_id: 'B0BOT00001',
        ts,
        ...(body.text !== undefined ? { text: body.text } : {}),
        ...(body.blocks !== undefined ? { blocks: body.blocks } : {}),
        ...(body.thread_ts !== undefined ? { thread_ts: body.thread_ts } : {}),
      },
    };
  };

  /** What Slack answers when nothing is scripted. */
  const answer = (req: SlackRequest): { json: unknown } => {
    if (req.headers.authorization === undefined) return { json: { ok: false, error: 'not_authed' } };
    if (req.headers.authorization !== `Bearer ${BOT_TOKEN}`)
      return { json: { ok: false, error: 'invalid_auth' } };
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return { json: { ok: false, error: 'invalid_json' } };
    }
    if (typeof body.channel !== 'string' || !(body.channel in KNOWN_CHANNELS)) {
      return { json: { ok: false, error: 'channel_not_found' } };
    }
    if (body.text === undefined && body.blocks === undefined)
      return { json: { ok: false, error: 'no_text' } };
    return { json: post(body) };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured: SlackRequest = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(captured);
      if (captured.url !== '/api/chat.postMessage') {
        res.writeHead(404, { 'content-type': 'text/html' });
        return res.end('<html>Not Found</html>');
      }
      const next = scripted.shift();
      if (next?.destroyAfterPosting) {
        answer(captured);
        return req.socket.destroy();
      }
      const reply = next ?? answer(captured);
      const status = next?.status ?? 200;
      const headers = { ...next?.headers };
      if (reply.json !== undefined) {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        return res.end(JSON.stringify(reply.json));
      }
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(next?.text ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/api`,
    port,
    requests,
    messages,
    /** Answers the next requests with these, in order, instead of behaving like Slack. */
    script: (...answers: Scripted[]) => scripted.push(...answers),
    reset: () => {
      requests.length = 0;
      messages.length = 0;
      scripted.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FakeSlack = Awaited<ReturnType<typeof startFakeSlack>>;
