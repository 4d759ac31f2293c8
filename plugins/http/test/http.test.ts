import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentError, isPermanentError, isRateLimitedError, testAction } from '@hookflow/sdk';
import { createEgressFetch, EgressBlockedError, type EgressFetch } from '../../../src/plugins-host/egress';
import plugin, { DEFAULT_MAX_RESPONSE_BYTES } from '../src';

type Hit = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

const MiB = 1024 * 1024;
let server: http.Server;
let base: string;
let closedPort: number;
const hits: Hit[] = [];
let egressFetch: EgressFetch;

function route(hit: Hit, res: http.ServerResponse) {
  const url = new URL(hit.url, 'http://x');
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  switch (url.pathname) {
    case '/echo':
      return json(
        200,
        { method: hit.method, query: Object.fromEntries(url.searchParams), body: hit.body },
        { 'x-reply': 'yes' },
      );
    case '/text':
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('plain text answer');
    case '/bad-json':
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{not json');
    case '/empty':
      res.writeHead(204);
      return res.end();
    case '/status': {
      const status = Number(url.searchParams.get('code'));
      const headers: Record<string, string> = {};
      if (url.searchParams.get('retryAfter')) headers['retry-after'] = url.searchParams.get('retryAfter')!;
      return json(status, { error: `status ${status}` }, headers);
    }
    case '/big': {
      const size = Number(url.searchParams.get('bytes'));
      const chunked = url.searchParams.get('chunked') === '1';
      res.writeHead(200, {
        'content-type': 'text/plain',
        ...(chunked ? {} : { 'content-length': String(size) }),
      });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const write = () => {
        while (sent < size) {
          const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
          sent += part.length;
          if (!res.write(part)) return res.once('drain', write);
        }
        res.end();
      };
      return write();
    }
    case '/slow':
      return setTimeout(() => json(200, { slow: true }), 2000).unref();
    default:
      return json(404, { error: 'not found' });
  }
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const hit = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      hits.push(hit);
      route(hit, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port with nothing listening: bind, remember, close.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  egressFetch = createEgressFetch({ allow: ['127.0.0.1'] });
});

afterAll(async () => {
  await egressFetch.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  hits.length = 0;
});

const call = (input: Record<string, unknown>, extra: { signal?: AbortSignal } = {}) =>
  testAction(plugin, 'request', { input, fetch: egressFetch, ...extra });

describe('http plugin definition', () => {
  it('is the "http" plugin with a "request" action (and the Slack webhook preset)', () => {
    expect(plugin.name).toBe('http');
    expect(Object.keys(plugin.actions)).toEqual(['request', 'slackWebhook']);
    expect(plugin.actions.request.input.parse({ url: 'https://example.com' })).toMatchObject({
      method: 'POST',
      timeoutMs: 30000,
      failOnStatus: true,
      maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    });
  });
});

describe('http.request', () => {
  it('sends JSON bodies, headers and query parameters (POST by default)', async () => {
    const out = await call({
      url: `${base}/echo?keep=1`,
      headers: { 'X-Api-Key': 'k1', Accept: 'application/json' },
      query: { q: 'a b', page: '2' },
      body: { order: 42, items: [{ sku: 'A' }] },
    });
    expect(hits).toHaveLength(1);
    const hit = hits[0]!;
    expect(hit.method).toBe('POST');
    expect(hit.url).toBe('/echo?keep=1&q=a+b&page=2');
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['x-api-key']).toBe('k1');
    expect(hit.headers['user-agent']).toMatch(/^Hookflow/);
    expect(JSON.parse(hit.body)).toEqual({ order: 42, items: [{ sku: 'A' }] });
    expect(out.status).toBe(200);
    expect(out.headers['x-reply']).toBe('yes');
    expect(out.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(out.body).toEqual({ method: 'POST', query: { keep: '1', q: 'a b', page: '2' }, body: hit.body });
  });

  it('sends arrays as JSON and strings as they are, keeping a given content-type', async () => {
    await call({ method: 'PUT', url: `${base}/echo`, body: [1, 2] });
    expect(hits[0]!.headers['content-type']).toBe('application/json');
    expect(hits[0]!.body).toBe('[1,2]');
    await call({
      method: 'PATCH',
      url: `${base}/echo`,
      body: 'a=1&b=2',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(hits[1]!.method).toBe('PATCH');
    expect(hits[1]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(hits[1]!.body).toBe('a=1&b=2');
    await call({
      method: 'POST',
      url: `${base}/echo`,
      body: { a: 1 },
      headers: { 'Content-Type': 'application/vnd.api+json' },
    });
    expect(hits[2]!.headers['content-type']).toBe('application/vnd.api+json');
  });

  it('returns text for non-JSON answers, text for broken JSON and null for an empty JSON answer', async () => {
    await expect(call({ method: 'GET', url: `${base}/text` })).resolves.toMatchObject({
      status: 200,
      body: 'plain text answer',
    });
    await expect(call({ method: 'GET', url: `${base}/bad-json` })).resolves.toMatchObject({
      body: '{not json',
    });
    await expect(call({ method: 'DELETE', url: `${base}/empty` })).resolves.toMatchObject({
      status: 204,
      body: '',
    });
    await expect(call({ method: 'HEAD', url: `${base}/echo` })).resolves.toMatchObject({
      status: 200,
      body: null,
    });
  });

  it('refuses a body on GET', async () => {
    const err = await call({ method: 'GET', url: `${base}/echo`, body: { a: 1 } }).catch((e) => e);
    expect(isPermanentError(err)).toBe(true);
    expect(err.message).toContain('a GET request cannot have a body');
    expect(hits).toHaveLength(0);
  });

  it('rejects invalid input permanently', async () => {
    const err = await call({ method: 'FETCH', url: 'ftp://example.com/x', timeoutMs: -1 }).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(
      /method: .*url: must be an absolute http:\/\/ or https:\/\/ URL.*timeoutMs: /,
    );
  });

  it.each([400, 401, 403, 404, 409, 422])('a %i answer is a permanent failure', async (code) => {
    const err = await call({ method: 'GET', url: `${base}/status?code=${code}` }).catch((e) => e);
    expect(isPermanentError(err)).toBe(true);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toContain(`GET ${base}/status answered ${code}`);
    expect(err.message).toContain(`"error":"status ${code}"`);
  });

  it('a 429 answer is rate-limited with the Retry-After seconds (60 s without it)', async () => {
    const err = await call({ url: `${base}/status?code=429&retryAfter=17` }).catch((e) => e);
    expect(isRateLimitedError(err)).toBe(true);
    expect(isPermanentError(err)).toBe(false);
    expect(err.retryAfterSeconds).toBe(17);
    const noHeader = await call({ url: `${base}/status?code=429` }).catch((e) => e);
    expect(noHeader.retryAfterSeconds).toBe(60);
  });

  it.each([408, 500, 502, 503])('a %i answer is a retryable failure', async (code) => {
    const err = await call({ url: `${base}/status?code=${code}` }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isPermanentError(err)).toBe(false);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toContain(`answered ${code}`);
  });

  it('returns every status as output when failOnStatus is false', async () => {
    await expect(call({ url: `${base}/status?code=404`, failOnStatus: false })).resolves.toMatchObject({
      status: 404,
      body: { error: 'status 404' },
    });
    await expect(call({ url: `${base}/status?code=503`, failOnStatus: false })).resolves.toMatchObject({
      status: 503,
    });
  });

  it.each([
    ['with content-length', '0'],
    ['chunked', '1'],
  ])('caps the response body at 1 MiB by default (%s)', async (_name, chunked) => {
    const ok = await call({ method: 'GET', url: `${base}/big?bytes=${MiB}&chunked=${chunked}` });
    expect((ok.body as string).length).toBe(MiB);
    const err = await call({ method: 'GET', url: `${base}/big?bytes=${MiB + 1}&chunked=${chunked}` }).catch(
      (e) => e,
    );
    expect(isPermanentError(err)).toBe(true);
    expect(err.message).toContain(`larger than ${MiB} bytes`);
  });

  it('honours a smaller maxResponseBytes', async () => {
    const err = await call({
      method: 'GET',
      url: `${base}/big?bytes=200&chunked=1`,
      maxResponseBytes: 100,
    }).catch((e) => e);
    expect(err.message).toContain('larger than 100 bytes');
  });

  it('times out with a retryable error', async () => {
    const started = Date.now();
    const err = await call({ method: 'GET', url: `${base}/slow`, timeoutMs: 200 }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toBe(`GET ${base}/slow timed out after 200 ms`);
  });

  it('stops when the step is cancelled (ctx.signal)', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('step cancelled')), 100);
    await expect(call({ method: 'GET', url: `${base}/slow` }, { signal: controller.signal })).rejects.toThrow(
      'step cancelled',
    );
  });

  it('turns network errors into retryable errors', async () => {
    const err = await call({ url: `http://127.0.0.1:${closedPort}/` }).catch((e) => e);
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toMatch(
      new RegExp(`POST http://127\\.0\\.0\\.1:${closedPort}/ failed: fetch failed: .*ECONNREFUSED`),
    );
  });

  it('goes through ctx.fetch only, so the egress policy applies', async () => {
    const globalFetch = jest.spyOn(globalThis, 'fetch');
    try {
      const err = await call({ url: 'http://169.254.169.254/latest/meta-data/' }).catch((e) => e);
      expect(err).toBeInstanceOf(EgressBlockedError);
      expect(isPermanentError(err)).toBe(true);
      await call({ url: `${base}/echo`, body: {} });
      expect(globalFetch).not.toHaveBeenCalled();
    } finally {
      globalFetch.mockRestore();
    }
  });

  it('does not leak the query string (it may hold secrets) in error messages', async () => {
    const err = await call({ url: `${base}/status?code=404`, query: { api_key: 'secret' } }).catch((e) => e);
    expect(err.message).not.toContain('secret');
  });
});
