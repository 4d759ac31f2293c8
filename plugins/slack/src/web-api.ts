import {
  DEFAULT_RETRY_AFTER_SECONDS,
  PermanentError,
  RateLimitedError,
  parseRetryAfter,
  type ActionContext,
  sendApiRequest,
  type ApiResponse,
} from '@hookflow/sdk';
import type { BotTokenCredential } from './credential';

const USER_AGENT = 'Hookflow-Slack/1';
const SNIPPET_CHARS = 300;

/** A successful Web API answer: `ok: true` and the method's fields. */
export type SlackOk = { ok: true } & Record<string, unknown>;

/** What a failed Web API answer carries besides `ok: false`. */
export type SlackFailure = {
  error: string;
  needed?: string;
  provided?: string;
  warning?: string;
  response_metadata?: { messages?: string[]; warnings?: string[] };
};

/** Slack's own rate-limit error codes (HTTP 429 carries `ratelimited`; chat.postMessage also has `rate_limited`). */
const RATE_LIMIT_ERRORS = new Set(['ratelimited', 'rate_limited']);

/** Transient failures on Slack's side; everything else in an `ok: false` answer is permanent. */
const RETRYABLE_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/** What to do about the common errors (the code itself is always in the message). */
const HINTS: Record<string, string> = {
  not_authed: 'no token was sent',
  invalid_auth: 'the token is not valid; check the bot token of the credential',
  account_inactive: 'the token belongs to a deleted app, user or workspace',
  token_revoked: 'the token was revoked; reinstall the Slack app and update the credential',
  token_expired: 'the token expired; use a bot token without token rotation',
  not_allowed_token_type: 'this method needs a bot token (xoxb-…)',
  missing_scope: 'the Slack app lacks a scope this call needs',
  no_permission: 'the app is not allowed to do this',
  access_denied: 'access to the channel or resource was denied',
  channel_not_found:
    'the channel does not exist or the app cannot see it; use the channel ID (C…) and invite the app to private channels',
  not_in_channel:
    'the app is not a member of the channel; invite it (/invite @your-app) or add the chat:write.public scope',
  is_archived: 'the channel is archived',
  msg_too_long: 'the message text is too long',
  no_text: 'the message needs text or blocks',
  invalid_blocks: 'the blocks are not valid Block Kit',
  invalid_blocks_format: 'blocks must be an array of Block Kit objects',
  too_many_attachments: 'too many attachments',
  restricted_action: 'a workspace setting keeps the app from posting in this channel',
  restricted_action_read_only_channel: 'the channel is read-only for the app',
  restricted_action_thread_only_channel: 'the channel only accepts replies in threads',
  restricted_action_non_threadable_channel: 'the channel does not accept replies in threads',
  restricted_action_thread_locked: 'the thread is locked',
  thread_reply_not_allowed: 'replies are not allowed in this thread',
  cannot_reply_to_message: 'the message given as thread_ts cannot have replies',
  ekm_access_denied: 'administrators have suspended posting (Enterprise Key Management)',
  team_access_not_granted: 'the token has no access to the workspace of the channel',
  invalid_arguments: 'Slack refused the arguments',
  invalid_charset: 'Slack could not read the request charset',
};

