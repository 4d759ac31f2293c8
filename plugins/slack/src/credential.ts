import { z } from 'zod';
import { defineCredential, type CredentialValue } from '@hookflow/sdk';

export const SLACK_API_URL = 'https://slack.com/api';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https, or http to a loopback host (a local stand-in for Slack in tests and development). */
function isApiBaseUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.username || url.password || url.search || url.hash) return false;
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  } catch {
    return false;
  }
}

export const botTokenCredentialSchema = z.object({
  token: z
    .string()
    .trim()
    .regex(/^xoxb-[A-Za-z0-9-]+$/, 'must be a Slack bot token (xoxb-…)')
    .meta({
      description: 'Bot User OAuth Token of your Slack app (OAuth & Permissions page), starting with xoxb-',
      format: 'password',
    }),
  baseUrl: z
    .string()
    .trim()
    .refine(isApiBaseUrl, {
      message: 'must be an https:// URL without credentials, query or fragment (http:// only for localhost)',
    })
    .transform((value) => value.replace(/\/+$/, ''))
    .default(SLACK_API_URL)
    // `secret: false`: the host redacts every other string of a credential from stored step results.
    .meta({
      description: `Base URL of the Slack Web API; omit it for ${SLACK_API_URL}`,
      format: 'uri',
      secret: false,
    }),
});

export const botTokenCredential = defineCredential({
  displayName: 'Slack bot token',
  description:
    'A Slack app bot token (xoxb-…) with the chat:write scope; add chat:write.public to post in public ' +
    'channels without inviting the app, and chat:write.customize to set username or icon',
  schema: botTokenCredentialSchema,
});

export type BotTokenCredential = CredentialValue<typeof botTokenCredential>;
