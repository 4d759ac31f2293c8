import type { IncomingHttpHeaders } from 'node:http';
import { renderString, type TemplateScope } from '../templates';
import { buildFields, setOwn } from './fields';

const REDACTED = '[redacted]';

/** Secret wherever they appear in a name: `x-hub-signature-256`, `client_secret`, `x-csrftoken`. */
const SECRET_PARTS = [
  'authorization',
  'authentication',
  'bearer',
  'cookie',
  'credential',
  'jwt',
  'hmac',
  'password',
  'passwd',
  'passphrase',
  'private',
  'secret',
  'session',
  'signature',
  'token',
  'apikey',
  'accesskey',
];

/** Secret only as a whole word of a name (`x-auth-key`, `api_key`, `sig`), so `author`, `monkey` or `signal` are not. */
const SECRET_WORDS = new Set([
  'auth',
  'authn',
  'authz',
  'oauth',
  'key',
  'sig',
  'pass',
  'pwd',
  'otp',
  'csrf',
  'xsrf',
]);

/** Names with a secret word that carry no secret. */
const NOT_SECRET = new Set(['idempotency-key', 'x-idempotency-key']);

/** `X-Auth-Key` → x, auth, key; `accessToken` → access, token; `data[api_key]` → data, api, key. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
}

/** True when a header name or query key holds a secret by the default list (case does not matter). */
export function isSecretName(name: string): boolean {
  const lower = name.toLowerCase();
  if (NOT_SECRET.has(lower)) return false;
  return SECRET_PARTS.some((part) => lower.includes(part)) || wordsOf(name).some((w) => SECRET_WORDS.has(w));
}

/** The default list plus `extra` names (a trigger's own, and what its auth uses), compared without case. */
function secretNameTest(extra: readonly string[]): (name: string) => boolean {
  const names = new Set(extra.map((n) => n.toLowerCase()));
  return (name) => names.has(name.toLowerCase()) || isSecretName(name);
}

/** Lower-cased headers with credentials, signatures and other secrets (and `extra` names) replaced by "[redacted]". */
export function redactHeaders(
  headers: IncomingHttpHeaders,
  extra: readonly string[] = [],
): Record<string, string> {
  const isSecret = secretNameTest(extra);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = isSecret(name) ? REDACTED : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function redactFields(
  fields: Record<string, unknown>,
  isSecret: (name: string) => boolean,
  keep: (name: string) => boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    setOwn(out, key, keep(key) ? value : isSecret(key) ? REDACTED : redactNested(value, isSecret));
  }
  return out;
}

function redactNested(value: unknown, isSecret: (name: string) => boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => redactNested(item, isSecret));
  if (value === null || typeof value !== 'object') return value;
  return redactFields(value as Record<string, unknown>, isSecret, () => false);
}

/**
 * Query parameters with the value of every secret key, at any depth (`?data[api_key]=…`), replaced by
 * "[redacted]". Top-level names in `keep` stay as they are: on a GET the query string is the payload, and a
 * variable the trigger declares is data the flow asked for.
 */
export function redactQuery<T>(query: T, extra: readonly string[] = [], keep: readonly string[] = []): T {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) return query;
  const isSecret = secretNameTest(extra);
  return redactFields(query as Record<string, unknown>, isSecret, (name) => keep.includes(name)) as T;
}

/** Query parameters, nested like form fields (`?a[b]=1`); a repeated name gives an array. */
export function queryOf(originalUrl: string): Record<string, unknown> {
  return buildFields(new URL(originalUrl, 'http://x').searchParams);
}

const IDEMPOTENCY_HEADERS = ['webhook-id', 'idempotency-key', 'x-github-delivery', 'x-shopify-webhook-id'];

/**
 * The sender's delivery id: the trigger's configured expression (such as `{{webhook.event_id}}` or
 * `{{webhook.headers.x-request-id}}`) when it renders a value, else the headers providers use for it.
 */
export function idempotencyKeyOf(
  expression: string | null | undefined,
  request: TemplateScope['webhook'],
  headers: IncomingHttpHeaders,
): string | undefined {
  if (expression) {
    const scope: TemplateScope = {
      webhook: request,
      steps: {},
      flow: { id: '', label: '' },
      run: { id: '' },
      delivery: { id: '', receivedAt: '' },
    };
    const rendered = renderString(expression, scope);
    const text =
      rendered === undefined || rendered === null
        ? ''
        : typeof rendered === 'object'
          ? JSON.stringify(rendered)
          : String(rendered);
    if (text.trim()) return text.trim();
  }
  for (const name of IDEMPOTENCY_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  return undefined;
}
