import type { Request } from 'express';

const SECRET_HEADER = /(authorization|cookie|signature|secret|token|api[-_]?key|password|hmac)/i;

/** Lower-cased headers with credentials and signatures replaced by "[redacted]". */
export function redactHeaders(headers: Request['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADER.test(name) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const IDEMPOTENCY_HEADERS = ['webhook-id', 'idempotency-key', 'x-github-delivery', 'x-shopify-webhook-id'];

/** The sender's delivery id, from the headers providers use for it. */
export function idempotencyKeyFrom(headers: Request['headers']): string | undefined {
  for (const name of IDEMPOTENCY_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  return undefined;
}

export class UnsupportedMediaType extends Error {}
export class MalformedBody extends Error {}

/** Parses the raw bytes by content type; the bytes themselves are what a signature check would use. */
export function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = (contentType ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new MalformedBody(`the body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (type === 'application/x-www-form-urlencoded') {
    // A Map, then fromEntries: a "__proto__" field stays an ordinary own property.
    const fields = new Map<string, string | string[]>();
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) {
      const prev = fields.get(k);
      fields.set(k, prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]);
    }
    return Object.fromEntries(fields);
  }
  if (type.startsWith('text/')) return raw.toString('utf8');
  if (type === 'application/octet-stream') return { contentType: type, base64: raw.toString('base64') };
  throw new UnsupportedMediaType(`content type "${type}" is not supported`);
}

export function queryOf(req: Request): Record<string, unknown> {
  const url = new URL(req.originalUrl, 'http://x');
  return Object.fromEntries(url.searchParams);
}
