import { z } from 'zod';
import { PermanentError, type ActionContext } from '@hookflow/sdk';
import type { BotTokenCredential } from './credential';
import { callWebApi } from './web-api';

/** Slack accepts at most 50 blocks in one message. */
export const MAX_BLOCKS = 50;

const block = z.looseObject({ type: z.string().min(1, 'every block needs a "type"') }).meta({
  description: 'A Block Kit block, such as {"type":"section","text":{"type":"mrkdwn","text":"Hi"}}',
});

const timestamp = z
  .string()
  .trim()
  .regex(/^\d+\.\d+$/, 'must be a Slack message timestamp such as 1712345678.123456');

export const postMessageInput = z
  .strictObject({
    channel: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .regex(/^\S+$/, 'must not contain spaces')
      .describe('Channel ID (C0123456789), channel name (#general) or user ID (U…) for a direct message'),
    text: z
      .string()
      .optional()
      .describe(
        'Message text (Slack mrkdwn). With blocks it is the fallback shown in notifications; without blocks it is the message',
      ),
    blocks: z
      .array(block)
      .min(1, 'give at least one block, or leave blocks out')
      .max(MAX_BLOCKS, `Slack accepts at most ${MAX_BLOCKS} blocks`)
      .optional()
      .describe('Block Kit layout blocks'),
    thread_ts: timestamp.optional().describe('Timestamp (ts) of the parent message to reply in its thread'),
    reply_broadcast: z.boolean().optional().describe('With thread_ts: also show the reply in the channel'),
    unfurl_links: z.boolean().optional().describe('Show previews of links to text-based content'),
    unfurl_media: z.boolean().optional().describe('Show previews of media links'),
    mrkdwn: z.boolean().optional().describe('Format text as mrkdwn (default true)'),
    username: z
      .string()
      .trim()
      .min(1)
      .max(80)
      .optional()
      .describe("The bot's name for this message (needs the chat:write.customize scope)"),
    icon_emoji: z
      .string()
      .trim()
      .regex(/^:[^:\s]+:$/, 'must be an emoji code such as :rocket:')
      .optional()
      .describe('Emoji used as the icon, such as :rocket: (needs chat:write.customize)'),
    icon_url: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .optional()
      .describe('Image URL used as the icon (needs chat:write.customize)'),
  })
  .refine((input) => (input.text !== undefined && input.text.trim() !== '') || input.blocks !== undefined, {
    message: 'give text, blocks or both',
    path: ['text'],
  })
  .refine((input) => !(input.icon_emoji && input.icon_url), {
    message: 'give icon_emoji or icon_url, not both',
    path: ['icon_url'],
  })
  .refine((input) => input.reply_broadcast === undefined || input.thread_ts !== undefined, {
    message: 'reply_broadcast needs thread_ts',
    path: ['reply_broadcast'],
  });

export const postMessageOutput = z.object({
  ok: z.literal(true),
  channel: z.string().describe('ID of the channel the message was posted to'),
  ts: z.string().describe('Timestamp of the message: its ID, usable as thread_ts for replies'),
  message: z.record(z.string(), z.unknown()).describe('The message as Slack stored it'),
});

export type PostMessageInput = z.input<typeof postMessageInput>;
export type PostMessageOutput = z.output<typeof postMessageOutput>;

/** Posts with chat.postMessage. Not idempotent: Slack has no idempotency key for it (see README). */
export async function postMessage(
  ctx: ActionContext<BotTokenCredential>,
  input: z.output<typeof postMessageInput>,
): Promise<PostMessageOutput> {
  if (!ctx.credential) throw new PermanentError('slack.postMessage needs a Slack bot token credential');
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) if (value !== undefined) args[key] = value;
  const answer = await callWebApi(ctx as ActionContext<unknown>, ctx.credential, 'chat.postMessage', args);
  return {
    ok: true,
    channel: answer.channel as string,
    ts: answer.ts as string,
    message: answer.message as Record<string, unknown>,
  };
}
