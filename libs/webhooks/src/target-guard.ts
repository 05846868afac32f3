import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

/**
 * SSRF guard for webhook targets and URL sources: http(s) only, and every address the host resolves to must be a
 * public unicast address (unless private targets are allowed for development/tests).
 */
export type TargetErrorCode = 'WEBHOOK_TARGET_FORBIDDEN' | 'SOURCE_URL_FORBIDDEN';

export class TargetForbiddenError extends Error {
  override readonly name = 'TargetForbiddenError';
  /** The input is at fault: retrying cannot help. */
  readonly retryable = false;
  constructor(
    readonly code: TargetErrorCode,
    message: string,
  ) {
    super(message);
  }
  toJSON(): { code: TargetErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** DNS failure while checking a target: may be transient. */
export class TargetResolveError extends Error {
  override readonly name = 'TargetResolveError';
  readonly retryable = true;
  readonly code = 'TARGET_UNRESOLVABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

type Range = { bytes: number[]; bits: number; why: string };

function v4(cidr: string, why: string): Range {
  const [a, bits] = cidr.split('/');
  return { bytes: a.split('.').map(Number), bits: Number(bits), why };
}

const V4_FORBIDDEN: Range[] = [
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'carrier-grade NAT'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', '6to4 relay anycast (deprecated)'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved/broadcast'),
];

function v6(prefixHex: string, bits: number, why: string): Range {
  return { bytes: parseIPv6(prefixHex)!, bits, why };
}

const V6_FORBIDDEN: Range[] = [
  v6('::', 128, 'unspecified'),
  v6('::1', 128, 'loopback'),
  v6('64:ff9b:1::', 48, 'local-use NAT64'),
  v6('fc00::', 7, 'unique local (private)'),
  v6('fe80::', 10, 'link-local'),
  v6('fec0::', 10, 'site-local (deprecated)'),
  v6('ff00::', 8, 'multicast'),
  v6('2001:db8::', 32, 'documentation'),
  v6('3fff::', 20, 'documentation'),
  // Teredo (2001::/32, embeds an obfuscated IPv4), benchmarking, ORCHID: none is a place to fetch from.
  v6('2001::', 23, 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'),
  v6('100::', 64, 'discard-only'),
];

const NAT64_WELL_KNOWN = v6('64:ff9b::', 96, 'NAT64');
const SIX_TO_FOUR = v6('2002::', 16, '6to4');
const V6_GLOBAL_UNICAST = v6('2000::', 3, 'global unicast');

function inRange(addr: number[], r: Range): boolean {
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i] & mask) !== (r.bytes[i] & mask)) return false;
  }
  return true;
}

/** 16 bytes, or undefined when not an IPv6 literal. Handles `::`, embedded dotted IPv4 and zone ids. */
export function parseIPv6(input: string): number[] | undefined {
  let s = input.replace(/^\[|\]$/g, '').split('%')[0];
  if (isIP(s) !== 6) return undefined;
  // Rewrite a trailing dotted IPv4 (::ffff:1.2.3.4) as two hex groups so one parser handles every form.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    s = s.slice(0, dotted.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const double = s.indexOf('::');
  const head = (double >= 0 ? s.slice(0, double) : s).split(':').filter((x) => x !== '');
  const tail = double >= 0 ? s.slice(double + 2).split(':').filter((x) => x !== '') : [];
  const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  if (groups.length !== 8) return undefined;
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [(n >> 8) & 0xff, n & 0xff];
  });
}

/**
 * Why an address must not be contacted, or undefined when it is public. IPv6 is allow-listed: only global unicast
 * (2000::/3) can be public, minus documentation, IETF-assignment and 6to4 ranges. Every form that embeds an IPv4
 * address is judged by that address: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`),
 * IPv4-compatible (`::a.b.c.d`, deprecated: refused even when public), NAT64 (`64:ff9b::/96`; the local-use
 * `64:ff9b:1::/48` is refused outright) and 6to4 (`2002:aabb:ccdd::/48`).
 */
