import {
  DEFAULT_RETRY_AFTER_SECONDS,
  PermanentError,
  RateLimitedError,
  parseRetryAfter,
  type ActionContext,
  sendApiRequest,
  type ApiResponse,
} from '@hookflow/sdk';
import { basicAuthorization, type ApiTokenCredential } from './credential';

const USER_AGENT = 'Hookflow-JIRA/1';
const SNIPPET_CHARS = 300;

/** JIRA's error body: general messages and messages per field. */
export type JiraErrorBody = { errorMessages: string[]; errors: Record<string, string> };

export type JiraCall = {
  method: 'GET' | 'POST';
  /** Path and query under the site, such as `/rest/api/3/issue`. */
  path: string;
  body?: unknown;
  /** What the call does, for messages: "creating the issue". */
  what: string;
};

function parseJson(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The `errorMessages` and `errors` of a JIRA error answer (empty when it has none). */
export function jiraErrors(body: unknown): JiraErrorBody {
  const out: JiraErrorBody = { errorMessages: [], errors: {} };
  if (!body || typeof body !== 'object') return out;
  const { errorMessages, errors } = body as { errorMessages?: unknown; errors?: unknown };
  if (Array.isArray(errorMessages)) {
    out.errorMessages = errorMessages.filter((m): m is string => typeof m === 'string' && m !== '');
  }
  if (errors && typeof errors === 'object' && !Array.isArray(errors)) {
    for (const [field, message] of Object.entries(errors)) {
      if (typeof message === 'string') out.errors[field] = message;
    }
  }
  return out;
}

/** `message; field: message; …`, or a snippet of the raw answer when it is not a JIRA error body. */
function describeAnswer(raw: ApiResponse, body: unknown): string {
  const { errorMessages, errors } = jiraErrors(body);
  const parts = [
    ...errorMessages,
    ...Object.entries(errors).map(([field, message]) => `${field}: ${message}`),
  ];
  if (parts.length) return parts.join('; ');
  const text = raw.text.trim();
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}…` : text;
}

/** Seconds to wait: Retry-After, else X-RateLimit-Reset (an ISO timestamp), else the SDK default. */
function retryAfterOf(raw: ApiResponse): number | undefined {
  return (
    parseRetryAfter(raw.headers.get('retry-after')) ?? parseRetryAfter(raw.headers.get('x-ratelimit-reset'))
  );
}

/** Maps a non-2xx answer to the error that tells the host what to do. */
export function jiraError(call: JiraCall, raw: ApiResponse, body: unknown): Error {
  const detail = describeAnswer(raw, body);
  const suffix = detail ? `: ${detail}` : '';
  const details = { status: raw.status, ...jiraErrors(body) };
  const { status } = raw;
  if (status === 429) {
    return new RateLimitedError(
      `JIRA rate limit hit while ${call.what} (429)${suffix}`,
      retryAfterOf(raw) ?? DEFAULT_RETRY_AFTER_SECONDS,
    );
  }
  if (status >= 500 || status === 408) {
    const retryAfter = retryAfterOf(raw);
    const message = `JIRA answered ${status} while ${call.what}${suffix}`;
    // JIRA sheds load with 503 + Retry-After; honour the wait it asks for.
    return retryAfter === undefined ? new Error(message) : new RateLimitedError(message, retryAfter);
  }
  if (status >= 300 && status < 400) {
    const location = raw.headers.get('location');
    return new PermanentError(
      `JIRA answered a redirect (${status}${location ? ` to ${location}` : ''}) while ${call.what}; check the site URL of the credential`,
      { details },
    );
  }
  if (status === 401) {
    return new PermanentError(
      `JIRA refused the credentials while ${call.what} (401)${suffix}; check the email and API token of the credential`,
      { details },
    );
  }
  if (status === 403) {
    return new PermanentError(
      `JIRA denied access while ${call.what} (403)${suffix}; the account needs the Browse projects and Create issues permissions`,
      { details },
    );
  }
  if (status === 404) {
    return new PermanentError(
      `JIRA answered 404 while ${call.what}${suffix}; check the site URL and the project key`,
      { details },
    );
  }
  return new PermanentError(`JIRA refused ${call.what} (${status})${suffix}`, { details });
}

/**
 * Calls the JIRA Cloud REST API with Basic auth (email:API token) and JSON. Returns the parsed JSON of a
 * 2xx answer; throws RateLimitedError (429, or 5xx with Retry-After), a retryable Error (5xx, 408, network
 * failures, timeouts) or PermanentError (other 4xx, redirects, answers that are not JSON).
 */
export async function callJira(
  ctx: ActionContext<unknown>,
  credential: ApiTokenCredential,
  call: JiraCall,
): Promise<unknown> {
  const headers: Record<string, string> = {
    authorization: basicAuthorization(credential),
    accept: 'application/json',
    'user-agent': USER_AGENT,
  };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  const raw = await sendApiRequest(
    ctx,
    `${credential.siteUrl}${call.path}`,
    {
      method: call.method,
      headers,
      ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
    },
    `JIRA ${call.method} ${call.path.split('?')[0]}`,
  );
  const body = parseJson(raw.text);
  if (raw.status < 200 || raw.status >= 300) throw jiraError(call, raw, body);
  if (body === undefined || body === null) {
    throw new PermanentError(
      `JIRA answered ${raw.status} with something that is not JSON while ${call.what}; check the site URL of the credential`,
    );
  }
  return body;
}
