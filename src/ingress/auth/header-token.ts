import {
  anyMatch,
  fail,
  header,
  OK,
  sameSecret,
  type AuthKeys,
  type AuthResult,
  type SignedRequest,
} from './common';

export const DEFAULT_TOKEN_HEADER = 'X-Webhook-Token';

/** A shared token in a header (default X-Webhook-Token) or as `Authorization: Bearer <token>`. */
export function verifyHeaderToken(req: SignedRequest, keys: AuthKeys): AuthResult {
  const bearer = /^Bearer\s+(.+)$/i.exec(header(req.headers, 'authorization') ?? '')?.[1]?.trim();
  const token = header(req.headers, keys.headerName ?? DEFAULT_TOKEN_HEADER) ?? bearer;
  if (!token)
    return fail(
      'AUTH',
      `neither ${keys.headerName ?? DEFAULT_TOKEN_HEADER} nor Authorization: Bearer was sent`,
    );
  return anyMatch([token], keys.secrets, sameSecret) ? OK : fail('AUTH', 'the token does not match');
}