function snippet(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  return `: ${trimmed.length > SNIPPET_CHARS ? `${trimmed.slice(0, SNIPPET_CHARS)}…` : trimmed}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isEnvelope(value: unknown): value is { ok: boolean } & Record<string, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { ok?: unknown }).ok === 'boolean';
}

function retryAfterOf(raw: ApiResponse): number {
  return parseRetryAfter(raw.headers.get('retry-after')) ?? DEFAULT_RETRY_AFTER_SECONDS;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** The fields of an `ok: false` envelope this module uses, type-checked (Slack's answer is untrusted input). */
function toFailure(envelope: Record<string, unknown>): SlackFailure {
  const failure: SlackFailure = { error: String(envelope.error) };
  for (const key of ['needed', 'provided', 'warning'] as const) {
    if (typeof envelope[key] === 'string') failure[key] = envelope[key];
  }
  const metadata = envelope.response_metadata as Record<string, unknown> | null | undefined;
  if (metadata && typeof metadata === 'object') {
    const messages = strings(metadata.messages);
    const warnings = strings(metadata.warnings);
    if (messages.length || warnings.length) {
      failure.response_metadata = {
        ...(messages.length ? { messages } : {}),
        ...(warnings.length ? { warnings } : {}),
      };
    }
  }
  return failure;
}

/** `code (hint)` plus Slack's own explanations (`response_metadata.messages`, needed scopes). */
export function describeSlackError(failure: SlackFailure): string {
  const hint = HINTS[failure.error];
  let text = hint ? `${failure.error} (${hint})` : failure.error;
  if (failure.needed) text += `; needed scope: ${failure.needed}`;
  if (failure.provided) text += `; the token has: ${failure.provided}`;
  const messages = failure.response_metadata?.messages ?? [];
  if (messages.length) text += `; ${messages.join('; ')}`;
  return text;
}

/** Turns an `ok: false` answer into the error that tells the host how to proceed. */
export function slackError(method: string, failure: SlackFailure, raw: ApiResponse): Error {
  const message = `Slack ${method} failed: ${describeSlackError(failure)}`;
  if (RATE_LIMIT_ERRORS.has(failure.error)) return new RateLimitedError(message, retryAfterOf(raw));
  if (RETRYABLE_ERRORS.has(failure.error)) return new Error(message);
  return new PermanentError(message, { details: { status: raw.status, ...failure } });
}

/**
 * Calls one Slack Web API method with a JSON body and the bot token. Returns the `ok: true` answer;
 * throws RateLimitedError (HTTP 429 or a rate-limit code, with Retry-After), a retryable Error (5xx,
 * Slack's transient codes, network failures) or PermanentError (every other `ok: false` code, 4xx).
 */
export async function callWebApi(
  ctx: ActionContext<unknown>,
  credential: BotTokenCredential,
  method: string,
  args: Record<string, unknown>,
): Promise<SlackOk> {
  const what = `Slack ${method}`;
  const raw = await sendApiRequest(
    ctx,
    `${credential.baseUrl}/${method}`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${credential.token}`,
        'content-type': 'application/json; charset=utf-8',
        accept: 'application/json',
        'user-agent': USER_AGENT,
      },
      body: JSON.stringify(args),
    },
    what,
  );
  const body = parseJson(raw.text);
  const envelope = isEnvelope(body) ? body : undefined;

  if (raw.status === 429) {
    const code = typeof envelope?.error === 'string' ? `: ${envelope.error}` : '';
    throw new RateLimitedError(`${what} was rate limited (HTTP 429)${code}`, retryAfterOf(raw));
  }
  if (raw.status >= 300 && raw.status < 400) {
    const location = raw.headers.get('location');
    throw new PermanentError(
      `${what} answered a redirect (${raw.status}${location ? ` to ${location}` : ''}); check the base URL of the credential`,
    );
  }
  if (raw.status >= 500 || raw.status === 408) {
    throw new Error(`${what} answered HTTP ${raw.status}${snippet(raw.text)}`);
  }
  if (envelope && !envelope.ok && typeof envelope.error === 'string') {
    throw slackError(method, toFailure(envelope), raw);
  }
  if (raw.status >= 400 || !envelope) {
    throw new PermanentError(
      `${what} answered HTTP ${raw.status} with something that is not a Slack Web API answer${snippet(raw.text)}`,
      { details: { status: raw.status } },
    );
  }
  if (!envelope.ok) throw new PermanentError(`${what} answered ok: false without an error code`);
  const metadata = envelope.response_metadata as Record<string, unknown> | null | undefined;
  const warnings = [
    ...(typeof envelope.warning === 'string' ? [envelope.warning] : []),
    ...(metadata && typeof metadata === 'object' ? strings(metadata.warnings) : []),
  ];
  if (warnings.length)
    ctx.logger.warn(`${what} answered with warnings`, { warnings: [...new Set(warnings)] });
  return envelope as SlackOk;
}
