/**
 * Egress-checked fetch for plugin actions (SSRF protection).
 *
 * - only http: and https: URLs;
 * - destinations in loopback, private, link-local, CGNAT, multicast, unspecified, broadcast,
 *   reserved/documentation ranges, cloud metadata endpoints, and IPv6 forms that embed such an
 *   IPv4 address (IPv4-mapped, IPv4-translated, NAT64, 6to4) are refused;
 * - odd IPv4 spellings (`127.1`, `0x7f000001`, `2130706433`) are normalised by WHATWG URL
 *   parsing before the check;
 * - DNS is resolved by the connection's own `lookup`, which checks every resolved address and
 *   hands only the permitted ones to the socket, so it connects to an address that was checked
 *   (no DNS-rebinding window);
 * - redirects are followed here (max 5 by default), each hop checked again;
 * - hosts and CIDRs in `allow` are permitted even when private (HOOKFLOW_EGRESS_ALLOW);
 * - raw TCP connections (`createEgressConnect`, the plugins' `ctx.connect`) get the same host
 *   check and the same checked lookup.
 */
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { PermanentError, type ConnectFunction, type ConnectOptions } from '@hookflow/sdk';

type IP = ipaddr.IPv4 | ipaddr.IPv6;

export type EgressDecision = { allowed: true; reason?: string } | { allowed: false; reason: string };

export type AllowList = {
  hosts: ReadonlySet<string>;
  /** From `*.example.internal` entries: matches sub-domains, stored as `.example.internal`. */
  suffixes: readonly string[];
  ranges: readonly [IP, number][];
};

export type ResolvedAddress = { address: string; family: 4 | 6 };
/** Resolves a host name to addresses (defaults to the OS resolver, like any Node socket). */
export type Resolver = (hostname: string, family: 0 | 4 | 6) => Promise<ResolvedAddress[]>;

export type EgressOptions = {
  /** Host names (`api.internal`, `*.corp.example`), IPs or CIDRs permitted even when private. */
  allow?: readonly string[];
  maxRedirects?: number;
  /** Replaces DNS resolution (tests); every answer is still checked. */
  resolve?: Resolver;
};

export type EgressFetch = typeof fetch & {
  /** A TCP connect under the same policy: what plugins get as `ctx.connect`. */
  connect: ConnectFunction;
  close(): Promise<void>;
};

/** A destination refused by the egress policy. Permanent: retrying cannot succeed. */
export class EgressBlockedError extends PermanentError {
  readonly host: string;
  readonly address?: string;
  readonly reason: string;

  constructor(message: string, info: { host: string; address?: string; reason: string }) {
    super(message);
    this.name = 'EgressBlockedError';
    this.host = info.host;
    if (info.address !== undefined) this.address = info.address;
    this.reason = info.reason;
  }
}

export function isEgressBlockedError(err: unknown): err is EgressBlockedError {
  return (
    err instanceof EgressBlockedError ||
    (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'EgressBlockedError')
  );
}

const METADATA_ADDRESSES = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack…
  '169.254.170.2', // AWS ECS task metadata
  '100.100.100.200', // Alibaba Cloud
  '192.0.0.192', // Oracle Cloud
  'fd00:ec2::254', // AWS IMDS over IPv6
]);
const METADATA_HOSTNAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

/** `localhost` and `*.localhost` always mean loopback (RFC 6761), whatever DNS says. */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

const RANGE_REASONS: Record<string, string> = {
  unspecified: 'unspecified address',
  broadcast: 'broadcast address',
  multicast: 'multicast address',
  linkLocal: 'link-local address',
  loopback: 'loopback address',
  carrierGradeNat: 'carrier-grade NAT range (RFC 6598)',
  private: 'private network (RFC 1918)',
  reserved: 'reserved or documentation range',
  uniqueLocal: 'unique-local IPv6 address (private network)',
  deprecatedSiteLocal: 'site-local IPv6 address (private network)',
  teredo: 'Teredo tunnel address',
  rfc6052: 'NAT64 local-use range',
  discard: 'discard-only range',
  benchmarking: 'benchmarking range',
};

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function normaliseHost(host: string): string {
  return stripBrackets(host.trim().toLowerCase()).replace(/\.+$/, '');
}

