/**
 * The Slack preset of API Call: post a message to a Slack incoming webhook
 * (https://api.slack.com/messaging/webhooks). The webhook URL is itself the secret, so messages name only
 * its host, never its path.
 */
import { z } from 'zod';
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  PermanentError,
  RateLimitedError,
  defineAction,
  isPermanentError,
  isRateLimitedError,
  parseRetryAfter,
  type ActionContext,
  describeError,
} from '@hookflow/sdk';

export const SLACK_WEBHOOK_HOST = 'hooks.slack.com';
export const SLACK_WEBHOOK_TIMEOUT_MS = 30_000;
/** Slack answers `ok` or a short error code; a longer answer is cut when quoted. */
const MAX_ANSWER_BYTES = 64 * 1024;
const SNIPPET_CHARS = 300;
const USER_AGENT = 'Hookflow-API-Call/1';

/** What the common incoming-webhook errors mean (the code is always in the message). */
const HINTS: Record<string, string> = {
  invalid_payload: 'the message is not valid JSON or has no usable fields',
  no_text: 'the message needs text or blocks',
  invalid_blocks: 'the blocks are not valid Block Kit',
  too_many_attachments: 'too many attachments',
  user_not_found: 'the user of the webhook no longer exists',
  channel_not_found: 'the channel of the webhook no longer exists',
  channel_is_archived: 'the channel of the webhook is archived',
  action_prohibited: 'a workspace admin restricted posting to this channel',
  posting_to_general_channel_denied: 'only admins may post to this channel',
  no_service: 'the webhook was disabled, removed or is invalid; create a new one',
  no_service_id: 'the webhook URL is incomplete',
  no_team: 'the workspace of the webhook does not exist or was deleted',
  team_disabled: 'the workspace of the webhook is disabled',
  invalid_token: 'the webhook URL is no longer valid',
};

const webhookUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute URL such as https://hooks.slack.com/services/T…/B…/…' },
  )
  .meta({
    description:
      'Incoming webhook URL from your Slack app (https://hooks.slack.com/services/…); treat it as a secret',
    format: 'uri',
  });

const block = z.looseObject({ type: z.string().min(1, 'every block needs a "type"') });

export const slackWebhookInput = z
  .strictObject({
    webhookUrl,
    text: z
      .string()
      .optional()
      .describe('Message text (Slack mrkdwn); with blocks it is the fallback shown in notifications'),
    blocks: z
      .array(block)
      .min(1, 'give at least one block, or leave blocks out')
      .max(50, 'Slack accepts at most 50 blocks')
      .optional()
      .describe('Block Kit layout blocks'),
  })
  .refine((input) => (input.text !== undefined && input.text.trim() !== '') || input.blocks !== undefined, {
    message: 'give text, blocks or both',
    path: ['text'],
  });

export const slackWebhookOutput = z.object({
  ok: z.literal(true),
  status: z.number().int().describe('HTTP status of the answer (200)'),
  body: z.string().describe('The answer, "ok" from Slack'),
});

export type SlackWebhookInput = z.input<typeof slackWebhookInput>;
export type SlackWebhookOutput = z.output<typeof slackWebhookOutput>;

async function readAnswer(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total >= MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES);
}

function describeAnswer(body: string): string {
  const code = body.trim();
  if (code === '') return '';
  const hint = HINTS[code];
  if (hint) return `: ${code} (${hint})`;
  return `: ${code.length > SNIPPET_CHARS ? `${code.slice(0, SNIPPET_CHARS)}…` : code}`;
}

export async function postToSlackWebhook(
  ctx: ActionContext<unknown>,
  input: z.output<typeof slackWebhookInput>,
): Promise<SlackWebhookOutput> {
  const url = new URL(input.webhookUrl);
  const target = `the Slack incoming webhook at ${url.host}`;
  if (url.hostname !== SLACK_WEBHOOK_HOST) {
    ctx.logger.warn(`the webhook URL is not on ${SLACK_WEBHOOK_HOST}; posting to ${url.host} anyway`);
  }
  const message = {
    ...(input.text !== undefined ? { text: input.text } : {}),
    ...(input.blocks !== undefined ? { blocks: input.blocks } : {}),
  };

  const timeout = AbortSignal.timeout(SLACK_WEBHOOK_TIMEOUT_MS);
  let response: Response;
  let body: string;
  try {
    response = await ctx.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT },
      body: JSON.stringify(message),
      signal: AbortSignal.any([ctx.signal, timeout]),
      // A redirected POST would be lost (and could carry the message elsewhere).
      redirect: 'manual',
    });
    body = await readAnswer(response);
  } catch (err) {
    if (isPermanentError(err) || isRateLimitedError(err)) throw err;
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      const isErrorLike =
        typeof reason === 'object' && reason !== null && typeof (reason as Error).message === 'string';
      throw isErrorLike ? reason : new Error(`posting to ${target} was cancelled`);
    }
    if (timeout.aborted) {
      throw new Error(`posting to ${target} timed out after ${SLACK_WEBHOOK_TIMEOUT_MS} ms`, { cause: err });
    }
    throw new Error(`posting to ${target} failed: ${describeError(err)}`, { cause: err });
  }

  const { status } = response;
  const answered = `${target} answered ${status}${describeAnswer(body)}`;
  if (status >= 200 && status < 300) return { ok: true, status, body };
  if (status === 429) {
    throw new RateLimitedError(
      answered,
      parseRetryAfter(response.headers.get('retry-after')) ?? DEFAULT_RETRY_AFTER_SECONDS,
    );
  }
  if (status >= 500 || status === 408) throw new Error(answered);
  if (status >= 300 && status < 400) {
    throw new PermanentError(`${target} answered a redirect (${status}); check the webhook URL`, {
      details: { status },
    });
  }
  throw new PermanentError(answered, { details: { status, body: body.slice(0, SNIPPET_CHARS) } });
}

export const slackWebhook = defineAction({
  displayName: 'Post to a Slack incoming webhook',
  description:
    'Posts a message (text and/or Block Kit blocks) to a Slack incoming webhook URL. Slack errors such as ' +
    'invalid_payload, no_text, channel_is_archived or no_service fail the step; 429 waits for Retry-After; 5xx ' +
    'and network errors are retried. Not idempotent: a retry after a lost answer can post twice.',
  input: slackWebhookInput,
  output: slackWebhookOutput,
  retry: { maximumAttempts: 5, initialIntervalMs: 2_000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
  timeoutMs: SLACK_WEBHOOK_TIMEOUT_MS + 15_000,
  run: (ctx, input) => postToSlackWebhook(ctx, input),
});
