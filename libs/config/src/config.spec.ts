import { ConfigError, configSecrets, loadConfig, redactedConfig } from './index';

const base = {
  API_KEYS: 'tenant-a-key-0123456789:tenant-a,tenant-b-key-0123456789:tenant-b',
  WEBHOOK_SECRET: `whsec_${Buffer.from('0123456789abcdef0123').toString('base64')}`,
  TENANT_STORAGE: JSON.stringify({
    'tenant-a': { read: [{ bucket: 'media', prefix: 'a/' }], write: [{ bucket: 'media', prefix: 'a/live/' }] },
    'tenant-b': { read: [{ bucket: 'media', prefix: 'b/' }] },
  }),
  REDIS_URL: 'redis://:redis-password-123@127.0.0.1:6379',
};

function problems(env: Record<string, string>, role: 'api' | 'worker' = 'api'): string {
  try {
    loadConfig(role, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
}

describe('TENANT_STORAGE and ADMIN_API_KEYS', () => {
  it('loads a valid configuration', () => {
    const cfg = loadConfig('api', { ...base, ADMIN_API_KEYS: 'admin-key-0123456789abc' });
    expect(cfg.TENANT_STORAGE?.get('tenant-a')?.write).toEqual([{ bucket: 'media', prefix: 'a/live/' }]);
    expect(cfg.ADMIN_API_KEYS?.has('admin-key-0123456789abc')).toBe(true);
  });

  it('is required by the api and the worker, not the CLI', () => {
    const { TENANT_STORAGE: _t, ...rest } = base;
    expect(problems(rest, 'api')).toMatch(/TENANT_STORAGE: required/);
    expect(problems(rest, 'worker')).toMatch(/TENANT_STORAGE: required/);
    expect(() => loadConfig('cli', {})).not.toThrow();
  });

  it('refuses a tenant of API_KEYS without an entry, bad JSON and short or shared admin keys, without echoing values', () => {
    expect(problems({ ...base, TENANT_STORAGE: JSON.stringify({ 'tenant-a': {} }) })).toMatch(/TENANT_STORAGE: no entry for tenant\(s\) tenant-b/);
    expect(problems({ ...base, TENANT_STORAGE: '{"tenant-a":' })).toMatch(/TENANT_STORAGE: must be JSON/);
    const short = problems({ ...base, ADMIN_API_KEYS: 'short' });
    expect(short).toMatch(/ADMIN_API_KEYS/);
    expect(short).not.toContain('short,');
    const shared = problems({ ...base, ADMIN_API_KEYS: 'tenant-a-key-0123456789' });
    expect(shared).toMatch(/ADMIN_API_KEYS: an admin key must not also be a tenant key/);
    expect(shared).not.toContain('tenant-a-key-0123456789');
  });

  it('redacts every secret when the config is logged, and lists them for the scrubber', () => {
    const cfg = loadConfig('api', { ...base, ADMIN_API_KEYS: 'admin-key-0123456789abc', S3_SECRET_ACCESS_KEY: 's3-secret-value' });
    const logged = JSON.stringify(redactedConfig(cfg));
    for (const secret of ['redis-password-123', 'tenant-a-key-0123456789', 'admin-key-0123456789abc', 's3-secret-value', base.WEBHOOK_SECRET]) {
      expect(logged).not.toContain(secret);
      expect(configSecrets(cfg)).toContain(secret);
    }
    expect(logged).toContain('redis://***@127.0.0.1:6379');
  });
});
