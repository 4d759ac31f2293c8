import { PermanentError, isPermanentError } from '@hookflow/sdk';

/** The fields of a nodemailer error this plugin reads (duck-typed: nothing else is trusted). */
type SmtpFailure = {
  message: string;
  /** What the server sent with the failure (nodemailer also appends it to the message). */
  response?: string;
  code?: string;
  originalCode?: string;
  responseCode?: number;
  permanent?: boolean;
  command?: string;
  rejected?: string[];
};

/** Failures that no retry can fix although the server sent no reply code (bad setup, bad message). */
const PERMANENT_CODES = new Set([
  'EAUTH', // missing credentials or an authentication method the server lacks
  'ENOAUTH',
  'ECONFIG',
  'EENVELOPE', // nodemailer refused the sender or a recipient before sending
  'EMESSAGE', // larger than the server's SIZE limit
  'EMAXRECIPIENTS',
  'EREQUIRETLS',
  'EFILEACCESS',
  'EURLACCESS',
]);

/** TLS errors that come from the server's certificate or the chosen mode, not from the network. */
const TLS_SETUP_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER', // TLS mode against a plain port (or the other way round)
]);

function asFailure(err: unknown): SmtpFailure {
  if (typeof err !== 'object' || err === null) return { message: String(err) };
  const e = err as Record<string, unknown>;
  const text = (key: string) => (typeof e[key] === 'string' ? (e[key] as string) : undefined);
  return {
    message: text('message') ?? String(err),
    response: text('response'),
    code: text('code'),
    originalCode: text('originalCode'),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    permanent: typeof e.permanent === 'boolean' ? e.permanent : undefined,
    command: text('command'),
    rejected: Array.isArray(e.rejected) ? e.rejected.filter((r) => typeof r === 'string') : undefined,
  };
}

/** RFC 5321: 5yz is a permanent refusal, except 503 (bad sequence), which a new session can fix. */
function isPermanentReply(responseCode: number): boolean {
  return responseCode >= 500 && responseCode < 600 && responseCode !== 503;
}

function isPermanent(failure: SmtpFailure): boolean {
  if (failure.responseCode !== undefined) return failure.permanent ?? isPermanentReply(failure.responseCode);
  if (failure.originalCode && TLS_SETUP_CODES.has(failure.originalCode)) return true;
  return failure.code !== undefined && PERMANENT_CODES.has(failure.code);
}

function headline(failure: SmtpFailure, target: string): string {
  if (failure.code === 'EAUTH' || failure.code === 'ENOAUTH') return `authentication with ${target} failed`;
  if (failure.code === 'EENVELOPE' && failure.rejected?.length)
    return `${target} rejected every recipient (${failure.rejected.length})`;
  if (failure.originalCode && TLS_SETUP_CODES.has(failure.originalCode)) {
    return `the TLS connection to ${target} failed (check the security mode and port, or the server certificate)`;
  }
  return `sending through ${target} failed`;
}

/** Commands of the session set-up, where the peer may not be an SMTP server at all. */
const SETUP_COMMANDS = new Set(['CONN', 'EHLO', 'HELO', 'LHLO', 'STARTTLS']);

/** nodemailer's own words from a message that ends with what the server sent ("Invalid greeting. response=…: …"). */
function withoutServerText(message: string, serverText: string): string {
  let own = message.endsWith(`: ${serverText}`) ? message.slice(0, -(serverText.length + 2)) : message;
  const marker = own.indexOf(' response=');
  if (marker !== -1) own = own.slice(0, marker);
  own = own.replace(/[\s.:]+$/, '');
  const leftover = serverText.trim() !== '' && own.includes(serverText.trim());
  return leftover || own === '' ? 'the server answered something unexpected' : own;
}

/**
 * The failure in words. What the server sent is kept for replies to the mail commands (535, 550…), which
 * tell the user what to fix. During the set-up it is dropped, reply code aside: the peer may be some other
 * service, and its banner or answer must not end up in the step's stored error.
 */
function failureText(failure: SmtpFailure): string {
  const message = failure.message.trim();
  const duringSetup = failure.command === undefined || SETUP_COMMANDS.has(failure.command);
  if (!failure.response || !duringSetup) return message;
  const own = withoutServerText(message, failure.response);
  return failure.responseCode !== undefined ? `${own} (reply ${failure.responseCode})` : own;
}

/** Replaces each secret (and its base64 forms, as sent by AUTH PLAIN/LOGIN) in `text`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const needle of [secret, Buffer.from(secret).toString('base64')]) {
      out = out.split(needle).join('[redacted]');
    }
  }
  return out;
}

/**
 * Turns a nodemailer failure into what the host understands: PermanentError for refusals a
 * retry cannot fix (5xx replies such as 535 authentication failed or 550 recipient rejected,
 * bad setup, untrusted certificates), a plain Error (retried) for the rest: 4xx replies,
 * refused/dropped connections, timeouts. The message names the server, the reply and the code,
 * never the credential's password (`secrets` are scrubbed) nor what a peer sent during the set-up, and
 * no cause is attached. A refusal by the egress policy (`ctx.connect`) stays permanent.
 */
export function toActionError(err: unknown, target: string, secrets: readonly string[]): Error {
  const failure = asFailure(err);
  if (isPermanentError(err))
    return new PermanentError(`sending through ${target} failed: ${failure.message}`);
  const code = failure.originalCode ?? failure.code;
  const reason = scrubSecrets(failureText(failure), secrets);
  const message = `${headline(failure, target)}: ${reason}${code && !reason.includes(code) ? ` (${code})` : ''}`;
  if (!isPermanent(failure)) return new Error(message);
  return new PermanentError(message, {
    details: {
      code: failure.code,
      ...(failure.originalCode ? { originalCode: failure.originalCode } : {}),
      ...(failure.responseCode !== undefined ? { responseCode: failure.responseCode } : {}),
      ...(failure.command ? { command: failure.command } : {}),
      ...(failure.rejected ? { rejected: failure.rejected } : {}),
    },
  });
}
