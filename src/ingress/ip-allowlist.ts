import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Matches the client address against IPv4/IPv6 addresses and CIDR ranges. The client address is the TCP
 * peer (the socket): `X-Forwarded-For` is not trusted, so behind a proxy the proxy's address is what counts.
 */
export type IpAllowlist = (address: string | undefined) => boolean;

function parseRange(entry: string): Range | undefined {
  try {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry);
    const ip = ipaddr.parse(entry);
    return [ip, ip.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined; // FlowService refuses these at save time; an unparsable entry matches nothing.
  }
}

export function compileAllowlist(entries: readonly string[]): IpAllowlist {
  const ranges = entries.map(parseRange).filter((r): r is Range => r !== undefined);
  if (!entries.length) return () => true;
  return (address) => {
    if (!address || !ipaddr.isValid(address)) return false;
    const ip = ipaddr.process(address); // "::ffff:10.0.0.1" → 10.0.0.1
    const forms = ip.kind() === 'ipv4' ? [ip, (ip as ipaddr.IPv4).toIPv4MappedAddress()] : [ip];
    return ranges.some(([range, bits]) =>
      forms.some((f) => f.kind() === range.kind() && f.match(range, bits)),
    );
  };
}

const cache = new Map<string, IpAllowlist>();

/** Compiled once per flow version. */
export function allowlistFor(versionId: string, entries: readonly string[]): IpAllowlist {
  let list = cache.get(versionId);
  if (!list) {
    if (cache.size >= 5000) cache.clear();
    list = compileAllowlist(entries);
    cache.set(versionId, list);
  }
  return list;
}

/** The socket's peer address, IPv4-mapped IPv6 shown as plain IPv4. */
export function clientAddress(remoteAddress: string | undefined): string | undefined {
  if (!remoteAddress || !ipaddr.isValid(remoteAddress)) return remoteAddress;
  return ipaddr.process(remoteAddress).toString();
}
