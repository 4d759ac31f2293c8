import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** A request as the auth schemes see it: the untouched body bytes and Node's lower-cased headers. */
export type SignedRequest = { raw: Buffer; headers: IncomingHttpHeaders; nowMs: number };

/** The trigger's auth with its secrets unsealed (only ever held in memory for one request). */
export type AuthKeys = {
  secrets: string[];
  headerName?: string | null;
  username?: string | null;
  password?: string | null;
  toleranceSeconds: number;
};

export type AuthFailure = { ok: false; reason: 'AUTH' | 'SIGNATURE' | 'TIMESTAMP'; detail: string };
export type AuthResult = { ok: true } | AuthFailure;

export const OK: AuthResult = { ok: true };
export const fail = (reason: AuthFailure['reason'], detail: string): AuthFailure => ({
  ok: false,
  reason,
  detail,
});

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}

export function hmacSha256(key: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Constant-time for equal lengths; the expected length is public (it is the digest size). */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Compares secrets of any length in constant time by comparing their hashes. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** True when any candidate matches any expected value; every pair is compared (no early exit). */
export function anyMatch<T>(candidates: T[], expected: T[], same: (a: T, b: T) => boolean): boolean {
  let matched = false;
  for (const c of candidates) for (const e of expected) matched = same(c, e) || matched;
  return matched;
}

/** A Unix timestamp (seconds) within ±toleranceSeconds of now; a missing or non-numeric one is a SIGNATURE failure. */
export function checkTimestamp(
  value: string | undefined,
  nowMs: number,
  toleranceSeconds: number,
): AuthResult {
  if (!value || !/^\d{1,12}$/.test(value))
    return fail('SIGNATURE', 'the signature timestamp is missing or malformed');
  const skew = Math.abs(nowMs / 1000 - Number(value));
  return skew <= toleranceSeconds
    ? OK
    : fail(
        'TIMESTAMP',
        `the signature timestamp is ${Math.round(skew)} s away from now (tolerance ${toleranceSeconds} s)`,
      );
}

export function hexBytes(value: string): Buffer | undefined {
  return /^[0-9a-f]+$/i.test(value) && value.length % 2 === 0 ? Buffer.from(value, 'hex') : undefined;
}

export function base64Bytes(value: string): Buffer | undefined {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : undefined;
}
