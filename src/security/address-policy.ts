import net, { type LookupFunction } from 'node:net';

/**
 * The SSRF address policy of outgoing webhooks: which URLs and addresses an endpoint may point at. The sender
 * (webhooks/webhook-sender.ts) applies it before a request and at connect time; endpoint creation and the
 * configuration (WEBHOOK_ALLOWED_ADDRESSES) use it to check what they are given.
 */

export interface EndpointAddressPolicy {
  allowHttp: boolean;
  allowedAddresses: string[];
}

/** Create-time check of an endpoint URL: null when acceptable, else a message naming the problem. */
export function endpointUrlProblem(url: string, policy: EndpointAddressPolicy): string | null {
  const checked = checkUrl(url, compilePolicy(policy));
  return typeof checked === 'string' ? checked : null;
}

/** An IP address or a CIDR range (`10.0.0.0/8`, `::1/128`), as an allow-list entry is written. */
export function isIpOrCidr(entry: string): boolean {
  return parseCidr(entry) !== null;
}

/** A refusal by our own check; travels through the socket's lookup and got's RequestError as the cause. */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_WEBHOOK_ADDRESS_BLOCKED';
}

/** The message of a policy refusal anywhere in error's cause chain, or null when error is something else. */
export function blockedReason(error: unknown): string | null {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof BlockedAddressError) return e.message;
    // request-filtering-agent's own refusal: only reached if our check let something through that it catches.
    const agent = /^DNS lookup (\S+?)\(family:.*is not allowed/.exec(e.message);
    if (agent) return `${agent[1]} is refused by the request filter (not allow-listed)`;
  }
  return null;
}

/**
 * A set of IPv4 and IPv6 subnets. net.BlockList matches an IPv4 address against IPv4-mapped IPv6 rules and the other
 * way round; keeping the families in separate lists and checking each address only against its own family matches
 * request-filtering-agent (ipaddr.js), for which ::ffff:127.0.0.1 is not in 127.0.0.0/8.
 */
