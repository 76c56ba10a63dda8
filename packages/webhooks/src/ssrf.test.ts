import { assertSafeWebhookUrl, UnsafeWebhookUrlError, type UnsafeWebhookUrlReason } from './index';

/** A fake DNS: answers only for the names in `map`, so no test ever reaches a real resolver. */
function fakeDns(map: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<string[]> => {
    calls.push(host);
    const addresses = map[host];
    if (addresses === undefined) throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  };
  return { resolve, calls };
}

const dns = fakeDns({
  'example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'hooks.example.com': ['93.184.216.34'],
  'rebind.example.com': ['93.184.216.34', '10.0.0.5'],
  'meta.example.com': ['169.254.169.254'],
  'mapped.example.com': ['::ffff:10.0.0.1'],
  'cgnat.example.com': ['100.100.100.100'],
  'ula.example.com': ['fd12:3456::1'],
  'loop.example.com': ['127.0.0.1'],
  'loop6.example.com': ['::1'],
  'mixed.example.com': ['127.0.0.1', '93.184.216.34'],
  'empty.example.com': [],
  'garbage.example.com': ['not-an-ip'],
  'loose.example.com': ['0177.0.0.1'],
  localhost: ['127.0.0.1', '::1'],
});

async function refusal(url: string, allowLoopbackHttp = false): Promise<UnsafeWebhookUrlError> {
  try {
    await assertSafeWebhookUrl(url, { resolve: dns.resolve, allowLoopbackHttp });
  } catch (error) {
    expect(error).toBeInstanceOf(UnsafeWebhookUrlError);
    return error as UnsafeWebhookUrlError;
  }
  throw new Error(`${url} was accepted`);
}

