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

/** nodemailer options for one send: a fresh, unpooled connection per message. */
export function transportOptions(credential: SmtpCredential): SMTPTransportOptions {
  const mode = credential.security;
  return {
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
