import { createTransport } from 'nodemailer';
import { PermanentError, type ActionContext } from '@hookflow/sdk';
import { parseSingleMailbox, type Mailbox } from './addresses';
import type { SmtpCredential } from './credential';
import { messageIdFor } from './message-id';
import type { ParsedSendInput, SendOutput } from './send-schema';
import { toActionError } from './smtp-errors';
import { targetOf, transportOptions } from './transport';

function senderOf(input: ParsedSendInput, credential: SmtpCredential): Mailbox {
  const parsed = parseSingleMailbox(input.from ?? credential.from);
  // Both were validated by their schemas; this only guards against a caller that skipped them.
  if ('problem' in parsed) throw new PermanentError(`invalid sender: ${parsed.problem}`);
  return parsed.mailbox;
}

/** What would reveal the password in a message: itself and the AUTH PLAIN token (scrubbed in base64 too). */
function secretsOf(credential: SmtpCredential): string[] {
  if (credential.password === undefined) return [];
  return [credential.password, `\u0000${credential.user ?? ''}\u0000${credential.password}`];
}

function cancelled(signal: AbortSignal, target: string): Error {
  const reason: unknown = signal.reason;
  const isErrorLike =
    typeof reason === 'object' && reason !== null && typeof (reason as Error).message === 'string';
  return isErrorLike ? (reason as Error) : new Error(`sending through ${target} was cancelled`);
}

/** Sends one message over a fresh SMTP connection, closed when done or when `ctx.signal` aborts. */
export async function sendEmail(
  ctx: ActionContext<SmtpCredential>,
  input: ParsedSendInput,
): Promise<SendOutput> {
  const credential = ctx.credential;
  if (!credential) throw new PermanentError('email.send needs an "smtp" credential');
  const target = targetOf(credential);
  if (ctx.signal.aborted) throw cancelled(ctx.signal, target);

  const from = senderOf(input, credential);
  const messageId = messageIdFor(ctx.idempotencyKey, from.address);
  const transport = createTransport(transportOptions(credential, ctx));
  const closeOnAbort = () => transport.close();
  ctx.signal.addEventListener('abort', closeOnAbort, { once: true });
  try {
    const info = await transport.sendMail({
      from,
      to: input.to,
      cc: input.cc,
      bcc: input.bcc,
      replyTo: input.replyTo,
      subject: input.subject,
      text: input.text,
      html: input.html,
      headers: input.headers,
      messageId,
      signal: ctx.signal,
    });
    const accepted = info.accepted.map(String);
    const rejected = info.rejected.map(String);
    if (rejected.length) {
      ctx.logger.warn('some recipients were rejected', {
        target,
        messageId,
        accepted: accepted.length,
        rejected: rejected.length,
      });
    } else ctx.logger.info('email sent', { target, messageId, accepted: accepted.length });
    return { messageId: info.messageId, accepted, rejected, response: info.response };
  } catch (err) {
    if (ctx.signal.aborted) throw cancelled(ctx.signal, target);
    throw toActionError(err, target, secretsOf(credential));
  } finally {
    ctx.signal.removeEventListener('abort', closeOnAbort);
    transport.close();
  }
}
