import {
  MAX_KEY_BYTES,
  StorageScopeError,
  StorageScopePolicy,
  assertOutputName,
  defaultOutputName,
  keyProblem,
  parseTenantStorage,
} from './scope';

describe('object key rules', () => {
  it('accepts ordinary keys, unicode included', () => {
    for (const k of ['videos/beach.mp4', 'a', 'a/b/c d/é.mov', 'x..y/z', '.hidden/a.mp4', 'a//b.mp4']) expect([k, keyProblem(k)]).toEqual([k, undefined]);
  });

  it('refuses ".." and "." segments, control characters, empty keys and more than 1 024 bytes', () => {
    for (const k of ['../b/a.mp4', 'a/../b.mp4', 'a/..', '..', 'a/./b', './a', 'a\\..\\b', 'a\u0000b', 'a\nb', 'a\rb', 'a\u007fb', 'a\u0085b', '']) {
      expect([JSON.stringify(k), keyProblem(k)]).toEqual([JSON.stringify(k), expect.any(String)]);
    }
    expect(keyProblem('a'.repeat(MAX_KEY_BYTES))).toBeUndefined();
    expect(keyProblem('a'.repeat(MAX_KEY_BYTES + 1))).toMatch(/1024 bytes/);
    // bytes, not characters: 513 × "é" is 513 characters but 1 026 bytes
    expect(keyProblem('é'.repeat(513))).toMatch(/1024 bytes/);
    expect(keyProblem('', 'prefix')).toBeUndefined();
  });

  it('checks the longest derived output key (prefix + name + ".still-preview.jpg")', () => {
    expect(() => assertOutputName('live/', 'clip', 'source.key')).not.toThrow();
    const prefix = 'p/'.repeat(450); // 900 bytes
    expect(() => assertOutputName(prefix, 'n'.repeat(106), 'source.key')).not.toThrow(); // 900 + 106 + 18 = 1024
    try {
      assertOutputName(prefix, 'n'.repeat(107), 'source.key');
      throw new Error('expected a throw');
    } catch (e) {
      expect(e).toBeInstanceOf(StorageScopeError);
      expect(e).toMatchObject({ code: 'INVALID_KEY', path: 'source.key', retryable: false });
    }
  });

  it('derives the output name like the worker does', () => {
    expect(defaultOutputName({ key: 'videos/2024/IMG_0001.mov' })).toBe('IMG_0001');
    expect(defaultOutputName({ url: 'https://cdn.example/x/clip.final.mp4?sig=1' })).toBe('clip.final');
    expect(defaultOutputName({ url: 'https://cdn.example/' })).toBe('livephoto');
  });
});

describe('TENANT_STORAGE', () => {
  const raw = JSON.stringify({
    'tenant-a': { read: [{ bucket: 'media', prefix: 'tenant-a/' }], write: [{ bucket: 'media', prefix: 'tenant-a/live/' }] },
    'tenant-b': { read: [{ bucket: 'media', prefix: 'tenant-b/' }, { bucket: 'shared', prefix: '' }], write: [{ bucket: 'out-b', prefix: '' }] },
    locked: {},
  });

  it('parses a valid mapping', () => {
    const parsed = parseTenantStorage(raw);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.value.get('locked')).toEqual({ read: [], write: [] });
  });

  it.each([
    ['not JSON', '{nope', /must be JSON/],
    ['a prefix without a trailing slash', JSON.stringify({ t: { read: [{ bucket: 'media', prefix: 'tenant-a' }] } }), /t\.read\.0\.prefix: must be "" or end with "\/"/],
    ['a ".." prefix', JSON.stringify({ t: { write: [{ bucket: 'media', prefix: 'a/../' }] } }), /t\.write\.0\.prefix: .*segments/],
    ['a bad bucket', JSON.stringify({ t: { read: [{ bucket: 'Media_X', prefix: '' }] } }), /bucket/],
    ['an unknown field', JSON.stringify({ t: { read: [], admin: true } }), /admin|Unrecognized/],
    ['a bad tenant name', JSON.stringify({ 'a b': { read: [] } }), /tenant names/],
  ])('refuses %s, naming the place', (_what, value, message) => {
    const parsed = parseTenantStorage(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems.join('; ')).toMatch(message);
  });

  it('lets a tenant read and write only inside its own scopes', () => {
    const parsed = parseTenantStorage(raw);
    if (!parsed.ok) throw new Error('fixture');
    const p = new StorageScopePolicy(parsed.value);
    expect(p.allows('tenant-a', 'read', 'media', 'tenant-a/videos/x.mp4')).toBe(true);
    expect(p.allows('tenant-a', 'read', 'media', 'tenant-b/videos/x.mp4')).toBe(false);
    expect(p.allows('tenant-a', 'read', 'media', 'tenant-ab/x.mp4')).toBe(false);
    expect(p.allows('tenant-a', 'write', 'media', 'tenant-a/videos/')).toBe(false); // read scope only
    expect(p.allows('tenant-a', 'write', 'media', 'tenant-a/live/2024/')).toBe(true);
    expect(p.allows('tenant-b', 'read', 'shared', 'anything')).toBe(true);
    expect(p.allows('locked', 'read', 'media', 'tenant-a/x')).toBe(false);
    expect(p.allows('unknown', 'read', 'media', 'x')).toBe(false);
    expect(() => p.assertAccess('tenant-a', 'write', { bucket: 'media', prefix: 'tenant-b/live/' }, 'output.prefix')).toThrow(
      expect.objectContaining({ code: 'STORAGE_SCOPE_DENIED', path: 'output.prefix' }),
    );
    // a key that climbs out of the scope is invalid before it is out of scope
    expect(() => p.assertAccess('tenant-a', 'read', { bucket: 'media', key: 'tenant-a/../tenant-b/x.mp4' }, 'source.key')).toThrow(
      expect.objectContaining({ code: 'INVALID_KEY', path: 'source.key' }),
    );
  });
});