describe('assertSafeWebhookUrl refuses', () => {
  const table: [string, UnsafeWebhookUrlReason, string?][] = [
    // scheme, credentials, malformed
    ['http://example.com/', 'https_required'],
    ['ftp://example.com/', 'https_required'],
    ['file:///etc/passwd', 'https_required'],
    ['https://user:pw@example.com/', 'credentials_in_url'],
    ['https://user@example.com/', 'credentials_in_url'],
    ['not a url', 'invalid_url'],
    ['/relative/hook', 'invalid_url'],
    // metadata and internal-only names (refused before any DNS)
    ['https://metadata.google.internal/computeMetadata/v1/', 'metadata_host'],
    ['https://metadata.google.internal./', 'metadata_host'],
    ['https://METADATA.Google.Internal/', 'metadata_host'],
    ['https://metadata/', 'metadata_host'],
    ['https://metadata.goog/', 'metadata_host'],
    ['https://instance-data/latest/meta-data/', 'metadata_host'],
    ['https://db.c.my-project.internal/', 'internal_host'],
    ['https://printer.local/', 'internal_host'],
    ['https://intranet/', 'internal_host'],
    ['https://router.home.arpa/', 'internal_host'],
    // IPv4 literals, including encoded forms that WHATWG URL normalises to dotted decimal
    ['https://169.254.169.254/', 'link_local_address', 'linkLocal'],
    ['https://169.254.169.254/computeMetadata/v1/', 'link_local_address', 'linkLocal'],
    ['https://127.0.0.1/', 'loopback_address', 'loopback'],
    ['https://127.255.1.2:8443/', 'loopback_address', 'loopback'],
    ['https://2130706433/', 'loopback_address', 'loopback'],
    ['https://0x7f000001/', 'loopback_address', 'loopback'],
    ['https://0177.0.0.1/', 'loopback_address', 'loopback'],
    ['https://0x7f.1/', 'loopback_address', 'loopback'],
    ['https://127.1/', 'loopback_address', 'loopback'],
    ['https://%31%32%37.0.0.1/', 'loopback_address', 'loopback'],
    ['https://0xa9fea9fe/', 'link_local_address', 'linkLocal'],
    ['https://10.1.2.3/', 'private_address', 'private'],
    ['https://012.1.2.3/', 'private_address', 'private'],
    ['https://172.16.0.1/', 'private_address', 'private'],
    ['https://172.31.255.255/', 'private_address', 'private'],
    ['https://192.168.1.1/', 'private_address', 'private'],
    ['https://100.64.0.1/', 'private_address', 'carrierGradeNat'],
    ['https://100.127.255.254/', 'private_address', 'carrierGradeNat'],
    ['https://0.0.0.0/', 'special_address', 'unspecified'],
    ['https://0/', 'special_address', 'unspecified'],
    ['https://255.255.255.255/', 'special_address', 'broadcast'],
    ['https://224.0.0.1/', 'special_address', 'multicast'],
    ['https://239.255.255.250/', 'special_address', 'multicast'],
    ['https://240.0.0.1/', 'special_address', 'reserved'],
    ['https://192.0.2.10/', 'special_address', 'reserved'],
    ['https://198.18.0.1/', 'special_address', 'reserved'],
    // IPv6 literals
    ['https://[::1]/', 'loopback_address', 'loopback'],
    ['https://[0:0:0:0:0:0:0:1]/', 'loopback_address', 'loopback'],
    ['https://[::]/', 'special_address', 'unspecified'],
    ['https://[::ffff:127.0.0.1]/', 'loopback_address', 'ipv4Mapped:loopback'],
    ['https://[::ffff:7f00:1]/', 'loopback_address', 'ipv4Mapped:loopback'],
    ['https://[::ffff:10.0.0.1]/', 'private_address', 'ipv4Mapped:private'],
    ['https://[::ffff:169.254.169.254]/', 'link_local_address', 'ipv4Mapped:linkLocal'],
    ['https://[::ffff:100.64.0.1]/', 'private_address', 'ipv4Mapped:carrierGradeNat'],
    ['https://[fd00::1]/', 'private_address', 'uniqueLocal'],
    ['https://[fc00::1]/', 'private_address', 'uniqueLocal'],
    ['https://[fe80::1]/', 'link_local_address', 'linkLocal'],
    ['https://[febf::1]/', 'link_local_address', 'linkLocal'],
    ['https://[fec0::1]/', 'private_address', 'deprecatedSiteLocal'],
    ['https://[ff02::1]/', 'special_address', 'multicast'],
    ['https://[64:ff9b::10.0.0.1]/', 'special_address', 'rfc6052'], // NAT64 of a private address
    ['https://[64:ff9b::8.8.8.8]/', 'special_address', 'rfc6052'], // NAT64 of anything
    ['https://[64:ff9b:1::a00:1]/', 'special_address', 'rfc6052'], // local-use NAT64 prefix
    ['https://[2002:a00:1::1]/', 'special_address', '6to4'], // 6to4 of 10.0.0.1
    ['https://[2002:c0a8:101::1]/', 'special_address', '6to4'], // 6to4 of 192.168.1.1
    ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'special_address', 'teredo'],
    ['https://[::ffff:0:a00:1]/', 'special_address', 'rfc6145'],
    ['https://[::127.0.0.1]/', 'special_address', 'ipv4Compatible'],
    ['https://[::10.0.0.1]/', 'special_address', 'ipv4Compatible'],
    ['https://[2001:db8::1]/', 'special_address', 'reserved'],
    ['https://[100::1]/', 'special_address', 'discard'],
    ['https://[4000::1]/', 'special_address', 'unassigned'],
    // hostnames: ANY bad address refuses, whatever the others are
    ['https://rebind.example.com/', 'private_address', 'private'],
    ['https://meta.example.com/', 'link_local_address', 'linkLocal'],
    ['https://mapped.example.com/', 'private_address', 'ipv4Mapped:private'],
    ['https://cgnat.example.com/', 'private_address', 'carrierGradeNat'],
    ['https://ula.example.com/', 'private_address', 'uniqueLocal'],
    ['https://loop.example.com/', 'loopback_address', 'loopback'],
    ['https://loop6.example.com/', 'loopback_address', 'loopback'],
    ['https://localhost/', 'loopback_address', 'loopback'],
    ['https://unknown.example.com/', 'unresolvable'],
    ['https://empty.example.com/', 'unresolvable'],
    ['https://garbage.example.com/', 'unresolvable'],
    ['https://loose.example.com/', 'unresolvable'],
  ];

  // Rows as objects: with tuples of uneven length jest would hand a `done` callback to the 2-element rows.
  const rows = table.map(([url, reason, range]) => ({ url, reason, range }));
  it.each(rows)('$url ($reason)', async ({ url, reason, range }) => {
    const error = await refusal(url);
    expect(error.reason).toBe(reason);
    if (range !== undefined) expect(error.range).toBe(range);
    expect(error.message).not.toContain('pw');
  });

  it('never resolves IP literals or refused names', async () => {
    const before = dns.calls.length;
    await refusal('https://0x7f000001/');
    await refusal('https://[::ffff:127.0.0.1]/');
    await refusal('https://metadata.google.internal/');
    await refusal('http://example.com/');
    expect(dns.calls.length).toBe(before);
  });

  it('in local mode still refuses plain http to anything but loopback, and private addresses', async () => {
    expect((await refusal('http://93.184.216.34/', true)).reason).toBe('https_required');
    expect((await refusal('http://mixed.example.com/', true)).reason).toBe('https_required');
    expect((await refusal('http://10.1.2.3/', true)).reason).toBe('private_address');
    expect((await refusal('http://169.254.169.254/', true)).reason).toBe('link_local_address');
    expect((await refusal('http://[fe80::1]/', true)).reason).toBe('link_local_address');
    expect((await refusal('ftp://127.0.0.1/', true)).reason).toBe('https_required');
  });
});