export class AddressSet {
  private readonly v4 = new net.BlockList();
  private readonly v6 = new net.BlockList();
  constructor(cidrs: readonly string[]) {
    for (const entry of cidrs) {
      const cidr = parseCidr(entry);
      if (!cidr) throw new TypeError(`Not an IP address or CIDR: ${JSON.stringify(entry)}`);
      (cidr.family === 'ipv4' ? this.v4 : this.v6).addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }
  has(ip: string): boolean {
    const family = net.isIP(ip);
    if (family === 4) return this.v4.check(ip, 'ipv4');
    if (family === 6) return this.v6.check(ip, 'ipv6');
    return false;
  }
}

/**
 * The addresses that are not public unicast, as request-filtering-agent (ipaddr.js 2.x `range()`) sees them, plus
 * the deprecated IPv4-compatible ::/96. Mirrored here so a refusal can say which kind of address it hit. Order
 * matters only for the label: the first match names the address.
 */
const SPECIAL_RANGES: ReadonlyArray<{ label: string; set: AddressSet }> = (
  [
    ['an unspecified address', ['0.0.0.0/8', '::/128']],
    ['a broadcast address', ['255.255.255.255/32']],
    ['a multicast address', ['224.0.0.0/4', 'ff00::/8']],
    ['a link-local address', ['169.254.0.0/16', 'fe80::/10']],
    ['a loopback address', ['127.0.0.0/8', '::1/128']],
    ['a carrier-grade NAT address', ['100.64.0.0/10']],
    ['a private address', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
    ['a unique-local address', ['fc00::/7']],
    ['an IPv4-mapped address', ['::ffff:0:0/96']],
    ['an IPv4-translated address', ['::ffff:0:0:0/96']],
    ['an IPv4-compatible address', ['::/96']],
    ['a site-local address', ['fec0::/10']],
    ['a discard-only address', ['100::/64']],
    ['a NAT64 address', ['64:ff9b::/96', '64:ff9b:1::/48']],
    ['a 6to4 address', ['2002::/16']],
    ['a Teredo address', ['2001::/32']],
    [
      'a reserved address',
      [
        '192.0.0.0/24',
        '192.0.2.0/24',
        '192.88.99.0/24',
        '198.18.0.0/15',
        '198.51.100.0/24',
        '203.0.113.0/24',
        '240.0.0.0/4',
        '192.175.48.0/24',
        '192.31.196.0/24',
        '192.52.193.0/24',
        '2001::/23',
        '2001:db8::/32',
        '3fff::/20',
        '2001:2::/48',
        '2001:3::/32',
        '2001:4:112::/48',
        '2620:4f:8000::/48',
        '2001:10::/28',
        '2001:20::/28',
        '2001:30::/28',
        '5f00::/16',
      ],
    ],
  ] as const
).map(([label, cidrs]) => ({ label, set: new AddressSet(cidrs) }));

export interface CompiledPolicy {
  allowHttp: boolean;
  allowed: AddressSet;
}

export function compilePolicy(policy: EndpointAddressPolicy): CompiledPolicy {
  return { allowHttp: policy.allowHttp, allowed: new AddressSet(policy.allowedAddresses) };
}

/** What kind of forbidden address ip is ('a loopback address'), or null when it may be reached. */
function forbiddenKind(ip: string, allowed: AddressSet): string | null {
  if (allowed.has(ip)) return null;
  return SPECIAL_RANGES.find((range) => range.set.has(ip))?.label ?? null;
}

/** The URL to send to, or the problem with it. Host names pass here; their addresses are checked at connect time. */
export function checkUrl(raw: string, policy: CompiledPolicy): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the scheme ${url.protocol} is not supported (https is required)`;
  if (url.protocol === 'http:' && !policy.allowHttp) return 'https is required (plain http:// is not allowed)';
  if (url.username || url.password) return 'the URL may not contain a user name or password';
  // The WHATWG parser has already turned 2130706433, 0x7f.1 and the like into dotted quads, and IPv6 into canonical form.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (net.isIP(host)) {
    const kind = forbiddenKind(host, policy.allowed);
    return kind ? `${host} is ${kind} (not allow-listed)` : url;
  }
  const name = host.replace(/\.$/, '');
  if ((name === 'localhost' || name.endsWith('.localhost')) && !policy.allowed.has('127.0.0.1')) {
    return `${host} is a loopback host name (127.0.0.1 is not allow-listed)`;
  }
  return url;
}

/** Wraps a resolver so that a name resolving to any forbidden address fails the connection before it is made. */
export function guardedLookup(resolve: LookupFunction, allowed: AddressSet): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) {
        callback(error, address, family);
        return;
      }
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      for (const ip of addresses) {
        const kind = net.isIP(ip) ? forbiddenKind(ip, allowed) : 'not an IP address';
        if (kind) {
          callback(new BlockedAddressError(`${hostname} resolves to ${ip}, ${kind} (not allow-listed)`), address, family);
          return;
        }
      }
      callback(null, address, family);
    });
  };
}

/**
 * The allow-list in the form request-filtering-agent wants. It matches single IPs by string and CIDRs with ipaddr.js,
 * which throws (and the agent logs "Invalid CIDR" on every connection) when a CIDR's family differs from the
 * address's: so single-host CIDRs (/32, /128) become plain canonical IPs. Mixed-family wider CIDRs still warn.
 */
export function agentAllowList(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    const cidr = parseCidr(entry);
    if (!cidr) throw new TypeError(`Not an IP address or CIDR: ${JSON.stringify(entry)}`);
    const full = cidr.family === 'ipv4' ? 32 : 128;
    const address = cidr.family === 'ipv6' ? new URL(`http://[${cidr.address}]/`).hostname.slice(1, -1) : cidr.address;
    return cidr.prefix === full ? address : `${address}/${cidr.prefix}`;
  });
}

function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, ...rest] = entry.trim().split('/');
  const version = net.isIP(address);
  if (version === 0 || rest.length > 0) return null;
  const full = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? full : Number(prefixText);
  if (prefix > full) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