function parseIp(value: string): IP | undefined {
  const bare = stripBrackets(value.trim());
  const withoutZone = bare.split('%')[0]!;
  if (net.isIP(withoutZone) === 0) return undefined;
  try {
    return ipaddr.parse(withoutZone);
  } catch {
    return undefined;
  }
}

/** Parses HOOKFLOW_EGRESS_ALLOW entries; throws on an entry that is neither a host, an IP nor a CIDR. */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  const ranges: [IP, number][] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry.includes('/')) {
      const [addr, bits] = entry.split('/');
      const ip = parseIp(addr!);
      const prefix = Number(bits);
      const max = ip?.kind() === 'ipv4' ? 32 : 128;
      if (!ip || !/^\d{1,3}$/.test(bits ?? '') || prefix > max) {
        throw new Error(`invalid egress allow entry "${raw}": not a CIDR`);
      }
      ranges.push([ip, prefix]);
      continue;
    }
    const ip = parseIp(entry);
    if (ip) {
      ranges.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
      continue;
    }
    const wildcard = entry.startsWith('*.');
    const host = normaliseHost(wildcard ? entry.slice(2) : entry);
    if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(host)) {
      throw new Error(`invalid egress allow entry "${raw}": expected a host name, an IP address or a CIDR`);
    }
    if (wildcard) suffixes.push(`.${host}`);
    else hosts.add(host);
  }
  return { hosts, suffixes, ranges };
}

function toAllowList(allow: readonly string[] | AllowList | undefined): AllowList {
  if (!allow) return { hosts: new Set(), suffixes: [], ranges: [] };
  return Array.isArray(allow) ? parseAllowList(allow as readonly string[]) : (allow as AllowList);
}

function inAllowedRange(ip: IP, allow: AllowList): boolean {
  const candidates: IP[] = [ip];
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    candidates.push((ip as ipaddr.IPv6).toIPv4Address());
  return candidates.some((c) =>
    allow.ranges.some(([range, bits]) => range.kind() === c.kind() && c.match(range, bits)),
  );
}

/** True when the host name (not an IP) is allow-listed by name. */
export function isHostAllowListed(host: string, allow: readonly string[] | AllowList = []): boolean {
  const list = toAllowList(allow);
  const name = normaliseHost(host);
  return list.hosts.has(name) || list.suffixes.some((s) => name.endsWith(s));
}

function embeddedIPv4(parts: number[], hi: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([parts[hi]! >> 8, parts[hi]! & 0xff, parts[hi + 1]! >> 8, parts[hi + 1]! & 0xff]);
}

/** Why a (non-allow-listed) address is not a public destination, or undefined when it is. */
function blockReason(ip: IP): string | undefined {
  const text = ip.toString();
  if (METADATA_ADDRESSES.has(text)) return 'cloud metadata endpoint';
  if (ip.kind() === 'ipv4') {
    const range = (ip as ipaddr.IPv4).range();
    if (range === 'unicast') return undefined;
    return RANGE_REASONS[range] ?? `special-purpose range (${range})`;
  }
  const v6 = ip as ipaddr.IPv6;
  const parts = v6.parts;
  const range = v6.range();
  const embedded = (what: string, v4: ipaddr.IPv4) => {
    const inner = blockReason(v4);
    return inner ? `${what} of ${v4.toString()} (${inner})` : undefined;
  };
  if (range === 'ipv4Mapped') return embedded('IPv4-mapped address', v6.toIPv4Address());
  if (range === 'rfc6145') return embedded('IPv4-translated address', embeddedIPv4(parts, 6));
  if (range === 'rfc6052') {
    // 64:ff9b::/96 is the well-known NAT64 prefix (the IPv4 address is the last 32 bits);
    // 64:ff9b:1::/48 is for local use only.
    const wellKnown = parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0;
    return wellKnown ? embedded('NAT64 address', embeddedIPv4(parts, 6)) : RANGE_REASONS.rfc6052;
  }
  if (range === '6to4') return embedded('6to4 address', embeddedIPv4(parts, 1));
  if (range !== 'unicast') return RANGE_REASONS[range] ?? `special-purpose IPv6 range (${range})`;
  if (parts.slice(0, 6).every((p) => p === 0)) return 'IPv4-compatible IPv6 address (deprecated)';
  // Only 2000::/3 is global unicast; everything else is unassigned.
  if ((parts[0]! & 0xe000) !== 0x2000) return 'not a global unicast IPv6 address';
  return undefined;
}

