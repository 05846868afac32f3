import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import S3rver from 's3rver';
import { fixS3rverDeleteRace } from '@vid2live/storage/testing/s3rver';
import { S3Storage } from '@vid2live/storage';
import { waitFor } from './wait';

/**
 * One isolated environment per test file: Redis + an S3 server, a unique QUEUE_PREFIX, random API keys and a
 * webhook secret. With a Docker engine, testcontainers brings Redis and MinIO; without one, the local Redis on
 * 127.0.0.1:6379 (a private redis-server when nothing answers there) and s3rver in this process.
 */
export interface Tenant {
  key: string;
  tenant: string;
}

export interface Stack {
  prefix: string;
  redisUrl: string;
  /** the test's own connection (never shared with the apps) */
  redis: Redis;
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; kind: 'minio' | 's3rver' };
  storage: S3Storage;
  buckets: { input: string; output: string };
  tenants: { a: Tenant; b: Tenant };
  /** an ADMIN_API_KEYS key: the queue dashboard and /metrics */
  admin: { key: string };
  /** TENANT_STORAGE of `env()`: both tenants read and write anywhere in both buckets (scope tests set their own) */
  tenantStorage: string;
  /** set when the stack's Redis requires a password (`startStack(name, { redisPassword: true })`) */
  redisPassword?: string;
  webhookSecret: string;
  /** environment for a child api/worker process */
  env(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

interface S3rverAccounts {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

let dockerAnswer: Promise<boolean> | undefined;

/** `docker info` with a 3 s deadline: a missing CLI, a stopped daemon or a hung socket all mean "no Docker". */
export function dockerAvailable(): Promise<boolean> {
  dockerAnswer ??= new Promise((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 3_000 }, (err, stdout) =>
      resolve(!err && stdout.trim().length > 0),
    );
  });
  return dockerAnswer;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a Redis at `url` answers PING (one bounded try, no reconnects). */
export async function redisAnswers(url: string, connectTimeout = 1_000): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const randomKey = () => randomBytes(18).toString('base64url'); // 24 chars of [A-Za-z0-9_-], no ':'

export const E2E_TMP = path.join(__dirname, '..', '..', '.tmp', 'e2e');
/** Generated source media the e2e files share (`makeCachedVideo`, `makeBadInput` of `@vid2live/media/test-media`). */
export const E2E_MEDIA = path.join(E2E_TMP, 'media');

export interface StackOptions {
  /** run a private redis-server with `requirepass` (a random password, also in `redisUrl`) */
  redisPassword?: boolean;
}

export async function startStack(name: string, opts: StackOptions = {}): Promise<Stack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const prefix = `e2e-${name}-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(E2E_TMP, { recursive: true });

  let redisUrl: string;
  let s3: Stack['s3'];
  if (await dockerAvailable()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const [redisC, minioC] = await Promise.all([
      new GenericContainer('redis:7').withExposedPorts(6379).withCommand(['redis-server', '--appendonly', 'no']).start(),
      new GenericContainer('minio/minio:latest')
        .withCommand(['server', '/data'])
        .withEnvironment({ MINIO_ROOT_USER: 'vid2live', MINIO_ROOT_PASSWORD: 'vid2live-secret' })
        .withExposedPorts(9000)
        .withWaitStrategy(Wait.forHttp('/minio/health/live', 9000))
        .start(),
    ]);
    cleanups.push(() => redisC.stop(), () => minioC.stop());
    redisUrl = `redis://${redisC.getHost()}:${redisC.getMappedPort(6379)}`;
    s3 = {
      endpoint: `http://${minioC.getHost()}:${minioC.getMappedPort(9000)}`,
      region: 'us-east-1',
      accessKeyId: 'vid2live',
      secretAccessKey: 'vid2live-secret',
      kind: 'minio',
    };
  } else {
    redisUrl = 'redis://127.0.0.1:6379';
    if (!(await redisAnswers(redisUrl))) redisUrl = await startPrivateRedis(cleanups);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vid2live-s3rver-${name}-`));
    fixS3rverDeleteRace();
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
    const { port } = await server.run();
    cleanups.push(async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    // A random key pair per file instead of the well-known S3RVER/S3RVER, so "the secret never reaches a log" is
    // a meaningful check (s3rver keeps its accounts in a module-level registry of this process).
    const accessKeyId = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(24).toString('base64url');
    (require('s3rver/lib/models/account') as S3rverAccounts).DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
    s3 = { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId, secretAccessKey, kind: 's3rver' };
  }

  let redisPassword: string | undefined;
  if (opts.redisPassword) {
    redisPassword = `rp_${randomKey()}`;
    redisUrl = await startPrivateRedis(cleanups, redisPassword);
  }

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const storage = new S3Storage({
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: true,
  });
  const buckets = { input: 'vid2live-in', output: 'vid2live-out' };
  await storage.ensureBucket(buckets.input);
  await storage.ensureBucket(buckets.output);

  const tenants = { a: { key: `ka_${randomKey()}`, tenant: 'tenant-a' }, b: { key: `kb_${randomKey()}`, tenant: 'tenant-b' } };
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const admin = { key: `adm_${randomKey()}` };
  const everywhere = [
    { bucket: buckets.input, prefix: '' },
    { bucket: buckets.output, prefix: '' },
  ];
  const tenantStorage = JSON.stringify({
    [tenants.a.tenant]: { read: everywhere, write: everywhere },
    [tenants.b.tenant]: { read: everywhere, write: everywhere },
  });

  return {
    prefix,
    redisUrl,
    redis,
    s3,
    storage,
    buckets,
    tenants,
    admin,
    tenantStorage,
    ...(redisPassword ? { redisPassword } : {}),
    webhookSecret,
    env: (extra = {}) => ({
      REDIS_URL: redisUrl,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
      API_KEYS: `${tenants.a.key}:${tenants.a.tenant},${tenants.b.key}:${tenants.b.tenant}`,
      ADMIN_API_KEYS: admin.key,
      TENANT_STORAGE: tenantStorage,
      WEBHOOK_SECRET: webhookSecret,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      SOURCE_ALLOW_PRIVATE_TARGETS: 'true',
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'info',
      ...extra,
    }),
    stop: async () => {
      // Leave nothing behind in a shared Redis: every key of this file lives under its prefix.
      await deleteByPattern(redis, `${prefix}:*`).catch(() => undefined);
      redis.disconnect();
      await storage.close();
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}

async function deleteByPattern(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Nothing on 127.0.0.1:6379 (or a password is wanted): a throw-away redis-server on a free port for this file. */
async function startPrivateRedis(cleanups: Array<() => Promise<unknown>>, password?: string): Promise<string> {
  const port = await freePort();
  let child: ChildProcess;
  try {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    // The password goes in through stdin (a config file read from `-`), so it is not in the process list.
    child = spawn('redis-server', password ? ['-', ...args] : args, { stdio: [password ? 'pipe' : 'ignore', 'ignore', 'ignore'] });
    if (password) child.stdin?.end(`requirepass ${password}\n`);
  } catch (e) {
    throw new Error(`e2e: no Redis on 127.0.0.1:6379, no Docker, and redis-server could not start: ${String(e)}`);
  }
  child.on('error', () => undefined);
  cleanups.push(async () => {
    child.kill('SIGKILL');
  });
  const url = password ? `redis://:${password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`;
  await waitFor('a private redis-server', () => redisAnswers(url), { timeoutMs: 10_000 });
  return url;
}
