import { assertPublicTarget, forbiddenAddressReason, parseIPv6, TargetForbiddenError } from './target-guard';

describe('target guard', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved/broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique local (private)'],
    ['fd12:3456::1', 'unique local (private)'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped link-local'],
    ['::ffff:192.168.0.1', 'IPv4-mapped private'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 link-local'],
    ['::10.0.0.1', 'IPv4-compatible private'],
    // Every form that embeds an IPv4 address is judged by it (issue 9: these went through).
    ['::ffff:0:7f00:1', 'IPv4-translated loopback'],
    ['::ffff:0:169.254.169.254', 'IPv4-translated link-local'],
    ['2002:7f00:1::', '6to4 loopback'],
    ['2002:a9fe:a9fe::1', '6to4 link-local'],
    ['2002:c0a8:101::', '6to4 private'],
    ['64:ff9b::7f00:1', 'NAT64 loopback'],
    ['64:ff9b::10.1.2.3', 'NAT64 private'],
    ['64:ff9b::192.168.0.1', 'NAT64 private'],
    ['::7f00:1', 'IPv4-compatible loopback'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::169.254.169.254', 'IPv4-compatible link-local'],
    ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ['64:ff9b:1::a00:1', 'local-use NAT64'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
    ['2001:2::1', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
    ['3fff::1', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['100::1', 'discard-only'],
    ['::2', 'IPv4-compatible unspecified'],
    ['4000::1', 'not global unicast'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['192.88.99.1', '6to4 relay anycast (deprecated)'],
  ])('refuses %s (%s)', (ip, why) => {
    expect(forbiddenAddressReason(ip)).toBe(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2a00:1450::1', '2002:808:808::1', '64:ff9b::8.8.8.8', '::ffff:0:8.8.8.8'])(
    'accepts public %s',
    (ip) => {
      expect(forbiddenAddressReason(ip)).toBeUndefined();
    },
  );

  it('parses IPv6 forms to 16 bytes', () => {
    expect(parseIPv6('::1')).toEqual([...Array(15).fill(0), 1]);
    expect(parseIPv6('::ffff:1.2.3.4')?.slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIPv6('[2001:db8::8:800:200c:417a]')?.slice(0, 4)).toEqual([0x20, 0x01, 0x0d, 0xb8]);
    expect(parseIPv6('not-ip')).toBeUndefined();
  });

  const refuse = async (url: string, opts: Parameters<typeof assertPublicTarget>[1]) => {
    const e = await assertPublicTarget(url, opts).catch((x) => x);
    expect(e).toBeInstanceOf(TargetForbiddenError);
    return e as TargetForbiddenError;
  };

  it('refuses literal private URLs, including numeric and bracketed forms, with the right code', async () => {
    expect((await refuse('http://127.0.0.1:8080/hook', { allowPrivate: false })).code).toBe('WEBHOOK_TARGET_FORBIDDEN');
    expect((await refuse('http://2130706433/', { allowPrivate: false })).message).toMatch(/loopback/);
    expect((await refuse('http://0x7f.1/', { allowPrivate: false })).message).toMatch(/loopback/);
    expect((await refuse('http://[::ffff:169.254.169.254]/', { allowPrivate: false })).message).toMatch(/link-local/);
    expect((await refuse('http://10.0.0.5/v.mp4', { allowPrivate: false, kind: 'source' })).code).toBe('SOURCE_URL_FORBIDDEN');
  });

  it('refuses non-http schemes even when private targets are allowed', async () => {
    expect((await refuse('file:///etc/passwd', { allowPrivate: true })).message).toMatch(/scheme/);
    expect((await refuse('ftp://example.com/x', { allowPrivate: true })).message).toMatch(/scheme/);
    expect((await refuse('not a url', { allowPrivate: true })).message).toMatch(/valid URL/);
  });

  it('checks every resolved address of a host name (one private answer is enough to refuse)', async () => {
    const lookup = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    expect((await refuse('https://mixed.example/hook', { allowPrivate: false, lookup })).message).toMatch(/10\.0\.0\.7/);
    const ok = await assertPublicTarget('https://public.example/hook', {
      allowPrivate: false,
      lookup: async () => [{ address: '93.184.216.34', family: 4 }],
    });
    expect(ok.addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it('refuses the bracketed IPv6 forms of loopback in URLs', async () => {
    for (const u of ['http://[::ffff:0:7f00:1]/', 'http://[2002:7f00:1::]/', 'http://[64:ff9b::7f00:1]/', 'http://[::127.0.0.1]/', 'http://[::1]:80/']) {
      expect((await refuse(u, { allowPrivate: false, kind: 'source' })).code).toBe('SOURCE_URL_FORBIDDEN');
    }
  });

  it('exempts only the exact host:port named for tests, never a name or another port resolving to it', async () => {
    const testPublicHosts = new Set(['127.0.0.1:4321']);
    const ok = await assertPublicTarget('http://127.0.0.1:4321/v.mp4', { allowPrivate: false, kind: 'source', testPublicHosts });
    expect(ok.addresses[0].address).toBe('127.0.0.1');
    await refuse('http://127.0.0.1:4322/v.mp4', { allowPrivate: false, kind: 'source', testPublicHosts });
    await refuse('http://localhost:4321/v.mp4', { allowPrivate: false, kind: 'source', testPublicHosts });
    await refuse('http://169.254.169.254/latest/meta-data/', { allowPrivate: false, kind: 'source', testPublicHosts });
  });

  it('resolves localhost through the system resolver and refuses it', async () => {
    expect((await refuse('http://localhost:3000/', { allowPrivate: false })).message).toMatch(/loopback/);
  });

  it('allows private targets when told to', async () => {
    const r = await assertPublicTarget('http://127.0.0.1:9/x', { allowPrivate: true });
    expect(r.addresses[0].address).toBe('127.0.0.1');
  });
});
