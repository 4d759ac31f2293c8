import { defineAction, definePlugin, type ActionContext } from '@hookflow/sdk';
import { smtpCredential, type SmtpCredential } from './credential';
import { sendEmail } from './send';
import { sendInput, sendOutput } from './send-schema';

export { MAX_RECIPIENTS, type Mailbox } from './addresses';
export { DEFAULT_PORTS, SECURITY_MODES, smtpCredential, smtpCredentialSchema } from './credential';
export type { SecurityMode, SmtpCredential } from './credential';
export { messageIdFor } from './message-id';
export { sendEmail } from './send';
export { MAX_CUSTOM_HEADERS, MAX_HEADER_TEXT, sendInput, sendOutput } from './send-schema';
export type { ParsedSendInput, SendInput, SendOutput } from './send-schema';
export { toActionError } from './smtp-errors';
export {
  CONNECTION_TIMEOUT_MS,
  DNS_TIMEOUT_MS,
  GREETING_TIMEOUT_MS,
  SOCKET_TIMEOUT_MS,
  transportOptions,
} from './transport';

export const send = defineAction({
  displayName: 'Send Email',
  description:
    'Sends an email through an SMTP server. The Message-ID is derived from the step, so a retry repeats it. ' +
    'Authentication failures and 5xx refusals (such as every recipient rejected) fail the step; ' +
    'dropped connections, timeouts and 4xx answers are retried.',
  credential: 'smtp',
  input: sendInput,
  output: sendOutput,
  // 4xx answers (greylisting, rate limits) usually clear within minutes.
  retry: { maximumAttempts: 6, initialIntervalMs: 5_000, backoffCoefficient: 3, maximumIntervalMs: 600_000 },
  timeoutMs: 150_000,
  run: (ctx: ActionContext<SmtpCredential>, input) => sendEmail(ctx, input),
});

export const plugin = definePlugin({
  name: 'email',
  displayName: 'Email',
  description: 'Send email through any SMTP server or relay.',
  icon: 'mail',
  credentials: { smtp: smtpCredential },
  actions: { send },
});

export default plugin;
