import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a webhook URL was refused. Address reasons come with the offending `address` and its `range`. */
export type UnsafeWebhookUrlReason =
  | 'invalid_url' // not an absolute URL
  | 'https_required' // not https (plain http only to loopback, and only with allowLoopbackHttp)
  | 'credentials_in_url' // user:password@
  | 'metadata_host' // a cloud metadata hostname (metadata.google.internal, metadata, instance-data, …)
  | 'internal_host' // a single-label name or an internal-only suffix (.internal, .local, .localdomain, .home.arpa)
  | 'unresolvable' // DNS gave an error, nothing, or something that is not an IP address
  | 'loopback_address' // 127/8, ::1, ::ffff:127.x (allowed with allowLoopbackHttp)
  | 'private_address' // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7 (ULA)
  | 'link_local_address' // 169.254/16 (incl. 169.254.169.254 metadata), fe80::/10
  | 'special_address'; // unspecified, broadcast, multicast, reserved/documentation, NAT64, 6to4, Teredo, …

export class UnsafeWebhookUrlError extends Error {
  override readonly name = 'UnsafeWebhookUrlError';
  constructor(
    readonly reason: UnsafeWebhookUrlReason,
    message: string,
    /** The refused address, for address reasons. */
    readonly address?: string,
    /** The ipaddr.js range name of that address (e.g. 'carrierGradeNat', 'ipv4Mapped:private', 'rfc6052'). */
    readonly range?: string,
  ) {
    super(message);
  }
}

export type ResolveHost = (hostname: string) => Promise<string[]>;

export type SafeWebhookUrlOptions = {
  /** Local mode: accept loopback addresses, and plain http when every address is loopback. */
  allowLoopbackHttp?: boolean;
  /** Resolves a hostname to all its addresses (default: dns.lookup, all: true, both families). */
  resolve?: ResolveHost;
};

export type SafeWebhookUrl = { url: URL; addresses: string[] };

/** Hostnames of cloud metadata services (GCP, AWS, Azure/OpenStack aliases). */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);
/** Suffixes that only resolve inside a private network. */
const INTERNAL_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa'];

/** dns.lookup with all: true and both families, in the order the resolver gave them. */
export const defaultResolve: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true, family: 0, verbatim: true })).map((entry) => entry.address);

type AddressClass = { ok: true } | { ok: false; reason: UnsafeWebhookUrlReason; range: string };

const IPV4_REASONS: Record<string, UnsafeWebhookUrlReason> = {
  loopback: 'loopback_address',
  private: 'private_address',
  carrierGradeNat: 'private_address',
  linkLocal: 'link_local_address',
};
const IPV6_REASONS: Record<string, UnsafeWebhookUrlReason> = {
  loopback: 'loopback_address',
  uniqueLocal: 'private_address',
  linkLocal: 'link_local_address',
  deprecatedSiteLocal: 'private_address',
};
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const IPV4_COMPATIBLE_V6 = ipaddr.parseCIDR('::/96');

function classifyV4(address: ipaddr.IPv4, prefix = ''): AddressClass {
  const range = address.range();
  if (range === 'unicast') return { ok: true };
  return { ok: false, reason: IPV4_REASONS[range] ?? 'special_address', range: prefix + range };
}

/**
 * Only ordinary public unicast passes: IPv4 that ipaddr.js calls 'unicast', IPv6 that it calls 'unicast'
 * inside 2000::/3. IPv4-mapped IPv6 is judged by its IPv4 address; the other IPv4-embedding forms
 * (NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo, SIIT, IPv4-compatible ::/96) are all
 * refused: none is needed to reach a webhook endpoint, and each can smuggle a private IPv4 address.
 */
