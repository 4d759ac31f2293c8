import {
  anyMatch,
  fail,
  header,
  hexBytes,
  hmacSha256,
  OK,
  sameBytes,
  type AuthKeys,
  type AuthResult,
  type SignedRequest,
} from './common';

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. No timestamp in the scheme.
 * (node:crypto directly: the ESM-only Octokit helper does not load under CommonJS.)
 */
export function verifyGithub(req: SignedRequest, keys: AuthKeys): AuthResult {
  const value = header(req.headers, 'x-hub-signature-256');
  if (!value) return fail('SIGNATURE', 'X-Hub-Signature-256 is missing');
  const given = value.startsWith('sha256=') ? hexBytes(value.slice(7)) : undefined;
  if (!given) return fail('SIGNATURE', 'X-Hub-Signature-256 is not "sha256=<hex>"');
  const expected = keys.secrets.map((s) => hmacSha256(s, req.raw));
  return anyMatch([given], expected, sameBytes) ? OK : fail('SIGNATURE', 'no secret produces this signature');
}
