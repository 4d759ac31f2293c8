import { z } from 'zod';
import { defineCredential, type CredentialValue } from '@hookflow/sdk';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https, or http to a loopback host (a local stand-in for JIRA in tests and development). */
function isSiteUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.username || url.password) return false;
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  } catch {
    return false;
  }
}

export const apiTokenCredentialSchema = z.object({
  siteUrl: z
    .string()
    .trim()
    .refine(isSiteUrl, { message: 'must be an https:// URL such as https://your-domain.atlassian.net' })
    // Only the origin: a pasted browser URL (…/jira/your-work) still names the site.
    .transform((value) => new URL(value).origin)
    // `secret: false`: the host redacts every other string of a credential from stored step results.
    .meta({ description: 'Your JIRA Cloud site, such as https://your-domain.atlassian.net', secret: false }),
  email: z
    .email('must be the email address of the Atlassian account')
    .meta({ description: 'Email address of the Atlassian account the API token belongs to', secret: false }),
  apiToken: z.string().trim().min(1, 'must not be empty').meta({
    description: 'API token from https://id.atlassian.com/manage-profile/security/api-tokens',
    format: 'password',
  }),
});

export const apiTokenCredential = defineCredential({
  displayName: 'JIRA Cloud API token',
  description:
    'An Atlassian account (email and API token) on a JIRA Cloud site; it needs the Browse projects and ' +
    'Create issues permissions in the projects the flow writes to',
  schema: apiTokenCredentialSchema,
});

export type ApiTokenCredential = CredentialValue<typeof apiTokenCredential>;

/** `Authorization` header value: Basic base64(email:apiToken), as Atlassian documents for API tokens. */
export function basicAuthorization(credential: ApiTokenCredential): string {
  return `Basic ${Buffer.from(`${credential.email}:${credential.apiToken}`, 'utf8').toString('base64')}`;
}
