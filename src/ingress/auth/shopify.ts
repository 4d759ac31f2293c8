import {
  anyMatch,
  base64Bytes,
  fail,
  header,
  hmacSha256,
  OK,
  sameBytes,
  type AuthKeys,
  type AuthResult,
  type SignedRequest,
} from './common';

/** Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` with the app's secret. No timestamp. */
export function verifyShopify(req: SignedRequest, keys: AuthKeys): AuthResult {
  const value = header(req.headers, 'x-shopify-hmac-sha256');
  if (!value) return fail('SIGNATURE', 'X-Shopify-Hmac-Sha256 is missing');
  const given = base64Bytes(value);
  if (!given) return fail('SIGNATURE', 'X-Shopify-Hmac-Sha256 is not base64');
  const expected = keys.secrets.map((s) => hmacSha256(s, req.raw));
  return anyMatch([given], expected, sameBytes) ? OK : fail('SIGNATURE', 'no secret produces this signature');
}
