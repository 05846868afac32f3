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
  ])('refuses %s (%s)', (ip, why) => {
    expect(forbiddenAddressReason(ip)).toBe(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2a00:1450::1'])(
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

  it('resolves localhost through the system resolver and refuses it', async () => {
    expect((await refuse('http://localhost:3000/', { allowPrivate: false })).message).toMatch(/loopback/);
  });

  it('allows private targets when told to', async () => {
    const r = await assertPublicTarget('http://127.0.0.1:9/x', { allowPrivate: true });
    expect(r.addresses[0].address).toBe('127.0.0.1');
  });
});