/** Checks one IP address against the policy. Pure: no DNS, no network. */
export function checkAddress(address: string, allow: readonly string[] | AllowList = []): EgressDecision {
  const ip = parseIp(address);
  if (!ip) return { allowed: false, reason: 'not an IP address' };
  const list = toAllowList(allow);
  if (inAllowedRange(ip, list)) return { allowed: true, reason: 'allow-listed' };
  const reason = blockReason(ip);
  return reason ? { allowed: false, reason } : { allowed: true };
}

/**
 * Checks a host (name or IP address) before any connection: IP literals, and names that are local
 * or metadata by definition. Returns the normalised host and whether it is trusted as it stands
 * (an IP that passed, or a name on the allow list): resolved addresses of other names are checked
 * by `checkedLookup`. Throws EgressBlockedError.
 */
export function checkHost(
  hostname: string,
  allow: readonly string[] | AllowList = [],
): { host: string; trustedHost: boolean } {
  const list = toAllowList(allow);
  const host = normaliseHost(hostname);
  if (host === '') throw new EgressBlockedError('egress blocked: no host', { host, reason: 'no host' });
  if (parseIp(host)) {
    const decision = checkAddress(host, list);
    if (!decision.allowed) {
      throw new EgressBlockedError(`egress blocked: ${hostname} — ${decision.reason}`, {
        host: hostname,
        address: host,
        reason: decision.reason,
      });
    }
    return { host, trustedHost: true };
  }
  if (isHostAllowListed(host, list)) return { host, trustedHost: true };
  if (METADATA_HOSTNAMES.has(host)) {
    const reason = 'cloud metadata host name';
    throw new EgressBlockedError(`egress blocked: ${host} — ${reason}`, { host, reason });
  }
  if (
    isLocalhostName(host) &&
    !checkAddress('127.0.0.1', list).allowed &&
    !checkAddress('::1', list).allowed
  ) {
    const reason = 'loopback host name';
    throw new EgressBlockedError(`egress blocked: ${host} — ${reason}`, { host, reason });
  }
  return { host, trustedHost: false };
}

/**
 * Checks a URL before any connection: the scheme, then the host (`checkHost`). Returns whether
 * the host is trusted by name (resolved addresses are then not checked). Throws EgressBlockedError.
 */
