import { Webhook } from 'standardwebhooks';
import {
  anyMatch,
  checkTimestamp,
  fail,
  header,
  sameSecret,
  type AuthKeys,
  type AuthResult,
  type SignedRequest,
} from './common';

/**
 * Standard Webhooks (standardwebhooks.com): `webhook-signature: v1,<base64>[ v1,<base64>…]` over
 * `<webhook-id>.<webhook-timestamp>.<body>` with a `whsec_<base64>` secret. The package computes the
 * signature; the timestamp window is ours because the package's is fixed at 300 s.
 */
export function verifyStandardWebhooks(req: SignedRequest, keys: AuthKeys): AuthResult {
  const id = header(req.headers, 'webhook-id');
  const timestamp = header(req.headers, 'webhook-timestamp');
  const signatures = header(req.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    return fail('SIGNATURE', 'webhook-id, webhook-timestamp or webhook-signature is missing');
  }
  if (!/^\d{1,12}$/.test(timestamp)) return fail('SIGNATURE', 'webhook-timestamp is not a Unix timestamp');
  const given = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3));
  const expected: string[] = [];
  for (const secret of keys.secrets) {
    try {
      expected.push(new Webhook(secret).sign(id, new Date(Number(timestamp) * 1000), req.raw).slice(3));
    } catch {
      // Not a base64 (whsec_…) secret: it can never verify.
    }
  }
  if (!expected.length)
    return fail('SIGNATURE', 'the configured secrets are not Standard Webhooks secrets (whsec_…)');
  if (!anyMatch(given, expected, sameSecret)) return fail('SIGNATURE', 'no secret produces these signatures');
  return checkTimestamp(timestamp, req.nowMs, keys.toleranceSeconds);
}
