import { defineAction, definePlugin, type ActionContext } from '@hookflow/sdk';
import { botTokenCredential, type BotTokenCredential } from './credential';
import { postMessage as sendMessage, postMessageInput, postMessageOutput } from './post-message';

export { SLACK_API_URL, botTokenCredential, botTokenCredentialSchema } from './credential';
export type { BotTokenCredential } from './credential';
export { MAX_BLOCKS, postMessageInput, postMessageOutput } from './post-message';
export type { PostMessageInput, PostMessageOutput } from './post-message';
export { callWebApi, describeSlackError, slackError } from './web-api';
export type { SlackFailure, SlackOk } from './web-api';

export const postMessage = defineAction({
  displayName: 'Post a message',
  description:
    'Posts a message to a Slack channel, direct message or thread with chat.postMessage (text and/or Block Kit ' +
    'blocks). Slack error codes such as channel_not_found or invalid_auth fail the step; rate limits are retried ' +
    'after Retry-After; 5xx answers and network errors are retried. Not idempotent: a retry after a lost answer ' +
    'can post twice.',
  credential: 'botToken',
  input: postMessageInput,
  output: postMessageOutput,
  retry: { maximumAttempts: 5, initialIntervalMs: 2_000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
  timeoutMs: 45_000,
  run: (ctx: ActionContext<BotTokenCredential>, input) => sendMessage(ctx, input),
});

export const plugin = definePlugin({
  name: 'slack',
  displayName: 'Slack',
  description: 'Post messages to Slack channels, direct messages and threads with a bot token.',
  icon: 'slack',
  credentials: { botToken: botTokenCredential },
  actions: { postMessage },
});

export default plugin;