export function checkUrl(
  input: string | URL,
  allow: readonly string[] | AllowList = [],
): { url: URL; trustedHost: boolean } {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new EgressBlockedError(`egress blocked: "${String(input)}" is not a valid URL`, {
      host: '',
      reason: 'invalid URL',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EgressBlockedError(
      `egress blocked: the "${url.protocol}" scheme is not allowed (only http and https)`,
      {
        host: url.hostname,
        reason: 'scheme not allowed',
      },
    );
  }
  if (normaliseHost(url.hostname) === '') {
    throw new EgressBlockedError(`egress blocked: "${url.href}" has no host`, {
      host: '',
      reason: 'no host',
    });
  }
  return { url, trustedHost: checkHost(url.hostname, allow).trustedHost };
}

const defaultResolver: Resolver = async (hostname, family) => {
  const answers = await dns.promises.lookup(hostname, { all: true, family, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * A `net` lookup function that resolves the name, keeps only the addresses that pass the
 * policy (the socket can only connect to those) and refuses the connection when none does.
 */
export function checkedLookup(allow: AllowList, resolve: Resolver = defaultResolver): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    const host = normaliseHost(hostname);
    const family = options?.family === 4 || options?.family === 6 ? options.family : 0;
    resolve(host, family)
      .then((answers) => {
        if (answers.length === 0) {
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {
            code: 'ENOTFOUND',
            hostname: host,
          });
        }
        let usable = answers;
        if (!isHostAllowListed(host, allow)) {
          // Connect only to addresses that pass the check; refuse when none does.
          const decisions = answers.map((answer) => ({
            answer,
            decision: checkAddress(answer.address, allow),
          }));
          usable = decisions.filter((d) => d.decision.allowed).map((d) => d.answer);
          const firstBlocked = decisions.find((d) => !d.decision.allowed);
          if (usable.length === 0 && firstBlocked) {
            const { answer, decision } = firstBlocked;
            const reason = decision.allowed ? '' : decision.reason;
            const all = answers.length > 1 ? ` (and ${answers.length - 1} other blocked address(es))` : '';
            throw new EgressBlockedError(
              `egress blocked: ${host} resolves to ${answer.address}${all} — ${reason}`,
              {
                host,
                address: answer.address,
                reason,
              },
            );
          }
        }
        return usable;
      })
      .then(
        (usable) => {
          if (options?.all) callback(null, usable);
          else callback(null, usable[0]!.address, usable[0]!.family);
        },
        (err: unknown) => callback(err),
      );
  }) as unknown as net.LookupFunction;
}

function findEgressError(err: unknown, depth = 0): EgressBlockedError | undefined {
  if (depth > 8 || typeof err !== 'object' || err === null) return undefined;
  if (isEgressBlockedError(err)) return err;
  const nested = err as { cause?: unknown; errors?: unknown[] };
  if (Array.isArray(nested.errors)) {
    for (const e of nested.errors) {
      const found = findEgressError(e, depth + 1);
      if (found) return found;
    }
  }
  return findEgressError(nested.cause, depth + 1);
}

type NormalisedRequest = {
  url: URL;
  method: string;
  headers: Headers;
  body: unknown;
  signal?: AbortSignal | null;
  redirect: RequestRedirect;
  rest: Record<string, unknown>;
};

function isRequestLike(input: unknown): input is Request {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof URL) &&
    typeof (input as Request).url === 'string'
  );
}

async function normaliseRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<NormalisedRequest> {
  const { method, headers, body, signal, redirect, ...rest } = (init ?? {}) as RequestInit &
    Record<string, unknown>;
  delete rest.dispatcher;
  if (isRequestLike(input)) {
    const requestBody =
      body !== undefined ? body : input.body ? new Uint8Array(await input.clone().arrayBuffer()) : undefined;
    return {
      url: new URL(input.url),
      method: (method ?? input.method ?? 'GET').toUpperCase(),
      headers: new Headers(headers ?? input.headers),
      body: requestBody,
      signal: signal !== undefined ? signal : input.signal,
      redirect: redirect ?? input.redirect ?? 'follow',
      rest,
    };
  }
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new TypeError(`invalid URL: ${String(input)}`);
  }
  return {
    url,
    method: (method ?? 'GET').toUpperCase(),
    headers: new Headers(headers),
    body,
    signal,
    redirect: redirect ?? 'follow',
    rest,
  };
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function isReplayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

/**
 * Returns a fetch that only reaches public destinations (plus the allow list), resolving DNS
 * itself and following redirects manually with a check at every hop.
 */