describe('assertSafeWebhookUrl accepts', () => {
  it('a public IP literal without asking DNS (the address is never contacted)', async () => {
    const before = dns.calls.length;
    const { url, addresses } = await assertSafeWebhookUrl('https://93.184.216.34/hook', { resolve: dns.resolve });
    expect(url.href).toBe('https://93.184.216.34/hook');
    expect(addresses).toEqual(['93.184.216.34']);
    expect(dns.calls.length).toBe(before);
  });

  it('a hostname whose every address is public, on any port, returning all of them', async () => {
    const result = await assertSafeWebhookUrl('https://example.com:8443/hooks/aiprod?x=1', { resolve: dns.resolve });
    expect(result.url.port).toBe('8443');
    expect(result.addresses).toEqual(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
    expect((await assertSafeWebhookUrl('https://hooks.example.com./', { resolve: dns.resolve })).addresses).toEqual([
      '93.184.216.34',
    ]);
  });

  it('public IPv6 and IPv4-mapped public literals', async () => {
    expect((await assertSafeWebhookUrl('https://[2606:4700::1111]/')).addresses).toEqual(['2606:4700::1111']);
    expect((await assertSafeWebhookUrl('https://[::ffff:93.184.216.34]/')).addresses).toEqual(['::ffff:5db8:d822']);
  });

  it('loopback over http (or https) in local mode', async () => {
    const port = 45678;
    const local = { resolve: dns.resolve, allowLoopbackHttp: true };
    expect((await assertSafeWebhookUrl(`http://127.0.0.1:${port}/hook`, local)).addresses).toEqual(['127.0.0.1']);
    expect((await assertSafeWebhookUrl(`http://[::1]:${port}/hook`, local)).addresses).toEqual(['::1']);
    expect((await assertSafeWebhookUrl(`http://localhost:${port}/hook`, local)).addresses).toEqual([
      '127.0.0.1',
      '::1',
    ]);
    expect((await assertSafeWebhookUrl('https://loop.example.com/', local)).addresses).toEqual(['127.0.0.1']);
    expect((await assertSafeWebhookUrl('https://[::ffff:127.0.0.1]/', local)).addresses).toEqual(['::ffff:7f00:1']);
  });
});
