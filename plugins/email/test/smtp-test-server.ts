import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** One message the server accepted, with the session facts a test checks. */
export type ReceivedMail = {
  mailFrom: string;
  rcptTo: string[];
  raw: string;
  secure: boolean;
  user: unknown;
};

export type TestSmtpServer = {
  port: number;
  server: SMTPServer;
  /** Messages accepted (250 after DATA). */
  received: ReceivedMail[];
  /** Connections opened by clients. */
  connections: number;
  /** Ends every client connection without an SMTP reply, as a crashed server would. */
  dropConnections(): void;
  close(): Promise<void>;
};

/** An SMTP error reply for the smtp-server callbacks. */
export function smtpReply(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

/**
 * A real smtp-server on 127.0.0.1 (random port) that keeps every accepted message. Options
 * override the defaults (no auth, no reverse lookups, silent); an `onData` given here replaces
 * the recording one.
 */
export async function startSmtpServer(options: SMTPServerOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const state = { connections: 0 };
  const record = (raw: string, session: SMTPServerSession) =>
    received.push({
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      raw,
      secure: session.secure,
      user: session.user,
    });
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    onConnect(_session, callback) {
      state.connections++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        record(Buffer.concat(chunks).toString('utf8'), session);
        callback(null, 'OK: queued as test');
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    server,
    received,
    get connections() {
      return state.connections;
    },
    dropConnections() {
      for (const connection of server.connections) connection._socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of server.connections) connection._socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Headers of a raw message by lower-case name (folded lines joined), and the body after them. */
export function parseRaw(raw: string): { headers: Map<string, string[]>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string[]>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { headers, body: raw.slice(split + 4) };
}