export function createEgressFetch(options: EgressOptions = {}): EgressFetch {
  const allow = parseAllowList(options.allow ?? []);
  const maxRedirects = options.maxRedirects ?? 5;
  const agent = new Agent({ connect: { lookup: checkedLookup(allow, options.resolve) } });

  const egressFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = await normaliseRequest(input, init);
    let { url, method, body } = req;
    const headers = req.headers;
    for (let redirects = 0; ; redirects++) {
      checkUrl(url, allow);
      let response: Awaited<ReturnType<typeof undiciFetch>>;
      try {
        response = await undiciFetch(url, {
          ...req.rest,
          method,
          headers,
          body: body as never,
          signal: req.signal ?? undefined,
          redirect: 'manual',
          dispatcher: agent,
        } as unknown as Parameters<typeof undiciFetch>[1]);
      } catch (err) {
        throw findEgressError(err) ?? err;
      }
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === null || req.redirect === 'manual') {
        return response as unknown as Response;
      }
      await response.body?.cancel().catch(() => {});
      if (req.redirect === 'error')
        throw new TypeError(`fetch: redirect to ${location} refused (redirect mode "error")`);
      if (redirects >= maxRedirects) {
        throw new TypeError(
          `fetch: too many redirects (more than ${maxRedirects}) starting at ${req.url.origin}${req.url.pathname}`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new TypeError(`fetch: invalid redirect location "${location}"`);
      }
      if (
        (response.status === 303 && method !== 'HEAD') ||
        ((response.status === 301 || response.status === 302) && method === 'POST')
      ) {
        method = 'GET';
        body = undefined;
        for (const h of [
          'content-type',
          'content-length',
          'content-encoding',
          'content-language',
          'content-location',
        ])
          headers.delete(h);
      } else if (!isReplayable(body)) {
        throw new TypeError(
          `fetch: cannot follow a ${response.status} redirect with a streamed request body`,
        );
      }
      if (next.origin !== url.origin) {
        for (const h of ['authorization', 'proxy-authorization', 'cookie']) headers.delete(h);
      }
      url = next;
    }
  };

  return Object.assign(egressFetch as typeof fetch, {
    connect: connectUnder(allow, options.resolve),
    close: () => agent.close(),
  });
}

const CONNECT_TIMEOUT_MS = 15_000;

/** Opens a socket and resolves once it is connected; the timeout covers the lookup and the TCP handshake. */
function openSocket(
  options: net.TcpNetConnectOpts,
  { signal, timeoutMs = CONNECT_TIMEOUT_MS }: ConnectOptions,
): Promise<net.Socket> {
  // net.connect would start connecting before it noticed the signal.
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...options, signal });
    const timedOut = () => {
      const message = `connecting to ${options.host}:${options.port} timed out after ${timeoutMs} ms`;
      socket.destroy(Object.assign(new Error(message), { code: 'ETIMEDOUT' }));
    };
    const failed = (err: Error) => reject(findEgressError(err) ?? err);
    socket.setTimeout(timeoutMs, timedOut);
    socket.once('error', failed);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('timeout', timedOut);
      socket.off('error', failed);
      resolve(socket);
    });
  });
}

function connectUnder(allow: AllowList, resolve?: Resolver): ConnectFunction {
  const lookup = checkedLookup(allow, resolve);
  return async (hostname, port, options = {}) => {
    // An IP literal never reaches the lookup, so checkHost is what checks it.
    const { host } = checkHost(hostname, allow);
    return openSocket({ host, port, lookup }, options);
  };
}

/**
 * A TCP connect under the egress policy, for protocols other than HTTP: the host is checked before
 * anything is sent, and a name is resolved by the checked lookup, so the socket can only connect to
 * an address that passed. Nothing is read from the peer before it resolves.
 */
export function createEgressConnect(options: EgressOptions = {}): ConnectFunction {
  return connectUnder(parseAllowList(options.allow ?? []), options.resolve);
}

const refuseConnections: ConnectFunction = async (host) => {
  const reason = 'no egress policy for sockets';
  throw new EgressBlockedError(`egress blocked: ${host} — ${reason}`, { host, reason });
};

/** The connect that belongs to an egress fetch (same policy); for any other fetch, one that refuses every connection. */
export function egressConnectOf(fetch: typeof globalThis.fetch): ConnectFunction {
  return (fetch as Partial<EgressFetch>).connect ?? refuseConnections;
}