export function classifyAddress(text: string): AddressClass {
  const address = ipaddr.parse(text);
  if (address.kind() === 'ipv4') return classifyV4(address as ipaddr.IPv4);
  const v6 = address as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'ipv4Mapped') return classifyV4(v6.toIPv4Address(), 'ipv4Mapped:');
  if (range !== 'unicast') return { ok: false, reason: IPV6_REASONS[range] ?? 'special_address', range };
  if (v6.match(IPV4_COMPATIBLE_V6)) return { ok: false, reason: 'special_address', range: 'ipv4Compatible' };
  if (!v6.match(GLOBAL_UNICAST_V6)) return { ok: false, reason: 'special_address', range: 'unassigned' };
  return { ok: true };
}

const ADDRESS_LABELS: Partial<Record<UnsafeWebhookUrlReason, string>> = {
  loopback_address: 'a loopback address',
  private_address: 'a private address',
  link_local_address: 'a link-local address',
  special_address: 'a special-purpose address',
};

function refuse(reason: UnsafeWebhookUrlReason, message: string, address?: string, range?: string): never {
  throw new UnsafeWebhookUrlError(reason, message, address, range);
}

/** Strips IPv6 brackets and trailing dots; WHATWG URL has already lower-cased and IDNA-mapped it. */
function bareHost(url: URL): string {
  const host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) return host.slice(1, -1);
  return host.replace(/\.+$/, '');
}

/**
 * Checks that a webhook URL may be called from our network, and returns the addresses it resolves to
 * (connect only to those: see sendWebhook). Throws UnsafeWebhookUrlError.
 *
 * WHATWG URL parsing turns decimal, octal, hex and short IPv4 forms (2130706433, 0177.0.0.1, 0x7f.1,
 * 127.1) into dotted decimal and compresses IPv6, so literals are classified in canonical form; a host
 * that still looks like a loose IPv4 form is refused as a precaution.
 */
export async function assertSafeWebhookUrl(input: string, opts: SafeWebhookUrlOptions = {}): Promise<SafeWebhookUrl> {
  const { allowLoopbackHttp = false, resolve = defaultResolve } = opts;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refuse('invalid_url', 'webhook URL is not a valid absolute URL');
  }
  const isHttp = url.protocol === 'http:';
  if (url.protocol !== 'https:' && !(isHttp && allowLoopbackHttp)) {
    return refuse('https_required', `webhook URL must use https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username !== '' || url.password !== '') {
    return refuse('credentials_in_url', 'webhook URL must not contain credentials');
  }
  const host = bareHost(url);
  if (host === '') return refuse('invalid_url', 'webhook URL has no host');

  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    if (ipaddr.isValid(host))
      return refuse('special_address', 'the host is an ambiguous IP address form', host, 'loose');
    if (METADATA_HOSTS.has(host)) return refuse('metadata_host', `${host} is a cloud metadata host`);
    if (host !== 'localhost' && (!host.includes('.') || INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix)))) {
      return refuse('internal_host', `${host} is not a public hostname`);
    }
    try {
      addresses = await resolve(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return refuse('unresolvable', `could not resolve ${host}: ${code}`);
    }
    if (addresses.length === 0) return refuse('unresolvable', `${host} resolved to no address`);
  }

  let allLoopback = true;
  for (const address of addresses) {
    if (typeof address !== 'string' || isIP(address) === 0) {
      return refuse('unresolvable', `${host} resolved to something that is not an IP address`);
    }
    const verdict = classifyAddress(address);
    if (verdict.ok) {
      allLoopback = false;
      continue;
    }
    if (verdict.reason === 'loopback_address' && allowLoopbackHttp) continue;
    // The message goes back to the client: it says why, never which address a name resolved to
    // (that would let anyone map our resolver's view of internal names). Operators get the
    // address and range on the error.
    const what = ADDRESS_LABELS[verdict.reason] ?? 'not a public address';
    const where = address === host ? 'the host is' : `${host} resolves to`;
    return refuse(verdict.reason, `${where} ${what}, not a public address`, address, verdict.range);
  }
  if (isHttp && !allLoopback) {
    return refuse('https_required', 'plain http is allowed only to loopback addresses (local mode)');
  }
  return { url, addresses };
}
