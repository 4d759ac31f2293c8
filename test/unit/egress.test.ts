/**
 * Egress policy. No test sends traffic to a non-loopback address: blocked destinations are
 * refused before any connection (IP literals by the URL check, host names by the checked
 * lookup with an injected resolver), and "allowed public" cases use the pure checkAddress.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import {
  EgressBlockedError,
  checkAddress,
  checkUrl,
  createEgressConnect,
  createEgressFetch,
  egressConnectOf,
  parseAllowList,
  type EgressFetch,
  type Resolver,
} from '../../src/plugins-host/egress';

type Hit = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

async function startServer(handler: (req: Hit, res: http.ServerResponse) => void) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
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
      handler(hit, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function redirectTo(res: http.ServerResponse, location: string, status = 302) {
  res.writeHead(status, { location });
  res.end();
}

describe('checkUrl / checkAddress: blocked destinations', () => {
  const blocked: [url: string, reason: RegExp][] = [
    ['http://127.0.0.1/', /loopback/],
    ['http://127.1/', /loopback/],
    ['http://0x7f000001/', /loopback/],
    ['http://2130706433/', /loopback/],
    ['http://0177.0.0.1/', /loopback/],
    ['http://①②⑦.0.0.1/', /loopback/],
    ['http://[::1]/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /IPv4-mapped address of 127\.0\.0\.1 \(loopback/],
    ['http://[0:0:0:0:0:ffff:7f00:1]:8080/', /IPv4-mapped/],
    ['http://[::127.0.0.1]/', /IPv4-compatible/],
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['http://[fd00:ec2::254]/', /cloud metadata/],
    ['http://[::ffff:169.254.169.254]/', /cloud metadata/],
    ['http://[64:ff9b::a9fe:a9fe]/', /NAT64 address of 169\.254\.169\.254/],
    ['http://[2002:7f00:1::]/', /6to4 address of 127\.0\.0\.1/],
    ['http://100.100.100.200/', /cloud metadata/],
    ['http://169.254.1.1/', /link-local/],
    ['http://10.0.0.1', /private network/],
    ['http://172.16.5.4/', /private network/],
    ['http://192.168.1.1:8080/admin', /private network/],
    ['http://100.64.0.1', /carrier-grade NAT/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://0/', /unspecified/],
    ['http://224.0.0.1/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://240.0.0.1/', /reserved/],
    ['http://192.0.2.10/', /reserved or documentation/],
    ['http://[::]/', /unspecified/],
    ['http://[fe80::1]/', /link-local/],
    ['http://[fc00::1]/', /unique-local/],
    ['http://[ff02::1]/', /multicast/],
    ['http://[2001:db8::1]/', /reserved or documentation/],
    ['http://localhost', /loopback host name/],
    ['http://LOCALHOST./', /loopback host name/],
    ['http://api.localhost:3000/', /loopback host name/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata host name/],
    ['file:///etc/passwd', /"file:" scheme is not allowed/],
    ['ftp://example.com/file', /"ftp:" scheme is not allowed/],
    ['gopher://example.com:70/', /"gopher:" scheme is not allowed/],
    ['data:text/plain,hello', /"data:" scheme is not allowed/],
    ['not a url', /not a valid URL/],
  ];

  it.each(blocked)('checkUrl refuses %s', (url, reason) => {
    let error: unknown;
    try {
      checkUrl(url);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EgressBlockedError);
    expect((error as EgressBlockedError).message).toMatch(/^egress blocked: /);
    expect((error as EgressBlockedError).message).toMatch(reason);
    expect((error as EgressBlockedError).code).toBe('PERMANENT');
  });

  it.each(blocked.filter(([url]) => URL.canParse(url)))(
    'the egress fetch refuses %s before connecting',
    async (url, reason) => {
      const egressFetch = createEgressFetch({
        resolve: async () => {
          throw new Error('no DNS lookup is expected for these URLs');
        },
      });
      try {
        await expect(egressFetch(url)).rejects.toThrow(reason);
        await expect(egressFetch(url)).rejects.toBeInstanceOf(EgressBlockedError);
      } finally {
        await (egressFetch as EgressFetch).close();
      }
    },
  );
});

describe('checkAddress: allowed destinations (pure, no traffic)', () => {
  it.each([
    ['93.184.216.34'],
    ['8.8.8.8'],
    ['1.1.1.1'],
    ['11.0.0.1'],
    ['100.63.255.255'],
    ['100.128.0.1'],
    ['172.32.0.1'],
    ['192.169.0.1'],
    ['2606:4700:4700::1111'],
    ['2a00:1450:4001:80b::200e'],
    ['::ffff:8.8.8.8'],
    ['64:ff9b::808:808'],
  ])('%s is a public address', (ip) => {
    expect(checkAddress(ip)).toEqual({ allowed: true });
  });

  it.each([
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['10.1.2.3', ['10.0.0.0/16'], false],
    ['10.0.0.9', ['10.0.0.9'], true],
    ['::ffff:10.0.0.5', ['10.0.0.0/24'], true],
    ['127.0.0.1', ['127.0.0.0/8'], true],
    ['fd00::5', ['fd00::/8'], true],
    ['fd00:ec2::254', ['fd00::/8'], true],
    ['192.168.1.1', ['api.internal'], false],
  ])('%s with allow %j → allowed=%s', (ip, allow, allowed) => {
    expect(checkAddress(ip, allow).allowed).toBe(allowed);
  });

  it('allows host names by name and wildcard without resolving them', () => {
    expect(checkUrl('https://example.com/hook')).toEqual({
      url: new URL('https://example.com/hook'),
      trustedHost: false,
    });
    expect(checkUrl('http://localhost:3000/', ['localhost']).trustedHost).toBe(true);
    expect(checkUrl('http://api.internal/', ['API.internal']).trustedHost).toBe(true);
    expect(checkUrl('http://a.b.corp.example/', ['*.corp.example']).trustedHost).toBe(true);
    expect(checkUrl('http://corp.example/', ['*.corp.example']).trustedHost).toBe(false);
    expect(checkUrl('http://10.2.3.4/', ['10.0.0.0/8']).trustedHost).toBe(true);
  });

  it('refuses malformed allow entries', () => {
    expect(() => parseAllowList(['10.0.0.0/33'])).toThrow('invalid egress allow entry "10.0.0.0/33"');
    expect(() => parseAllowList(['host name with spaces'])).toThrow(/invalid egress allow entry/);
    expect(() => parseAllowList(['http://x.test/'])).toThrow(/invalid egress allow entry/);
    expect(parseAllowList([' ', '', '[::1]']).ranges).toHaveLength(1);
  });
});

describe('createEgressFetch against a local server', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let other: Awaited<ReturnType<typeof startServer>>;
  const fetches: EgressFetch[] = [];
  const make = (opts: Parameters<typeof createEgressFetch>[0]) => {
    const f = createEgressFetch(opts);
    fetches.push(f);
    return f;
  };

  beforeAll(async () => {
    other = await startServer((hit, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ server: 'other', authorization: hit.headers.authorization ?? null }));
    });
    server = await startServer((hit, res) => {
      const url = new URL(hit.url, 'http://x');
      const to = url.searchParams.get('to');
      if (url.pathname === '/redirect' && to)
        return redirectTo(res, to, Number(url.searchParams.get('status') ?? 302));
      const hops = /^\/hops\/(\d+)$/.exec(url.pathname);
      if (hops) return redirectTo(res, Number(hops[1]) > 0 ? `/hops/${Number(hops[1]) - 1}` : '/ok');
      if (url.pathname === '/loop') return redirectTo(res, '/loop');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: hit.method, path: hit.url, body: hit.body, host: hit.headers.host }));
    });
  });

  afterAll(async () => {
    await Promise.all(fetches.map((f) => f.close()));
    await server.close();
    await other.close();
  });

  beforeEach(() => {
    server.hits.length = 0;
  });

  it('reaches an allow-listed loopback IP', async () => {
    const res = await make({ allow: ['127.0.0.1'] })(`${server.url}/ok`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ method: 'GET', path: '/ok' });
  });

  it('reaches an address inside an allow-listed CIDR', async () => {
    const res = await make({ allow: ['127.0.0.0/8'] })(`${server.url}/ok`, { method: 'POST', body: 'hi' });
    expect(await res.json()).toMatchObject({ method: 'POST', body: 'hi' });
  });

  it('refuses loopback when it is not allow-listed, without sending anything', async () => {
    await expect(make({})(`${server.url}/ok`)).rejects.toThrow(
      'egress blocked: 127.0.0.1 — loopback address',
    );
    await expect(make({ allow: ['10.0.0.0/8'] })(`${server.url}/ok`)).rejects.toBeInstanceOf(
      EgressBlockedError,
    );
    expect(server.hits).toHaveLength(0);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 — cloud metadata endpoint/],
    ['http://10.0.0.1:8080/', /10\.0\.0\.1 — private network/],
    ['http://[::ffff:127.0.0.2]/', /IPv4-mapped/],
    ['file:///etc/passwd', /"file:" scheme is not allowed/],
    ['http://127.0.0.2/', /127\.0\.0\.2 — loopback address/],
    ['http://[::1]/', /\[::1\] — loopback address/],
  ])('refuses a redirect from an allowed server to %s', async (to, message) => {
    const egressFetch = make({ allow: ['127.0.0.1'] });
    const err = await egressFetch(`${server.url}/redirect?to=${encodeURIComponent(to)}`).catch((e) => e);
    expect(err).toBeInstanceOf(EgressBlockedError);
    expect(err.message).toMatch(message);
    expect(server.hits).toHaveLength(1);
  });

  it('follows up to 5 redirects, then fails', async () => {
    const egressFetch = make({ allow: ['127.0.0.1'] });
    const res = await egressFetch(`${server.url}/hops/4`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ path: '/ok' });
    server.hits.length = 0;
    await expect(egressFetch(`${server.url}/loop`)).rejects.toThrow(/too many redirects \(more than 5\)/);
    expect(server.hits).toHaveLength(6);
  });

  it('keeps method and body on 307, switches to GET on 303', async () => {
    const egressFetch = make({ allow: ['127.0.0.1'] });
    const r307 = await egressFetch(`${server.url}/redirect?status=307&to=/echo`, {
      method: 'PUT',
      body: '{"a":1}',
    });
    expect(await r307.json()).toMatchObject({ method: 'PUT', path: '/echo', body: '{"a":1}' });
    const r303 = await egressFetch(`${server.url}/redirect?status=303&to=/echo`, {
      method: 'POST',
      body: 'x',
    });
    expect(await r303.json()).toMatchObject({ method: 'GET', path: '/echo', body: '' });
  });

  it('drops the authorization header on a cross-origin redirect', async () => {
    const egressFetch = make({ allow: ['127.0.0.1'] });
    const res = await egressFetch(`${server.url}/redirect?to=${encodeURIComponent(`${other.url}/x`)}`, {
      headers: { authorization: 'Bearer secret' },
    });
    expect(await res.json()).toEqual({ server: 'other', authorization: null });
  });

  it('returns the redirect itself with redirect: "manual"', async () => {
    const res = await make({ allow: ['127.0.0.1'] })(`${server.url}/redirect?to=/ok`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/ok');
  });

  it('accepts a Request object', async () => {
    const res = await make({ allow: ['127.0.0.1'] })(
      new Request(`${server.url}/req`, { method: 'PATCH', body: 'b' }),
    );
    expect(await res.json()).toMatchObject({ method: 'PATCH', path: '/req', body: 'b' });
  });

  describe('host names: every resolved address is checked and is the one connected to', () => {
    const resolver =
      (table: Record<string, string[]>): Resolver =>
      async (hostname) => {
        const addresses = table[hostname];
        if (!addresses)
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
        return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
      };
    const table = {
      'rebind.test': ['10.0.0.5'],
      'mixed.test': ['10.0.0.7', '127.0.0.1'],
      'meta.test': ['169.254.169.254'],
      'mapped.test': ['::ffff:192.168.0.1'],
      'svc.test': ['127.0.0.1'],
    };

    it.each([
      ['rebind.test', /rebind\.test resolves to 10\.0\.0\.5 — private network/],
      [
        'mixed.test',
        /mixed\.test resolves to 10\.0\.0\.7 \(and 1 other blocked address\(es\)\) — private network/,
      ],
      ['meta.test', /resolves to 169\.254\.169\.254 — cloud metadata endpoint/],
      [
        'mapped.test',
        /resolves to ::ffff:192\.168\.0\.1 — IPv4-mapped address of 192\.168\.0\.1 \(private network/,
      ],
    ])('refuses %s at connect time', async (host, message) => {
      const err = await make({ resolve: resolver(table) })(`http://${host}:${server.port}/`).catch((e) => e);
      expect(err).toBeInstanceOf(EgressBlockedError);
      expect(err.message).toMatch(message);
      expect(server.hits).toHaveLength(0);
    });

    it('connects to the checked address when it is allow-listed by IP', async () => {
      const res = await make({ allow: ['127.0.0.1'], resolve: resolver(table) })(
        `http://svc.test:${server.port}/via-dns`,
      );
      expect(await res.json()).toMatchObject({ path: '/via-dns', host: `svc.test:${server.port}` });
    });

    it('connects only to the permitted addresses of a name with several answers', async () => {
      const res = await make({ allow: ['127.0.0.1'], resolve: resolver(table) })(
        `http://mixed.test:${server.port}/mixed`,
      );
      expect(await res.json()).toMatchObject({ path: '/mixed' });
    });

    it('treats localhost as loopback: refused unless a loopback address or the name is allow-listed', async () => {
      const localhost = resolver({ localhost: ['::1', '127.0.0.1'] });
      await expect(make({ resolve: localhost })(`http://localhost:${server.port}/`)).rejects.toThrow(
        /localhost — loopback host name/,
      );
      const res = await make({ allow: ['127.0.0.1'], resolve: localhost })(
        `http://localhost:${server.port}/lh`,
      );
      expect(await res.json()).toMatchObject({ path: '/lh' });
      expect(server.hits).toHaveLength(1);
    });

    it('trusts a host allow-listed by name whatever it resolves to', async () => {
      const res = await make({ allow: ['svc.test'], resolve: resolver(table) })(
        `http://svc.test:${server.port}/by-name`,
      );
      expect(await res.json()).toMatchObject({ path: '/by-name' });
    });

    it('refuses a redirect to a host name that resolves to a blocked address', async () => {
      const egressFetch = make({ allow: ['127.0.0.1'], resolve: resolver(table) });
      const to = encodeURIComponent(`http://rebind.test:${server.port}/`);
      await expect(egressFetch(`${server.url}/redirect?to=${to}`)).rejects.toThrow(
        /rebind\.test resolves to 10\.0\.0\.5/,
      );
      expect(server.hits).toHaveLength(1);
    });

    it('passes DNS failures through as ordinary (retryable) errors', async () => {
      const err = await make({ resolve: resolver(table) })('http://unknown.test/').catch((e) => e);
      expect(err).not.toBeInstanceOf(EgressBlockedError);
      expect(err).toBeInstanceOf(TypeError);
      expect(String(err.cause?.message ?? err.message)).toMatch(/ENOTFOUND/);
    });
  });
});

describe('createEgressConnect: raw TCP connections under the same policy', () => {
  const BANNER = 'svc-7f3e ready\n';
  let service: net.Server;
  let port: number;
  let connections = 0;
  const resolver =
    (table: Record<string, string[]>): Resolver =>
    async (hostname) => {
      const addresses = table[hostname];
      if (!addresses)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
  const table = {
    'rebind.test': ['10.0.0.5'],
    'mixed.test': ['10.0.0.7', '127.0.0.1'],
    'svc.test': ['127.0.0.1'],
  };

  /** The first bytes the peer sends on `socket`. */
  const firstData = (socket: net.Socket) =>
    new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));

  beforeAll(async () => {
    service = net.createServer((socket) => {
      connections++;
      socket.on('error', () => {});
      socket.end(BANNER);
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    port = (service.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => service.close(() => resolve())));
  beforeEach(() => {
    connections = 0;
  });

  it('connects to an allow-listed loopback address and hands over the socket with nothing read', async () => {
    const socket = await createEgressConnect({ allow: ['127.0.0.1'] })('127.0.0.1', port);
    expect(await firstData(socket)).toBe(BANNER);
    socket.destroy();
    expect(connections).toBe(1);
  });

  it.each<[host: string, message: RegExp]>([
    ['127.0.0.1', /^egress blocked: 127\.0\.0\.1 — loopback address$/],
    ['127.1', /^egress blocked: 127\.1 resolves to 127\.0\.0\.1 — loopback address$/],
    ['[::1]', /^egress blocked: \[::1\] — loopback address$/],
    ['::ffff:7f00:1', /IPv4-mapped address of 127\.0\.0\.1 \(loopback address\)$/],
    ['0.0.0.0', /unspecified address$/],
    ['localhost', /^egress blocked: localhost — loopback host name$/],
    ['10.0.0.1', /private network/],
    ['169.254.169.254', /cloud metadata endpoint$/],
    ['metadata.google.internal', /cloud metadata host name$/],
  ])('refuses %s before connecting, and its error holds nothing from the peer', async (host, message) => {
    const err = await createEgressConnect()(host, port).catch((e) => e);
    expect(err).toBeInstanceOf(EgressBlockedError);
    expect(err.message).toMatch(message);
    expect(String(err.stack)).not.toContain('svc-7f3e');
    expect(connections).toBe(0);
  });

  it('checks every address a name resolves to and connects only to one that passed', async () => {
    const connect = createEgressConnect({ allow: ['127.0.0.1'], resolve: resolver(table) });
    await expect(connect('rebind.test', port)).rejects.toThrow(
      /^egress blocked: rebind\.test resolves to 10\.0\.0\.5 — private network/,
    );
    expect(connections).toBe(0);
    const socket = await connect('mixed.test', port);
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(await firstData(socket)).toBe(BANNER);
    socket.destroy();
  });

  it('trusts a host allow-listed by name whatever it resolves to', async () => {
    const socket = await createEgressConnect({ allow: ['svc.test'], resolve: resolver(table) })(
      'svc.test',
      port,
    );
    expect(await firstData(socket)).toBe(BANNER);
    socket.destroy();
  });

  it('passes DNS failures and refused connections through as ordinary (retryable) errors', async () => {
    const connect = createEgressConnect({ allow: ['127.0.0.1'], resolve: resolver(table) });
    const notFound = await connect('unknown.test', port).catch((e) => e);
    expect(notFound).not.toBeInstanceOf(EgressBlockedError);
    expect(notFound.code).toBe('ENOTFOUND');

    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await connect('127.0.0.1', freePort).catch((e) => e);
    expect(refused).not.toBeInstanceOf(EgressBlockedError);
    expect(refused.code).toBe('ECONNREFUSED');
  });

  it('does not connect when the signal is already aborted', async () => {
    const connect = createEgressConnect({ allow: ['127.0.0.1'] });
    const err = await connect('127.0.0.1', port, { signal: AbortSignal.abort() }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(connections).toBe(0);
  });

  it('is what an egress fetch carries for plugins (ctx.connect); any other fetch gets one that refuses', async () => {
    const egressFetch = createEgressFetch({ allow: ['127.0.0.1'] });
    try {
      const socket = await egressConnectOf(egressFetch)('127.0.0.1', port);
      expect(await firstData(socket)).toBe(BANNER);
      socket.destroy();
      await expect(egressConnectOf(createEgressFetch())('127.0.0.1', port)).rejects.toThrow(
        /loopback address/,
      );
    } finally {
      await egressFetch.close();
    }
    const err = await egressConnectOf(globalThis.fetch)('example.com', 25).catch((e) => e);
    expect(err).toBeInstanceOf(EgressBlockedError);
    expect(err.message).toBe('egress blocked: example.com — no egress policy for sockets');
    expect(connections).toBe(1);
  });
});
