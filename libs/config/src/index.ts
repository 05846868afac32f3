import { z } from 'zod';
import { parseTenantStorage, type TenantStorage } from '@vid2live/storage/scope';
import { scrubSecrets, urlCredentials } from './redact';

export { errorText, scrubSecrets, urlCredentials, REDACTED } from './redact';

/**
 * Typed, validated environment. The api and worker call `loadConfig()` first thing and refuse to start on a
 * bad value, naming the variable. Secrets never appear in the error text or in logs (see `redactedConfig`).
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

const apiKeys = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const map = new Map<string, string>();
    for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const idx = pair.lastIndexOf(':');
      const key = pair.slice(0, idx);
      const tenant = pair.slice(idx + 1);
      if (idx <= 0 || !tenant || key.length < 16 || !/^[A-Za-z0-9_.-]+$/.test(tenant)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'each entry must be key:tenant with a key of at least 16 characters and a tenant of [A-Za-z0-9_.-]',
        });
        return z.NEVER;
      }
      map.set(key, tenant);
    }
    if (map.size === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'at least one key:tenant entry is needed' });
      return z.NEVER;
    }
    return map;
  });

/** Operator keys for the cross-tenant views (queue dashboard, /metrics): `key,key`, each ≥ 16 characters. */
const adminApiKeys = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const keys = new Set(raw.split(',').map((s) => s.trim()).filter(Boolean));
    if (keys.size === 0 || [...keys].some((k) => k.length < 16 || /[\s:]/.test(k))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be key,key,… with keys of at least 16 characters (no spaces or ":")' });
      return z.NEVER;
    }
    return keys as ReadonlySet<string>;
  });

/** `{ "<tenant>": { "read": [{ "bucket", "prefix" }], "write": [...] } }` (see libs/storage/src/scope.ts). */
const tenantStorage = z.string().transform((raw, ctx): TenantStorage => {
  const parsed = parseTenantStorage(raw);
  if (!parsed.ok) {
    for (const message of parsed.problems) ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    return z.NEVER;
  }
  return parsed.value;
});

const webhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_<base64>')
  .refine((s) => Buffer.from(s.slice('whsec_'.length), 'base64').length >= 16, 'the decoded secret must be ≥ 16 bytes');

