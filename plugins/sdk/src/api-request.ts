import type { ActionContext } from './define';
import { PermanentError, isPermanentError, isRateLimitedError } from './errors';

/** Timeout of one HTTP request (an action's own timeout is larger). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Answers of JSON APIs are small; anything larger is refused. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export type ApiResponse = { status: number; headers: Headers; text: string };

/** `message: cause message (CODE)`, duck-typed because errors may come from another realm. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { message?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
    const message = typeof e.message === 'string' && e.message !== '' ? e.message : undefined;
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (message) parts.push(code && !message.includes(code) ? `${message} (${code})` : message);
    else if (code) parts.push(code);
    current = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
  }
  return parts.length ? parts.join(': ') : String(err);
}

/**
 * Reads a response body up to `limit` bytes. A larger body (by Content-Length or by what arrives) is cancelled and
 * `tooLarge()` is thrown, so a misbehaving server cannot make an action buffer without bound.
 */
export async function readCapped(response: Response, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * Sends one request through the egress-checked `ctx.fetch` and reads the whole answer. Redirects are not
 * followed (an API endpoint that redirects is misconfigured, and a redirected POST would be lost).
 * Network failures and timeouts become retryable errors; a cancelled step rethrows the cancellation.
 */
export async function sendApiRequest(
  ctx: ActionContext<unknown>,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  what: string,
): Promise<ApiResponse> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  try {
    const response = await ctx.fetch(url, { ...init, signal, redirect: 'manual' });
    const text = (
      await readCapped(
        response,
        MAX_RESPONSE_BYTES,
        () => new PermanentError(`${what}: the answer is larger than ${MAX_RESPONSE_BYTES} bytes`),
      )
    ).toString('utf8');
    return { status: response.status, headers: response.headers, text };
  } catch (err) {
    if (isPermanentError(err) || isRateLimitedError(err)) throw err;
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      const isErrorLike =
        typeof reason === 'object' && reason !== null && typeof (reason as Error).message === 'string';
      throw isErrorLike ? reason : new Error(`${what} was cancelled`);
    }
    if (timeout.aborted) throw new Error(`${what} timed out after ${REQUEST_TIMEOUT_MS} ms`, { cause: err });
    throw new Error(`${what} failed: ${describeError(err)}`, { cause: err });
  }
}
