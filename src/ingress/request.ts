import type { IncomingHttpHeaders } from 'node:http';
import { renderString, type TemplateScope } from '../templates';
import { buildFields } from './fields';

const SECRET_HEADER = /(authorization|cookie|signature|secret|token|api[-_]?key|password|hmac)/i;

/** Lower-cased headers with credentials and signatures (and `extra` names) replaced by "[redacted]". */
export function redactHeaders(
  headers: IncomingHttpHeaders,
  extra: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const secret = SECRET_HEADER.test(name) || extra.includes(name);
    out[name] = secret ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
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
