import type { SecretBox } from '../../services/crypto';
import type { StoredAuth } from '../../schema/definitions';
import { WebhookAuthType } from '../../schema/enums';
import { verifyBasic } from './basic';
import { OK, type AuthKeys, type AuthResult, type SignedRequest } from './common';
import { verifyGithub } from './github';
import { verifyHeaderToken } from './header-token';
import { verifyShopify } from './shopify';
import { verifySlack } from './slack';
import { verifyStandardWebhooks } from './standard-webhooks';
import { verifyStripe } from './stripe';

export type { AuthKeys, AuthResult, SignedRequest } from './common';

const schemes: Record<WebhookAuthType, (req: SignedRequest, keys: AuthKeys) => AuthResult> = {
  NONE: () => OK,
  HEADER_TOKEN: verifyHeaderToken,
  BASIC: verifyBasic,
  STANDARD_WEBHOOKS: verifyStandardWebhooks,
  STRIPE: verifyStripe,
  GITHUB: verifyGithub,
  SHOPIFY: verifyShopify,
  SLACK: verifySlack,
};

export function unsealAuth(auth: StoredAuth, box: SecretBox): AuthKeys {
  return {
    secrets: auth.sealedSecrets.map((s) => box.decrypt(s)),
    password: auth.sealedPassword ? box.decrypt(auth.sealedPassword) : null,
    username: auth.username,
    headerName: auth.headerName,
    toleranceSeconds: auth.toleranceSeconds,
  };
}

/** Checks the request against the trigger's scheme, on the raw body bytes. */
export function verifyAuth(type: WebhookAuthType, req: SignedRequest, keys: AuthKeys): AuthResult {
  return schemes[type](req, keys);
}

/** Headers that carry a scheme's credentials, besides those redactHeaders recognises by name. */
export function credentialHeaders(auth: StoredAuth): string[] {
  return auth.type === WebhookAuthType.HEADER_TOKEN && auth.headerName ? [auth.headerName.toLowerCase()] : [];
}
