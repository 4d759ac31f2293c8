import { fail, header, OK, sameSecret, type AuthKeys, type AuthResult, type SignedRequest } from './common';

/** HTTP Basic (RFC 7617): `Authorization: Basic base64(user:password)`; both parts are always compared. */
export function verifyBasic(req: SignedRequest, keys: AuthKeys): AuthResult {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header(req.headers, 'authorization') ?? '')?.[1];
  if (!encoded) return fail('AUTH', 'no Authorization: Basic header was sent');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return fail('AUTH', 'the Basic credentials have no ":"');
  const userOk = sameSecret(decoded.slice(0, colon), keys.username ?? '');
  const passwordOk = sameSecret(decoded.slice(colon + 1), keys.password ?? '');
  return userOk && passwordOk && keys.password ? OK : fail('AUTH', 'the username or password does not match');
}
