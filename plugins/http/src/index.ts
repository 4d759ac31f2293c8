import { z } from 'zod';
import {
  PermanentError,
  RateLimitedError,
  defineAction,
  definePlugin,
  isPermanentError,
  isRateLimitedError,
  parseRetryAfter,
  type ActionContext,
  describeError,
  readCapped,
} from '@hookflow/sdk';
// Slack incoming-webhook preset.
import { slackWebhook } from './slack-webhook';

export {
  SLACK_WEBHOOK_HOST,
  SLACK_WEBHOOK_TIMEOUT_MS,
  postToSlackWebhook,
  slackWebhook,
  slackWebhookInput,
  slackWebhookOutput,
} from './slack-webhook';
export type { SlackWebhookInput, SlackWebhookOutput } from './slack-webhook';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const MAX_TIMEOUT_MS = 300_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_RESPONSE_BYTES_LIMIT = 16 * 1024 * 1024;
/** Used when a 429 answer has no usable Retry-After header. */
export const DEFAULT_RATE_LIMIT_SECONDS = 60;
const USER_AGENT = 'Hookflow-API-Call/1';
const SNIPPET_CHARS = 300;

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

const httpUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'http:' || url.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute http:// or https:// URL' },
  )
  .meta({ description: 'Absolute http(s) URL', format: 'uri' });

export const requestInput = z.object({
  method: z.enum(METHODS).default('POST').describe('HTTP method'),
  url: httpUrl,
  headers: z.record(z.string(), z.string()).optional().describe('Request headers'),
  query: z.record(z.string(), z.string()).optional().describe('Query parameters appended to the URL'),
  body: z
    .unknown()
    .optional()
    .describe(
      'Objects and arrays are sent as JSON (content-type application/json); strings are sent as they are',
    ),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .max(MAX_TIMEOUT_MS)
    .default(DEFAULT_TIMEOUT_MS)
    .describe('Timeout of the whole request'),
  failOnStatus: z
    .boolean()
    .default(true)
    .describe('Fail the step on a 4xx/5xx answer; when false every status is returned as the output'),
  idempotencyHeader: z
    .string()
    .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
    .nullable()
    .default('Idempotency-Key')
    .describe(
      'Header that carries the step’s idempotency key, the same on every retry, so the receiver can drop a repeated call; null sends none',
    ),
  maxResponseBytes: z
    .number()
    .int()
    .positive()
    .max(MAX_RESPONSE_BYTES_LIMIT)
    .default(DEFAULT_MAX_RESPONSE_BYTES)
    .describe('Larger response bodies fail the step'),
});

export const requestOutput = z.object({
  status: z.number().int(),
  headers: z.record(z.string(), z.string()),
  body: z.unknown().describe('Parsed JSON when the response is JSON, otherwise text'),
});

export type RequestInput = z.input<typeof requestInput>;
export type RequestOutput = z.output<typeof requestOutput>;

function isJsonContentType(contentType: string | null): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  return mime === 'application/json' || mime.endsWith('+json') || mime === 'text/json';
}

function charsetOf(contentType: string | null): string {
  const match = contentType ? /charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType) : null;
  return match?.[1] ?? 'utf-8';
}