export function forbiddenAddressReason(address: string): string | undefined {
  const kind = isIP(address.split('%')[0]);
  if (kind === 4) {
    const bytes = address.split('.').map(Number);
    return V4_FORBIDDEN.find((r) => inRange(bytes, r))?.why;
  }
  const bytes = parseIPv6(address);
  if (!bytes) return 'not an IP address';
  const embedded = (from: number) => bytes.slice(from, from + 4).join('.');
  const judged = (label: string, v4addr: string, refuseAnyway?: string) => {
    const why = forbiddenAddressReason(v4addr);
    return why ? `${label} ${why}` : refuseAnyway;
  };
  const zero8 = bytes.slice(0, 8).every((b) => b === 0);
  if (zero8 && bytes[8] === 0 && bytes[9] === 0 && bytes[10] === 0xff && bytes[11] === 0xff) {
    return judged('IPv4-mapped', embedded(12));
  }
  if (zero8 && bytes[8] === 0xff && bytes[9] === 0xff && bytes[10] === 0 && bytes[11] === 0) {
    return judged('IPv4-translated', embedded(12));
  }
  if (zero8 && bytes.slice(8, 12).every((b) => b === 0)) {
    if (bytes.slice(12).every((b) => b === 0)) return 'unspecified';
    if (bytes.slice(12, 15).every((b) => b === 0) && bytes[15] === 1) return 'loopback';
    return judged('IPv4-compatible', embedded(12), 'IPv4-compatible (deprecated)');
  }
  if (inRange(bytes, NAT64_WELL_KNOWN)) return judged('NAT64', embedded(12));
  if (inRange(bytes, SIX_TO_FOUR)) return judged('6to4', embedded(2));
  const listed = V6_FORBIDDEN.find((r) => inRange(bytes, r))?.why;
  if (listed) return listed;
  if (!inRange(bytes, V6_GLOBAL_UNICAST)) return 'not global unicast';
  return undefined;
}

export interface ResolvedTarget {
  url: URL;
  /** every address the host resolved to, all of them checked */
  addresses: Array<{ address: string; family: 4 | 6 }>;
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

export interface TargetPolicyOptions {
  allowPrivate: boolean;
  kind?: 'webhook' | 'source';
  lookup?: Lookup;
  /**
   * TEST ONLY: exact `host:port` values (as written in the URL, e.g. `127.0.0.1:40123`) whose addresses are not
   * checked, so a test can stand up a "public" server on loopback while every other loopback/private target —
   * another port, `localhost`, 169.254.169.254 — is still refused. Empty in production (SOURCE_TEST_PUBLIC_HOSTS).
   */
  testPublicHosts?: ReadonlySet<string>;
}

/**
 * Throws `TargetForbiddenError` (code per `kind`) unless `url` is http(s) and all of its host's addresses are public.
 * Returns the checked addresses so the caller can connect to exactly those (no second, rebindable DNS lookup).
 */
export async function assertPublicTarget(rawUrl: string, opts: TargetPolicyOptions): Promise<ResolvedTarget> {
  const code: TargetErrorCode = opts.kind === 'source' ? 'SOURCE_URL_FORBIDDEN' : 'WEBHOOK_TARGET_FORBIDDEN';
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new TargetForbiddenError(code, 'not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TargetForbiddenError(code, `scheme ${url.protocol} is not allowed (http/https only)`);
  }
  // WHATWG URL parsing already normalised tricks like http://2130706433/ or http://0x7f.1/ to dotted IPv4.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await (opts.lookup ?? systemLookup)(host);
    } catch (e) {
      const c = (e as NodeJS.ErrnoException).code;
      if (c === 'ENOTFOUND' || c === 'ENODATA') throw new TargetForbiddenError(code, `host ${host} does not resolve`);
      throw new TargetResolveError(`cannot resolve ${host}: ${c ?? e}`, { cause: e });
    }
    if (addresses.length === 0) throw new TargetForbiddenError(code, `host ${host} does not resolve`);
  }
  const exempt = opts.testPublicHosts?.has(url.host) === true && url.port !== '';
  if (!opts.allowPrivate && !exempt) {
    for (const a of addresses) {
      const why = forbiddenAddressReason(a.address);
      if (why) throw new TargetForbiddenError(code, `${host} resolves to a ${why} address (${a.address})`);
    }
  }
  return { url, addresses: addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })) };
}
