import type { ActionContext } from '@hookflow/sdk';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { DEFAULT_PORTS, type SmtpCredential } from './credential';

export const CONNECTION_TIMEOUT_MS = 15_000;
export const GREETING_TIMEOUT_MS = 15_000;
/** Inactivity limit once connected (a slow server answering the end of DATA included). */
export const SOCKET_TIMEOUT_MS = 60_000;
export const DNS_TIMEOUT_MS = 15_000;

export function portOf(credential: SmtpCredential): number {
  return credential.port ?? DEFAULT_PORTS[credential.security];
}

/** `host:port`, for messages (never the user or the password). */
export function targetOf(credential: SmtpCredential): string {
  const host = credential.host.includes(':') ? `[${credential.host}]` : credential.host;
  return `${host}:${portOf(credential)}`;
}

/**
 * nodemailer's hook for opening the connection. Left to itself, nodemailer resolves and connects on its
 * own, past the egress policy; here `ctx.connect` opens the socket (nodemailer then speaks SMTP and TLS over it).
 */
function egressSocket(
  credential: SmtpCredential,
  ctx: Pick<ActionContext, 'connect' | 'signal'>,
): SMTPTransportOptions['getSocket'] {
  return (_options, callback) => {
    ctx
      .connect(credential.host, portOf(credential), { signal: ctx.signal, timeoutMs: CONNECTION_TIMEOUT_MS })
      .then(
        (socket) => callback(null, { connection: socket }),
        (err: Error) => callback(err, undefined),
      );
  };
}

/** nodemailer options for one send: a fresh, unpooled connection per message, opened by `ctx.connect`. */
export function transportOptions(
  credential: SmtpCredential,
  ctx: Pick<ActionContext, 'connect' | 'signal'>,
): SMTPTransportOptions {
  const mode = credential.security;
  return {
    getSocket: egressSocket(credential, ctx),
    host: credential.host,
    port: portOf(credential),
    secure: mode === 'TLS',
    requireTLS: mode === 'STARTTLS',
    ignoreTLS: mode === 'NONE',
    auth:
      credential.user !== undefined ? { user: credential.user, pass: credential.password ?? '' } : undefined,
    tls: { rejectUnauthorized: credential.rejectUnauthorized },
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    dnsTimeout: DNS_TIMEOUT_MS,
    // The message is built from strings only; never let nodemailer read files or fetch URLs for it.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  };
}