function decode(bytes: Uint8Array, contentType: string | null): string {
  try {
    return new TextDecoder(charsetOf(contentType)).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function redact(url: URL): string {
  const copy = new URL(url);
  if (copy.username) copy.username = '***';
  if (copy.password) copy.password = '***';
  copy.search = '';
  return copy.toString();
}

class ResponseTooLargeError extends PermanentError {
  constructor(limit: number, target: string) {
    super(`the response from ${target} is larger than ${limit} bytes (maxResponseBytes)`);
  }
}

function snippet(body: unknown): string {
  if (body === null || body === undefined || body === '') return '';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return `: ${text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}…` : text}`;
}

function encodeBody(method: string, body: unknown, headers: Headers): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (method === 'GET' || method === 'HEAD') {
    if (body === '') return undefined;
    throw new PermanentError(`a ${method} request cannot have a body (remove "body" or use POST)`);
  }
  if (typeof body === 'string') return body;
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return JSON.stringify(body);
}

export async function sendRequest(
  ctx: ActionContext<unknown>,
  input: z.output<typeof requestInput>,
): Promise<RequestOutput> {
  const url = new URL(input.url);
  for (const [name, value] of Object.entries(input.query ?? {})) url.searchParams.append(name, value);
  const target = `${input.method} ${redact(url)}`;

  let headers: Headers;
  try {
    headers = new Headers(input.headers ?? {});
  } catch (err) {
    throw new PermanentError(`invalid request headers: ${(err as Error).message}`);
  }
  if (!headers.has('user-agent')) headers.set('user-agent', USER_AGENT);
  if (input.idempotencyHeader && !headers.has(input.idempotencyHeader)) {
    headers.set(input.idempotencyHeader, ctx.idempotencyKey);
  }
  const body = encodeBody(input.method, input.body, headers);

  const timeout = AbortSignal.timeout(input.timeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  const failure = (err: unknown): Error => {
    if (isPermanentError(err) || isRateLimitedError(err)) return err as Error;
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      const isErrorLike =
        typeof reason === 'object' && reason !== null && typeof (reason as Error).message === 'string';
      return isErrorLike ? (reason as Error) : new Error(`${target} was cancelled`);
    }
    if (timeout.aborted) return new Error(`${target} timed out after ${input.timeoutMs} ms`, { cause: err });
    return new Error(`${target} failed: ${describeError(err)}`, { cause: err });
  };

  let response: Response;
  let bytes: Uint8Array;
  try {
    response = await ctx.fetch(url, { method: input.method, headers, body, signal, redirect: 'follow' });
    bytes =
      input.method === 'HEAD'
        ? new Uint8Array(0)
        : await readCapped(
            response,
            input.maxResponseBytes,
            () => new ResponseTooLargeError(input.maxResponseBytes, target),
          );
  } catch (err) {
    throw failure(err);
  }

  const contentType = response.headers.get('content-type');
  let parsed: unknown;
  if (isJsonContentType(contentType)) {
    const text = decode(bytes, contentType);
    if (text.trim() === '') parsed = null;
    else {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
        ctx.logger.warn('response declared JSON but did not parse; returning text', {
          target,
          status: response.status,
        });
      }
    }
  } else {
    parsed = decode(bytes, contentType);
  }

  const responseHeaders: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    responseHeaders[name] = value;
  });
  const output: RequestOutput = { status: response.status, headers: responseHeaders, body: parsed };
  if (!input.failOnStatus) return output;

  const status = response.status;
  const statusText = response.statusText ? ` ${response.statusText}` : '';
  const describe = `${target} answered ${status}${statusText}${snippet(parsed)}`;
  if (status === 429) {
    const retryAfter = parseRetryAfter(response.headers.get('retry-after')) ?? DEFAULT_RATE_LIMIT_SECONDS;
    throw new RateLimitedError(describe, retryAfter);
  }
  if (status === 408 || status >= 500) throw new Error(describe);
  if (status >= 400)
    throw new PermanentError(describe, { details: { status, headers: responseHeaders, body: parsed } });
  return output;
}

export const request = defineAction({
  displayName: 'API Call',
  description:
    'Sends an HTTP request and returns the status, headers and body. Objects are sent as JSON. ' +
    '4xx answers fail the step (429 is retried after Retry-After); 5xx, 408 and network errors are retried.',
  input: requestInput,
  output: requestOutput,
  retry: { maximumAttempts: 5, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
  timeoutMs: MAX_TIMEOUT_MS + 10_000,
  run: (ctx, input) => sendRequest(ctx, input),
});

export const plugin = definePlugin({
  name: 'http',
  displayName: 'API Call',
  description:
    'Call any HTTP API: send JSON or text, read the JSON or text answer. Or post to a Slack incoming webhook.',
  icon: 'globe',
  actions: { request, slackWebhook },
});

export default plugin;