const schema = z.object({
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.optional(),
  API_KEYS: apiKeys.optional(),
  ADMIN_API_KEYS: adminApiKeys.optional(),
  TENANT_STORAGE: tenantStorage.optional(),
  WEBHOOK_SECRET: webhookSecret.optional(),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: bool.default('false'),
  /**
   * URL sources in private/loopback/link-local ranges (development and tests only). Separate from the webhook
   * switch: reaching an internal webhook receiver must not let every tenant fetch the metadata service.
   */
  SOURCE_ALLOW_PRIVATE_TARGETS: bool.default('false'),
  /** attempts for one webhook delivery; with the default backoff, 20 attempts span about 24 h */
  WEBHOOK_MAX_ATTEMPTS: positiveInt.default(20),
  WEBHOOK_BACKOFF_MS: positiveInt.default(5_000),
  WEBHOOK_BACKOFF_MAX_MS: positiveInt.default(3 * 60 * 60 * 1000),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  WORKER_CONCURRENCY: positiveInt.default(1),
  /** BullMQ lock for CPU-heavy conversions; renewed at half this interval */
  WORKER_LOCK_DURATION_MS: positiveInt.default(120_000),
  WORKER_SHUTDOWN_TIMEOUT_MS: positiveInt.default(30_000),
  /** how often workers look for jobs whose lock expired (their worker died) and put them back */
  WORKER_STALLED_INTERVAL_MS: positiveInt.default(30_000),
  /**
   * S3 sources up to this size are fetched with one GET and converted from local disk; larger ones are handed to
   * ffmpeg as a presigned URL and read with range requests (a 3 s clip of a 2 GB file reads a few MB). Every
   * ffmpeg/ffprobe open of a URL costs fixed reads (header, moov, probe window), ~4× a small clip's size.
   */
  SOURCE_DOWNLOAD_MAX_BYTES: z.coerce.number().int().min(0).default(64 * 1024 * 1024),
  /** source reader (libs/sources): TCP/TLS connect to a URL source's server */
  SOURCE_CONNECT_TIMEOUT_MS: positiveInt.default(10_000),
  /** source reader: no byte from the source for this long while waiting for one → SOURCE_UNAVAILABLE (retried) */
  SOURCE_IDLE_TIMEOUT_MS: positiveInt.default(20_000),
  /** source reader: one request (a ≤ 4 MiB range window) from start to its last byte — bounds a trickling server */
  SOURCE_REQUEST_TIMEOUT_MS: positiveInt.default(60_000),
  /** source reader: a whole-file download (a small source, or a URL server without range support) */
  SOURCE_DOWNLOAD_TIMEOUT_MS: positiveInt.default(600_000),
  /** source reader: URL sources larger than this are refused (SOURCE_TOO_LARGE) */
  SOURCE_URL_MAX_BYTES: positiveInt.default(4 * 1024 * 1024 * 1024),
  /**
   * TEST ONLY, empty by default: `host:port,host:port` (exactly as written in URLs, e.g. `127.0.0.1:40123`) that
   * the SSRF guard treats as public for URL sources, so an end-to-end test can serve a "public" source on
   * loopback while every other private target — a redirect to another port, `localhost`, 169.254.169.254 — is
   * still refused. Never set it in a deployment; the worker logs a warning when it is set.
   */
  SOURCE_TEST_PUBLIC_HOSTS: z
    .string()
    .default('')
    .transform((raw) => new Set(raw.split(',').map((s) => s.trim()).filter(Boolean)) as ReadonlySet<string>),
  /**
   * Retry wait of a conversion / listing page that failed because the source or storage was unreachable
   * (SOURCE_UNAVAILABLE, STORAGE_UNAVAILABLE): this, doubling per retry, capped at CONVERSION_OUTAGE_BACKOFF_MAX_MS,
   * ±10 % jitter. With the defaults (15 s … 5 min, 10 attempts) an outage of ~25 min delays jobs instead of failing
   * them. Tests shorten both.
   */
  CONVERSION_OUTAGE_BACKOFF_MS: positiveInt.default(15_000),
  CONVERSION_OUTAGE_BACKOFF_MAX_MS: positiveInt.default(300_000),
  /** presigned GET URLs in results live this long */
  PRESIGN_EXPIRES_SECONDS: positiveInt.default(3600),
  /** the studio (`/studio`): largest video a tenant may upload (bytes) */
  STUDIO_MAX_UPLOAD_BYTES: positiveInt.default(2 * 1024 ** 3),
  /** the studio's sign-in (an HttpOnly cookie standing for the tenant's API key) lasts this long */
  STUDIO_SESSION_SECONDS: positiveInt.default(8 * 3600),
  /**
   * the studio: preview jobs (analyses, frames) one tenant may have waiting or running at once; one more is
   * refused with 429 STUDIO_TOO_MANY_PREVIEWS, so a tenant cannot fill the `studio` queue for everyone
   */
  STUDIO_MAX_PENDING_PREVIEWS: positiveInt.default(8),
  /** the studio: how long a preview request waits for its worker before answering "pending" (ms; tests shorten it) */
  STUDIO_PREVIEW_WAIT_MS: positiveInt.default(30_000),
  /**
   * The S3 endpoint as browsers reach it, for the studio's presigned uploads (e.g. http://localhost:9000 when
   * the services reach MinIO as http://minio:9000); default S3_ENDPOINT. The bucket needs a CORS rule allowing
   * PUT from the API's origin (infra/README.md).
   */
  S3_PUBLIC_ENDPOINT: z.string().url().optional(),
  /** conversion/batch records (what GET returns) are kept this long in Redis, like BullMQ's removeOnFail age */
  RECORD_TTL_SECONDS: positiveInt.default(30 * 24 * 3600),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('vid2live'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type AppConfig = z.output<typeof schema> & { role: 'api' | 'worker' | 'cli' };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: Array<{ variable: string; message: string }>) {
    super(
      'invalid configuration: ' + problems.map((p) => `${p.variable}: ${p.message}`).join('; '),
    );
  }
}

/** Variables each role cannot start without. */
const REQUIRED: Record<AppConfig['role'], Array<keyof z.output<typeof schema>>> = {
  api: ['API_KEYS', 'TENANT_STORAGE'],
  worker: ['WEBHOOK_SECRET', 'TENANT_STORAGE'],
  cli: [],
};

export function loadConfig(role: AppConfig['role'], env: NodeJS.ProcessEnv = process.env): AppConfig {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    input[key] = v === undefined || v === '' ? undefined : v;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // Only the variable name and the rule go out: never the offending value (it may be a secret).
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const missing = REQUIRED[role].filter((k) => parsed.data[k] === undefined);
  if (missing.length) {
    throw new ConfigError(missing.map((variable) => ({ variable, message: `required for the ${role}` })));
  }
  const cfg = { ...parsed.data, role };
  const problems: Array<{ variable: string; message: string }> = [];
  if (cfg.API_KEYS && cfg.TENANT_STORAGE) {
    // A tenant that can authenticate but has no storage entry is a typo waiting to lock it out: refuse to start.
    const unscoped = [...new Set(cfg.API_KEYS.values())].filter((t) => !cfg.TENANT_STORAGE!.has(t));
    if (unscoped.length) problems.push({ variable: 'TENANT_STORAGE', message: `no entry for tenant(s) ${unscoped.join(', ')} of API_KEYS` });
  }
  if (cfg.API_KEYS && cfg.ADMIN_API_KEYS && [...cfg.ADMIN_API_KEYS].some((k) => cfg.API_KEYS!.has(k))) {
    problems.push({ variable: 'ADMIN_API_KEYS', message: 'an admin key must not also be a tenant key in API_KEYS' });
  }
  if (problems.length) throw new ConfigError(problems);
  // A custom endpoint (MinIO, s3rver) almost always needs path-style addressing.
  if (cfg.S3_FORCE_PATH_STYLE === undefined) cfg.S3_FORCE_PATH_STYLE = cfg.S3_ENDPOINT !== undefined;
  return cfg;
}

/** The config as it may be logged: secrets replaced. */
export function redactedConfig(cfg: AppConfig): Record<string, unknown> {
  return {
    ...cfg,
    S3_SECRET_ACCESS_KEY: cfg.S3_SECRET_ACCESS_KEY ? '***' : undefined,
    WEBHOOK_SECRET: cfg.WEBHOOK_SECRET ? '***' : undefined,
    API_KEYS: cfg.API_KEYS ? `${cfg.API_KEYS.size} key(s) for tenants ${[...new Set(cfg.API_KEYS.values())].join(',')}` : undefined,
    ADMIN_API_KEYS: cfg.ADMIN_API_KEYS ? `${cfg.ADMIN_API_KEYS.size} key(s)` : undefined,
    TENANT_STORAGE: cfg.TENANT_STORAGE ? Object.fromEntries(cfg.TENANT_STORAGE) : undefined,
    REDIS_URL: scrubSecrets(cfg.REDIS_URL, urlCredentials(cfg.REDIS_URL)),
  };
}

/** Every secret of the config as a literal, for `scrubSecrets` where text may quote one (error messages). */
export function configSecrets(cfg: Partial<AppConfig>): string[] {
  return [
    ...urlCredentials(cfg.REDIS_URL),
    ...(cfg.API_KEYS ? cfg.API_KEYS.keys() : []),
    ...(cfg.ADMIN_API_KEYS ?? []),
    cfg.WEBHOOK_SECRET ?? '',
    cfg.S3_SECRET_ACCESS_KEY ?? '',
  ].filter((s) => s.length > 0);
}
