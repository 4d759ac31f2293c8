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
 * Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<body>">` with the app's
 * signing secret.
 */
export function verifySlack(req: SignedRequest, keys: AuthKeys): AuthResult {
  const value = header(req.headers, 'x-slack-signature');
  const timestamp = header(req.headers, 'x-slack-request-timestamp');
  if (!value || !timestamp)
    return fail('SIGNATURE', 'X-Slack-Signature or X-Slack-Request-Timestamp is missing');
  const given = value.startsWith('v0=') ? hexBytes(value.slice(3)) : undefined;
  if (!given) return fail('SIGNATURE', 'X-Slack-Signature is not "v0=<hex>"');
  const expected = keys.secrets.map((s) => hmacSha256(s, `v0:${timestamp}:`, req.raw));
  if (!anyMatch([given], expected, sameBytes)) return fail('SIGNATURE', 'no secret produces this signature');
  return checkTimestamp(timestamp, req.nowMs, keys.toleranceSeconds);
}
