import {
  anyMatch,
  checkTimestamp,
  fail,
  header,
  hexBytes,
  hmacSha256,
  sameBytes,
  type AuthKeys,
  type AuthResult,
  type SignedRequest,
} from './common';

/**
 * Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` where each v1 is the hex
 * HMAC-SHA256 of `<t>.<body>`; during a Stripe secret roll several v1 values are sent.
 */
export function verifyStripe(req: SignedRequest, keys: AuthKeys): AuthResult {
  const value = header(req.headers, 'stripe-signature');
  if (!value) return fail('SIGNATURE', 'Stripe-Signature is missing');
  let t: string | undefined;
  const given: Buffer[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const [k, v] = [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
    if (k === 't') t = v;
    else if (k === 'v1') {
      const bytes = hexBytes(v);
      if (bytes) given.push(bytes);
    }
  }
  if (!t || !given.length) return fail('SIGNATURE', 'Stripe-Signature has no t= or no v1= value');
  const expected = keys.secrets.map((s) => hmacSha256(s, `${t}.`, req.raw));
  if (!anyMatch(given, expected, sameBytes)) return fail('SIGNATURE', 'no secret produces these signatures');
  return checkTimestamp(t, req.nowMs, keys.toleranceSeconds);
}
