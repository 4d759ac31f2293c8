/** What a stored delivery keeps of the request's headers and query string (src/ingress/request.ts). */
import { isSecretName, redactHeaders, redactQuery } from '../../src/ingress/request';

describe('the default redaction list', () => {
  it.each([
    'authorization',
    'proxy-authorization',
    'cookie',
    'x-auth',
    'x-auth-key',
    'x-auth-token',
    'x-session',
    'x-session-id',
    'x-private-key',
    'x-api-key',
    'x-apikey',
    'x-goog-api-key',
    'x-access-key',
    'x-csrf-token',
    'x-xsrf-token',
    'x-hub-signature-256',
    'stripe-signature',
    'webhook-signature',
    'x-shopify-hmac-sha256',
    'x-shopify-access-token',
    'x-gitlab-token',
    'x-amz-security-token',
    'x-jwt-assertion',
    'x-client-secret',
    'x-user-password',
    'x-bearer',
    'x-credentials',
    'x-otp',
  ])('redacts the header %s', (name) => {
    expect(isSecretName(name)).toBe(true);
    expect(redactHeaders({ [name]: 'v4lue-7f3e' })).toEqual({ [name]: '[redacted]' });
  });

  it.each([
    'content-type',
    'content-length',
    'user-agent',
    'accept',
    'accept-encoding',
    'host',
    'x-shop-id',
    'x-request-id',
    'x-forwarded-for',
    'x-github-event',
    'x-github-delivery',
    'x-shopify-topic',
    'x-shopify-webhook-id',
    'webhook-id',
    'webhook-timestamp',
    'idempotency-key',
    'x-idempotency-key',
    'x-slack-request-timestamp',
    'traceparent',
    'x-author',
    'x-keyword',
    'x-signal',
    'keep-alive',
  ])('keeps the everyday header %s', (name) => {
    expect(isSecretName(name)).toBe(false);
    expect(redactHeaders({ [name]: 'v4lue' })).toEqual({ [name]: 'v4lue' });
  });

  it.each([
    'access_token',
    'refresh_token',
    'id_token',
    'token',
    'client_secret',
    'api_key',
    'apiKey',
    'apikey',
    'key',
    'sig',
    'signature',
    'hmac',
    'X-Amz-Signature',
    'X-Amz-Credential',
    'password',
    'passwd',
    'pwd',
    'pass',
    'otp',
    'session',
    'sessionId',
    'auth',
    'hub.verify_token',
    'jwt',
  ])('redacts the query key %s', (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each([
    'order_id',
    'page',
    'limit',
    'utm_source',
    'email',
    'shop',
    'state',
    'timestamp',
    'keyword',
    'monkey',
    'author',
    'passenger',
    'design',
    'hub.mode',
  ])('keeps the everyday query key %s', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('redactHeaders', () => {
  it('joins repeated headers and redacts the extra names (what the trigger adds and its auth uses), without case', () => {
    const headers = {
      'x-shop-id': 'shop-7',
      'x-acme-account': 'acct-1',
      'x-tag': ['a', 'b'],
      'x-token-for': 'z',
    };
    expect(redactHeaders(headers, ['X-Acme-Account'])).toEqual({
      'x-shop-id': 'shop-7',
      'x-acme-account': '[redacted]',
      'x-tag': 'a, b',
      'x-token-for': '[redacted]',
    });
  });
});

describe('redactQuery', () => {
  it('redacts secret keys at any depth, and in arrays, keeping everything else', () => {
    const query = {
      order_id: '1001',
      access_token: 'at-7f3e',
      auth: { user: 'ada', pass: 'p-7f3e' },
      data: { api_key: 'k-7f3e', items: [{ sku: 'A', sig: 's-7f3e' }] },
      tokens: ['t1', 't2'],
    };
    const redacted = redactQuery(query);
    expect(redacted).toEqual({
      order_id: '1001',
      access_token: '[redacted]',
      auth: '[redacted]',
      data: { api_key: '[redacted]', items: [{ sku: 'A', sig: '[redacted]' }] },
      tokens: '[redacted]',
    });
    expect(JSON.stringify(redacted)).not.toContain('7f3e');
    expect(query.access_token).toBe('at-7f3e'); // the input is not changed
  });

  it('redacts the extra names without case, and keeps the names in `keep` as they are', () => {
    expect(
      redactQuery(
        { Customer: 'Ada', nested: { customer: 'Ada' }, token: 'x', other: '1' },
        ['customer'],
        ['token'],
      ),
    ).toEqual({ Customer: '[redacted]', nested: { customer: '[redacted]' }, token: 'x', other: '1' });
  });

  it('keeps a __proto__ key as an own field, and leaves non-objects alone', () => {
    const query = JSON.parse('{"__proto__": {"secret": "s"}, "a": "1"}') as Record<string, unknown>;
    const redacted = redactQuery(query);
    expect(Object.getPrototypeOf(redacted)).toBe(Object.prototype);
    expect(Object.keys(redacted)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(redacted)).toBe('{"__proto__":{"secret":"[redacted]"},"a":"1"}');
    expect(redactQuery(null)).toBeNull();
    expect(redactQuery('text')).toBe('text');
  });
});
