import { createHash } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { z } from 'zod';
import {
  PermanentError,
  isPermanentError,
  testAction,
  type ConnectFunction,
  type Logger,
} from '@hookflow/sdk';
import plugin, { MAX_RECIPIENTS, smtpCredentialSchema, transportOptions, type SmtpCredential } from '../src';
import { createEgressConnect } from '../../../src/plugins-host/egress';
import { parseRaw, smtpReply, startSmtpServer, type TestSmtpServer } from './smtp-test-server';

// The test servers listen on loopback, which the egress policy refuses unless HOOKFLOW_EGRESS_ALLOW lists it.
const localConnect = createEgressConnect({ allow: ['127.0.0.1'] });
const transportContext = { connect: localConnect, signal: new AbortController().signal };

const SENDER = 'noreply@hookflow.test';
const PASSWORD = 'correct-horse-battery-staple';

type LogEntry = { level: string; msg: string; data?: Record<string, unknown> };

function capturingLogger(entries: LogEntry[]): Logger {
  const at =
    (level: string) =>
    (msg: string, data?: Record<string, unknown>): void => {
      entries.push({ level, msg, data });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function credentialFor(server: TestSmtpServer, extra: Record<string, unknown> = {}) {
  return { host: '127.0.0.1', port: server.port, security: 'NONE', from: `Hookflow <${SENDER}>`, ...extra };
}

const baseInput = { to: 'ada@example.com', subject: 'Hello', text: 'Hi Ada' };

function send(
  server: TestSmtpServer,
  input: Record<string, unknown>,
  options: {
    credential?: Record<string, unknown>;
    idempotencyKey?: string;
    signal?: AbortSignal;
    logger?: Logger;
    connect?: ConnectFunction;
  } = {},
) {
  return testAction(plugin, 'send', {
    input,
    connect: options.connect ?? localConnect,
    credential: options.credential ?? credentialFor(server),
    idempotencyKey: options.idempotencyKey ?? 'run-1:notify',
    signal: options.signal,
    logger: options.logger,
  });
}

/** The settled rejection of `promise` (fails the test when it resolves). */
async function failureOf(promise: Promise<unknown>): Promise<Error & { details?: any }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { details?: any };
  }
  throw new Error('expected the send to fail');
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('email plugin definition', () => {
  it('is the "email" plugin with a "send" action that needs an "smtp" credential', () => {
    expect(plugin.name).toBe('email');
    expect(Object.keys(plugin.actions)).toEqual(['send']);
    expect(Object.keys(plugin.credentials)).toEqual(['smtp']);
    expect(plugin.actions.send.credential).toBe('smtp');
    expect(plugin.actions.send.displayName).toBe('Send Email');
  });

  it('describes its schemas as JSON Schema, marking only the password as secret', () => {
    const credential = z.toJSONSchema(smtpCredentialSchema, { io: 'input', unrepresentable: 'any' }) as any;
    expect(credential.properties.host.secret).toBe(false);
    expect(credential.properties.user.secret).toBe(false);
    expect(credential.properties.from.secret).toBe(false);
    expect(credential.properties.password.secret).toBeUndefined();
    expect(credential.properties.security.enum).toEqual(['TLS', 'STARTTLS', 'NONE']);
    expect(credential.required).toEqual(expect.arrayContaining(['host', 'from']));

    const input = z.toJSONSchema(plugin.actions.send.input, { io: 'input', unrepresentable: 'any' }) as any;
    expect(input.properties.to.anyOf).toEqual([
      { type: 'string' },
      { type: 'array', items: { type: 'string' } },
    ]);
    expect(input.required).toEqual(expect.arrayContaining(['to', 'subject']));
    expect(() => z.toJSONSchema(plugin.actions.send.output)).not.toThrow();
  });

  it('defaults the credential to STARTTLS with certificate checks', () => {
    expect(smtpCredentialSchema.parse({ host: 'smtp.example.com', from: SENDER })).toEqual({
      host: 'smtp.example.com',
      from: SENDER,
      security: 'STARTTLS',
      rejectUnauthorized: true,
    });
  });

  it.each([
    ['TLS', { secure: true, requireTLS: false, ignoreTLS: false, port: 465 }],
    ['STARTTLS', { secure: false, requireTLS: true, ignoreTLS: false, port: 587 }],
    ['NONE', { secure: false, requireTLS: false, ignoreTLS: true, port: 25 }],
  ])('maps security %s to the nodemailer connection options', (security, expected) => {
    const credential = smtpCredentialSchema.parse({ host: 'smtp.example.com', from: SENDER, security });
    expect(transportOptions(credential, transportContext)).toMatchObject({
      ...expected,
      host: 'smtp.example.com',
      tls: { rejectUnauthorized: true },
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    expect(transportOptions(credential, transportContext).auth).toBeUndefined();
  });

  it('passes the port, the login and rejectUnauthorized: false through', () => {
    const credential: SmtpCredential = smtpCredentialSchema.parse({
      host: 'relay.internal',
      port: 2525,
      security: 'STARTTLS',
      user: 'mailer',
      password: PASSWORD,
      from: SENDER,
      rejectUnauthorized: false,
    });
    expect(transportOptions(credential, transportContext)).toMatchObject({
      port: 2525,
      auth: { user: 'mailer', pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
  });
});

describe('sending through a plain SMTP server', () => {
  let server: TestSmtpServer;
  beforeEach(async () => {
    server = await startSmtpServer();
  });
  afterEach(() => server.close());

  it('delivers the envelope, the headers and both bodies', async () => {
    const logs: LogEntry[] = [];
    const output = await send(
      server,
      {
        to: 'ada@example.com, "Hopper, Grace" <grace@example.com>',
        cc: ['alan@example.org'],
        bcc: 'hidden@example.net',
        replyTo: 'Support <support@hookflow.test>',
        subject: 'Welcome aboard',
        text: 'Plain welcome text',
        html: '<p>HTML <b>welcome</b></p>',
        headers: { 'X-Campaign': 'welcome-1' },
      },
      { logger: capturingLogger(logs) },
    );

    const expectedId = `<${sha256('run-1:notify')}@hookflow.test>`;
    expect(output).toEqual({
      messageId: expectedId,
      accepted: ['ada@example.com', 'grace@example.com', 'alan@example.org', 'hidden@example.net'],
      rejected: [],
      response: '250 OK: queued as test',
    });

    expect(server.received).toHaveLength(1);
    const mail = server.received[0]!;
    expect(mail.mailFrom).toBe(SENDER);
    expect(mail.rcptTo).toEqual([
      'ada@example.com',
      'grace@example.com',
      'alan@example.org',
      'hidden@example.net',
    ]);
    expect(mail.secure).toBe(false);

    const { headers, body } = parseRaw(mail.raw);
    expect(headers.get('from')).toEqual([`Hookflow <${SENDER}>`]);
    expect(headers.get('to')).toEqual(['ada@example.com, "Hopper, Grace" <grace@example.com>']);
    expect(headers.get('cc')).toEqual(['alan@example.org']);
    expect(headers.has('bcc')).toBe(false);
    expect(mail.raw).not.toContain('hidden@example.net');
    expect(headers.get('reply-to')).toEqual(['Support <support@hookflow.test>']);
    expect(headers.get('subject')).toEqual(['Welcome aboard']);
    expect(headers.get('message-id')).toEqual([expectedId]);
    expect(headers.get('x-campaign')).toEqual(['welcome-1']);
    expect(headers.get('content-type')?.[0]).toMatch(/^multipart\/alternative;/);
    expect(body).toContain('Content-Type: text/plain');
    expect(body).toContain('Plain welcome text');
    expect(body).toContain('Content-Type: text/html');
    expect(body).toContain('<p>HTML <b>welcome</b></p>');

    expect(logs).toEqual([
      {
        level: 'info',
        msg: 'email sent',
        data: { target: `127.0.0.1:${server.port}`, messageId: expectedId, accepted: 4 },
      },
    ]);
  });

  it('sends a text-only message as text/plain and an html-only one as text/html', async () => {
    await send(server, { to: 'ada@example.com', subject: 'Text', text: 'only text' });
    await send(server, { to: 'ada@example.com', subject: 'HTML', html: '<i>only html</i>' });
    expect(server.received.map((m) => parseRaw(m.raw).headers.get('content-type')?.[0])).toEqual([
      expect.stringMatching(/^text\/plain/),
      expect.stringMatching(/^text\/html/),
    ]);
    expect(parseRaw(server.received[0]!.raw).body).toContain('only text');
    expect(parseRaw(server.received[1]!.raw).body).toContain('<i>only html</i>');
  });

  it('encodes a non-ASCII subject and display name instead of sending raw bytes', async () => {
    await send(server, { ...baseInput, to: 'Zoë Ångström <zoe@example.com>', subject: 'Grüße 👋' });
    const { headers } = parseRaw(server.received[0]!.raw);
    expect(headers.get('subject')![0]).toMatch(/^=\?UTF-8\?[BQ]\?/);
    expect(headers.get('to')![0]).toMatch(/^=\?UTF-8\?[BQ]\?.*\?= <zoe@example\.com>$/);
  });

  it('uses the "from" override for the envelope, the From header and the Message-ID domain', async () => {
    const output = await send(server, { ...baseInput, from: 'Billing <billing@Example.ORG>' });
    const mail = server.received[0]!;
    expect(mail.mailFrom).toBe('billing@example.org'); // nodemailer normalizes the domain
    expect(parseRaw(mail.raw).headers.get('from')).toEqual(['Billing <billing@example.org>']);
    expect(output.messageId).toBe(`<${sha256('run-1:notify')}@example.org>`);
  });

  it('repeats the Message-ID for the same idempotency key and changes it for another', async () => {
    const first = await send(server, baseInput, { idempotencyKey: 'run-7:mail' });
    const retry = await send(server, baseInput, { idempotencyKey: 'run-7:mail' });
    const other = await send(server, baseInput, { idempotencyKey: 'run-8:mail' });
    expect(retry.messageId).toBe(first.messageId);
    expect(other.messageId).not.toBe(first.messageId);
    const ids = server.received.map((m) => parseRaw(m.raw).headers.get('message-id')![0]);
    expect(ids).toEqual([first.messageId, first.messageId, other.messageId]);
  });

  it('succeeds when only some recipients are rejected, listing them', async () => {
    await server.close();
    server = await startSmtpServer({
      onRcptTo(address, _session, callback) {
        callback(address.address === 'gone@example.com' ? smtpReply(550, 'No such user') : null);
      },
    });
    const logs: LogEntry[] = [];
    const output = await send(
      server,
      { ...baseInput, to: ['ada@example.com', 'gone@example.com'] },
      { logger: capturingLogger(logs) },
    );
    expect(output.accepted).toEqual(['ada@example.com']);
    expect(output.rejected).toEqual(['gone@example.com']);
    expect(server.received.map((m) => m.rcptTo)).toEqual([['ada@example.com']]);
    expect(logs.map((l) => [l.level, l.msg])).toEqual([['warn', 'some recipients were rejected']]);
  });
});

describe('input and credential validation (nothing is sent)', () => {
  let server: TestSmtpServer;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(() => server.close());

  it.each<[string, Record<string, unknown>, string]>([
    ['no body', { to: 'ada@example.com', subject: 'Hi' }, 'text: needs a body: give "text", "html" or both'],
    ['empty bodies', { ...baseInput, text: '', html: '' }, 'text: needs a body'],
    [
      'an invalid recipient',
      { ...baseInput, to: 'ada@example.com, not-an-address' },
      'to: address 2 of 2 is not a valid email address',
    ],
    [
      'an invalid cc in a list',
      { ...baseInput, cc: ['ok@example.com', 'a@b'] },
      'cc[1]: address is not a valid email address',
    ],
    ['no recipient', { ...baseInput, to: ' ' }, 'to: needs at least one email address'],
    [
      'a line break in the subject',
      { ...baseInput, subject: 'Hi\r\nBcc: evil@example.com' },
      'subject: must not contain line breaks',
    ],
    [
      'a bare LF in the subject',
      { ...baseInput, subject: 'Hi\nthere' },
      'subject: must not contain line breaks',
    ],
    [
      'a line break in "to"',
      { ...baseInput, to: 'ada@example.com\r\nBcc: evil@example.com' },
      'to: must not contain line breaks',
    ],
    [
      'a line break in "replyTo"',
      { ...baseInput, replyTo: ['x@example.com\nX-Evil: 1'] },
      'replyTo[0]: must not contain line breaks',
    ],
    [
      'a line break in "from"',
      { ...baseInput, from: 'a@example.com\r\nBcc: evil@example.com' },
      'from: must not contain line breaks',
    ],
    [
      'two senders',
      { ...baseInput, from: 'a@example.com, b@example.com' },
      'from: must be exactly one email address',
    ],
    [
      'a NUL in the subject',
      { ...baseInput, subject: 'Hi\u0000' },
      'subject: must not contain control characters',
    ],
    [
      'a non-X- header',
      { ...baseInput, headers: { Bcc: 'evil@example.com' } },
      'headers.Bcc: custom headers must be named X-…',
    ],
    [
      'a header that replaces routing',
      { ...baseInput, headers: { 'Content-Type': 'text/html' } },
      'headers.Content-Type: custom headers must be named X-…',
    ],
    [
      'a header name with a colon',
      { ...baseInput, headers: { 'X-A: b\r\nBcc': 'x' } },
      'headers: custom headers must be named X-…',
    ],
    [
      'a line break in a header value',
      { ...baseInput, headers: { 'X-Tag': 'a\r\nBcc: evil@example.com' } },
      'headers.X-Tag: must not contain line breaks',
    ],
    [
      'a "to" that is not text',
      { ...baseInput, to: 42 },
      'to: must be an email address, a comma-separated list of them or an array of them',
    ],
    ['a missing "to"', { subject: 'Hi', text: 'x' }, 'to: must be an email address'],
    [
      'two addresses without a comma',
      { ...baseInput, to: 'ada@example.com grace@example.com' },
      'to: address has an "@" in its display name (separate addresses with commas)',
    ],
    [
      'an array longer than the recipient limit',
      { ...baseInput, bcc: Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => `b${i}@example.com`) },
      `bcc: at most ${MAX_RECIPIENTS} addresses`,
    ],
    [
      'too many custom headers',
      { ...baseInput, headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v'])) },
      'headers: at most 20 custom headers',
    ],
    [
      'too many recipients',
      {
        ...baseInput,
        to: Array.from({ length: 60 }, (_, i) => `u${i}@example.com`),
        bcc: Array.from({ length: 41 }, (_, i) => `b${i}@example.com`),
      },
      `to: at most ${MAX_RECIPIENTS} recipients in to, cc and bcc together (got 101)`,
    ],
  ])('refuses %s', async (_name, input, message) => {
    const err = await failureOf(send(server, input));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('invalid input for email.send: ');
    expect(err.message).toContain(message);
    expect(server.connections).toBe(0);
    expect(server.received).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a password without a user', { password: PASSWORD }, 'password: user and password go together'],
    ['a user without a password', { user: 'mailer' }, 'password: user and password go together'],
    ['a host with a path', { host: 'smtp.example.com/x' }, 'host: must be a host name or an IP address'],
    [
      'a host with a scheme',
      { host: 'smtp://smtp.example.com' },
      'host: must be a host name or an IP address',
    ],
    ['port 0', { port: 0 }, 'port: '],
    ['an unknown security mode', { security: 'SSL' }, 'security: '],
    ['an invalid sender', { from: 'Hookflow' }, 'from: address is not a valid email address'],
  ])('refuses a credential with %s', async (_name, extra, message) => {
    const err = await failureOf(send(server, baseInput, { credential: credentialFor(server, extra) }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('invalid "smtp" credential for email.send: ');
    expect(err.message).toContain(message);
    expect(err.message).not.toContain(PASSWORD);
    expect(server.connections).toBe(0);
    expect(server.received).toEqual([]);
  });
});

describe('authentication', () => {
  let server: TestSmtpServer;
  beforeEach(async () => {
    server = await startSmtpServer({
      authOptional: false,
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: true, // NONE mode: the test server is plain text
      onAuth(auth, _session, callback) {
        if (auth.username === 'mailer' && auth.password === PASSWORD)
          return callback(null, { user: 'mailer' });
        callback(new Error('Invalid username or password'));
      },
    });
  });
  afterEach(() => server.close());

  it('logs in with the credential and sends', async () => {
    await send(server, baseInput, {
      credential: credentialFor(server, { user: 'mailer', password: PASSWORD }),
    });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.user).toBe('mailer');
  });

  it('fails permanently on a wrong password, without revealing it', async () => {
    const wrong = 'wrong-password-1234';
    const logs: LogEntry[] = [];
    const err = await failureOf(
      send(server, baseInput, {
        credential: credentialFor(server, { user: 'mailer', password: wrong }),
        logger: capturingLogger(logs),
      }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      `authentication with 127.0.0.1:${server.port} failed: Invalid login: 535 Invalid username or password (EAUTH)`,
    );
    expect(err.details).toEqual({ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' });
    expect(err.cause).toBeUndefined();
    const everything = JSON.stringify({ message: err.message, details: err.details, stack: err.stack, logs });
    for (const leak of [wrong, Buffer.from(`\u0000mailer\u0000${wrong}`).toString('base64')]) {
      expect(everything).not.toContain(leak);
    }
    expect(server.received).toEqual([]);
  });

  it('retries a temporary authentication failure (454)', async () => {
    await server.close();
    server = await startSmtpServer({
      authOptional: false,
      authMethods: ['PLAIN'],
      allowInsecureAuth: true,
      onAuth: (_auth, _session, callback) => callback(smtpReply(454, 'Temporary authentication failure')),
    });
    const err = await failureOf(
      send(server, baseInput, { credential: credentialFor(server, { user: 'mailer', password: PASSWORD }) }),
    );
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toBe(
      `authentication with 127.0.0.1:${server.port} failed: Invalid login: 454 Temporary authentication failure (EAUTH)`,
    );
    expect(server.received).toEqual([]);
  });

  it('fails permanently when the server requires a login the credential lacks', async () => {
    const err = await failureOf(send(server, baseInput));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('530 Error: authentication Required');
    expect(err.details).toMatchObject({ code: 'EENVELOPE', responseCode: 530, command: 'MAIL FROM' });
    expect(server.received).toEqual([]);
  });
});

describe('server refusals and broken connections', () => {
  let server: TestSmtpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('fails permanently when every recipient is rejected (550)', async () => {
    server = await startSmtpServer({
      onRcptTo: (_address, _session, callback) => callback(smtpReply(550, 'Mailbox unavailable')),
    });
    const err = await failureOf(send(server, { ...baseInput, to: 'a@example.com, b@example.com' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      `127.0.0.1:${server.port} rejected every recipient (2): Can't send mail - all recipients were rejected: 550 Mailbox unavailable (EENVELOPE)`,
    );
    expect(err.details).toMatchObject({
      code: 'EENVELOPE',
      responseCode: 550,
      rejected: ['a@example.com', 'b@example.com'],
    });
    expect(server.received).toEqual([]);
  });

  it('fails permanently when the message is refused after DATA (554)', async () => {
    server = await startSmtpServer({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(smtpReply(554, 'Message looks like spam')));
      },
    });
    const err = await failureOf(send(server, baseInput));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('Message failed: 554 Message looks like spam (EMESSAGE)');
    expect(err.details).toMatchObject({ code: 'EMESSAGE', responseCode: 554, command: 'DATA' });
  });

  it('retries a temporary refusal after DATA (451)', async () => {
    server = await startSmtpServer({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(smtpReply(451, 'Greylisted, try again later')));
      },
    });
    const err = await failureOf(send(server, baseInput));
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toBe(
      `sending through 127.0.0.1:${server.port} failed: Message failed: 451 Greylisted, try again later (EMESSAGE)`,
    );
  });

  it('retries a temporarily rejected recipient (450)', async () => {
    server = await startSmtpServer({
      onRcptTo: (_address, _session, callback) => callback(smtpReply(450, 'Mailbox busy')),
    });
    const err = await failureOf(send(server, baseInput));
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toContain('450 Mailbox busy');
  });

  it('retries when the server is too busy to talk (421 greeting), naming the reply code only', async () => {
    server = await startSmtpServer({
      onConnect: (_session, callback) => callback(smtpReply(421, 'Too many connections')),
    });
    const err = await failureOf(send(server, baseInput));
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toMatch(
      new RegExp(`^sending through 127\\.0\\.0\\.1:${server.port} failed: .*\\(reply 421\\)`),
    );
    expect(err.message).not.toContain('Too many connections');
  });

  it('retries when the server drops the connection during the envelope', async () => {
    const dropping: { server?: TestSmtpServer } = {};
    server = dropping.server = await startSmtpServer({
      onRcptTo: () => dropping.server!.dropConnections(),
    });
    const err = await failureOf(send(server, baseInput));
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toBe(
      `sending through 127.0.0.1:${server.port} failed: Connection closed unexpectedly (ECONNECTION)`,
    );
    expect(server.received).toEqual([]);
  });

  it('retries a connection dropped after the data was sent, with the same Message-ID', async () => {
    const seen: string[] = [];
    const state: { server?: TestSmtpServer; drop: boolean } = { drop: true };
    server = state.server = await startSmtpServer({
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          seen.push(parseRaw(Buffer.concat(chunks).toString()).headers.get('message-id')![0]!);
          if (state.drop) state.server!.dropConnections();
          else callback(null, 'OK: queued');
        });
      },
    });
    const err = await failureOf(send(server, baseInput, { idempotencyKey: 'run-9:mail' }));
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toContain('ECONNECTION');

    state.drop = false;
    const output = await send(server, baseInput, { idempotencyKey: 'run-9:mail' });
    expect(seen).toEqual([output.messageId, output.messageId]);
  });

  it('retries when nothing listens on the port', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const err = await failureOf(
      testAction(plugin, 'send', {
        input: baseInput,
        credential: { host: '127.0.0.1', port, security: 'NONE', from: SENDER },
        connect: localConnect,
      }),
    );
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toBe(
      `sending through 127.0.0.1:${port} failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });
});

describe('TLS', () => {
  // smtp-server's built-in certificate is self-signed (and expired): the certificate checks must refuse it.
  let server: TestSmtpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('upgrades with STARTTLS when the certificate checks are off', async () => {
    server = await startSmtpServer();
    await send(server, baseInput, {
      credential: credentialFor(server, { security: 'STARTTLS', rejectUnauthorized: false }),
    });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.secure).toBe(true);
  });

  it("fails permanently on STARTTLS when the server's certificate does not verify", async () => {
    server = await startSmtpServer();
    const err = await failureOf(
      send(server, baseInput, { credential: credentialFor(server, { security: 'STARTTLS' }) }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(
      new RegExp(
        `^the TLS connection to 127\\.0\\.0\\.1:${server.port} failed \\(check the security mode and port, or the server certificate\\): .*\\((CERT_HAS_EXPIRED|DEPTH_ZERO_SELF_SIGNED_CERT)\\)$`,
      ),
    );
    expect(server.received).toEqual([]);
  });

  it('fails permanently in STARTTLS mode when the server cannot upgrade, instead of sending in plain text', async () => {
    server = await startSmtpServer({ disabledCommands: ['STARTTLS'] });
    const err = await failureOf(
      send(server, baseInput, {
        credential: credentialFor(server, { security: 'STARTTLS', rejectUnauthorized: false }),
      }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('Error upgrading connection with STARTTLS');
    expect(err.details).toMatchObject({ code: 'ETLS', command: 'STARTTLS' });
    expect(server.received).toEqual([]);
  });

  it('stays in plain text in NONE mode although the server offers STARTTLS', async () => {
    server = await startSmtpServer();
    await send(server, baseInput);
    expect(server.received[0]!.secure).toBe(false);
  });

  it('speaks TLS from the first byte in TLS mode', async () => {
    server = await startSmtpServer({ secure: true });
    await send(server, baseInput, {
      credential: credentialFor(server, { security: 'TLS', rejectUnauthorized: false }),
    });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]!.secure).toBe(true);
  });

  it('fails permanently in TLS mode against a plain-text port', async () => {
    server = await startSmtpServer();
    const err = await failureOf(
      send(server, baseInput, {
        credential: credentialFor(server, { security: 'TLS', rejectUnauthorized: false }),
      }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('(ERR_SSL_WRONG_VERSION_NUMBER)');
    expect(server.received).toEqual([]);
  });
});

describe('cancellation', () => {
  let server: TestSmtpServer;
  const holding: Array<() => void> = [];
  beforeEach(async () => {
    server = await startSmtpServer({
      // Never answers the end of DATA until the test is over.
      onData(stream, _session, callback) {
        stream.resume();
        holding.push(() => callback(null, 'late'));
      },
    });
  });
  afterEach(async () => {
    await server.close();
    holding.length = 0;
  });

  it('closes the connection and rejects with the abort reason when the step is cancelled', async () => {
    const controller = new AbortController();
    const sending = send(server, baseInput, { signal: controller.signal });
    while (holding.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const reason = new Error('step cancelled');
    controller.abort(reason);
    const err = await failureOf(sending);
    expect(err).toBe(reason);
    expect(server.received).toEqual([]);
  });

  it('does not connect when the signal is already aborted', async () => {
    const err = await failureOf(
      send(server, baseInput, { signal: AbortSignal.abort(new Error('too late')) }),
    );
    expect(err.message).toBe('too late');
    expect(server.connections).toBe(0);
  });
});

/** A TCP service that is not an SMTP server: it writes `banner` on connect and answers every line with `reply`. */
async function startFakeService(banner: string, reply?: string) {
  const state = { connections: 0 };
  const service = net.createServer((socket) => {
    state.connections++;
    socket.on('error', () => {});
    socket.write(banner);
    if (reply !== undefined) socket.on('data', () => socket.write(reply));
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  return {
    port: (service.address() as AddressInfo).port,
    state,
    close: () => new Promise<void>((resolve) => service.close(() => resolve())),
  };
}

describe('egress policy: the SMTP connection is opened by ctx.connect', () => {
  let server: TestSmtpServer;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.received.length = 0;
  });

  const strict = createEgressConnect();

  it.each<[host: string, target: string, reason: RegExp]>([
    ['127.0.0.1', '127.0.0.1', /egress blocked: 127\.0\.0\.1 — loopback address$/],
    ['127.0.0.2', '127.0.0.2', /egress blocked: 127\.0\.0\.2 — loopback address$/],
    ['localhost', 'localhost', /egress blocked: localhost — loopback host name$/],
    ['::1', '[::1]', /egress blocked: ::1 — loopback address$/],
    ['::ffff:127.0.0.1', '[::ffff:127.0.0.1]', /IPv4-mapped address of 127\.0\.0\.1 \(loopback address\)$/],
    ['10.20.30.40', '10.20.30.40', /egress blocked: 10\.20\.30\.40 — private network \(RFC 1918\)$/],
    ['192.168.1.25', '192.168.1.25', /private network/],
    ['169.254.169.254', '169.254.169.254', /cloud metadata endpoint$/],
    ['2130706433', '2130706433', /egress blocked: 2130706433 resolves to 127\.0\.0\.1 — loopback address$/],
  ])('refuses %s before connecting, unless HOOKFLOW_EGRESS_ALLOW lists it', async (host, target, reason) => {
    const err = await failureOf(
      send(server, baseInput, { credential: credentialFor(server, { host }), connect: strict }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(new RegExp(`^sending through ${escape(target)}:${server.port} failed: `));
    expect(err.message).toMatch(reason);
    expect(server.connections).toBe(0);
    expect(server.received).toEqual([]);
  });

  it('refuses a host name that resolves to a private address, before connecting', async () => {
    const resolvesPrivate = createEgressConnect({
      resolve: async () => [{ address: '10.0.0.5', family: 4 }],
    });
    const err = await failureOf(
      send(server, baseInput, {
        credential: credentialFor(server, { host: 'smtp.internal.example' }),
        connect: resolvesPrivate,
      }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      `sending through smtp.internal.example:${server.port} failed: egress blocked: smtp.internal.example resolves to 10.0.0.5 — private network (RFC 1918)`,
    );
    expect(server.connections).toBe(0);
  });

  it('sends through a loopback server that HOOKFLOW_EGRESS_ALLOW lists (by CIDR, or a host name by name)', async () => {
    await send(server, baseInput, { connect: createEgressConnect({ allow: ['127.0.0.0/8'] }) });
    const byName = createEgressConnect({
      allow: ['mail.internal.example'],
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    await send(server, baseInput, {
      credential: credentialFor(server, { host: 'mail.internal.example' }),
      connect: byName,
    });
    expect(server.received).toHaveLength(2);
  });

  it('never connects to a refused service, so nothing it would say reaches the error', async () => {
    const banner = '+OK internal-cache ready, build 7f3e secret-banner\r\n';
    const service = await startFakeService(banner);
    try {
      const err = await failureOf(
        send(server, baseInput, {
          credential: credentialFor(server, { host: '127.0.0.1', port: service.port }),
          connect: strict,
        }),
      );
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.message).toBe(
        `sending through 127.0.0.1:${service.port} failed: egress blocked: 127.0.0.1 — loopback address`,
      );
      expect(service.state.connections).toBe(0);
    } finally {
      await service.close();
    }
  });

  it.each<[what: string, banner: string, reply: string | undefined, expected: RegExp]>([
    ['a banner that is no SMTP greeting', '+OK cache-7f3e secret-banner\r\n', undefined, /Invalid greeting/],
    [
      'a greeting-like banner, then refusals of EHLO and HELO',
      '220 ftp-7f3e secret-banner\r\n',
      '500 secret-banner: command not understood\r\n',
      /Invalid HELO \(reply 500\)/,
    ],
  ])(
    'does not echo what an allowed peer that is no SMTP server sent: %s',
    async (_what, banner, reply, expected) => {
      const service = await startFakeService(banner, reply);
      try {
        const err = await failureOf(
          send(server, baseInput, {
            credential: credentialFor(server, { host: '127.0.0.1', port: service.port }),
          }),
        );
        expect(err.message).toMatch(new RegExp(`^sending through 127\\.0\\.0\\.1:${service.port} failed: `));
        expect(err.message).toMatch(expected);
        expect(service.state.connections).toBe(1);
        const everything = JSON.stringify({ message: err.message, details: err.details, stack: err.stack });
        expect(everything).not.toContain('secret-banner');
        expect(everything).not.toContain('7f3e');
      } finally {
        await service.close();
      }
    },
  );
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
