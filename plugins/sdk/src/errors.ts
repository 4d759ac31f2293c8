/**
 * Errors a plugin throws to tell the host how to treat a failure.
 *
 * A third-party plugin bundles its own copy of this SDK, so the host must never rely on
 * `instanceof` alone: use `isPermanentError` / `isRateLimitedError`, which check the stable
 * `code` (and `name`) and therefore work across module copies.
 */

export const PERMANENT_ERROR_CODE = 'PERMANENT';
export const RATE_LIMITED_ERROR_CODE = 'RATE_LIMITED';

/** Used when a rate-limit answer carries no usable Retry-After. */
export const DEFAULT_RETRY_AFTER_SECONDS = 60;

export type PermanentErrorOptions = {
  cause?: unknown;
  /** Structured, JSON-safe details (for example a list of `{ path, message }` validation issues). */
  details?: unknown;
};

/** A failure that retrying cannot fix (bad input, 4xx answer, missing credential…). Never retried. */
export class PermanentError extends Error {
  readonly code: string;
  readonly details?: unknown;

  constructor(message: string, options: PermanentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    this.code = PERMANENT_ERROR_CODE;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** The remote side asked us to slow down; the host retries after `retryAfterSeconds`. */
export class RateLimitedError extends Error {
  readonly code: string;
  readonly retryAfterSeconds: number;

  constructor(
    message: string,
    retryAfterSeconds: number = DEFAULT_RETRY_AFTER_SECONDS,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RateLimitedError';
    this.code = RATE_LIMITED_ERROR_CODE;
    this.retryAfterSeconds =
      Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0
        ? Math.ceil(retryAfterSeconds)
        : DEFAULT_RETRY_AFTER_SECONDS;
  }
}

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/** True for a PermanentError from any copy of the SDK (or any error whose `code` is `PERMANENT`). */
export function isPermanentError(err: unknown): err is PermanentError {
  if (err instanceof PermanentError) return true;
  if (typeof err !== 'object' || err === null) return false;
  return field(err, 'code') === PERMANENT_ERROR_CODE || field(err, 'name') === 'PermanentError';
}

/** True for a RateLimitedError from any copy of the SDK; `retryAfterSeconds` is then a number. */
export function isRateLimitedError(err: unknown): err is RateLimitedError {
  if (err instanceof RateLimitedError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const isRateLimited =
    field(err, 'code') === RATE_LIMITED_ERROR_CODE || field(err, 'name') === 'RateLimitedError';
  return isRateLimited && typeof field(err, 'retryAfterSeconds') === 'number';
}

/**
 * Parses an HTTP `Retry-After` value (delta seconds or an HTTP date) into whole seconds
 * (≥ 0). Returns undefined when the value is missing or unparsable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed));
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
