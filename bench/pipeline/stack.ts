import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { S3Storage } from '@vid2live/storage';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import { IN_BUCKET, LOG_DIR, note, onCleanup, OUT_BUCKET, REDIS_URL, stopIfInterrupted, WORKERS, type Layout } from './context';
import { startCountingProxy, type CountingProxy } from './counting-proxy';
import { startApi, startWorker, type AppProcess } from './processes';

// the stack: Redis, s3rver and the proxy for the whole run; api + workers started per phase (so their CPU time,
// reaped when they exit, can be attributed to that phase)

export interface Stack {
  s3: RunningS3rver;
  proxy: CountingProxy;
  /** talks to s3rver directly: the bench's own uploads and listings never reach the proxy's counters */
  storage: S3Storage;
  redis: Redis;
  prefix: string;
  /** app environment; `viaProxy`: S3_ENDPOINT = the counting proxy instead of s3rver itself */
  env(viaProxy: boolean): Record<string, string>;
  apiKey: string;
}

export interface Apps {
  apiUrl: string;
  apiKey: string;
  processes: AppProcess[];
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect().catch((e: Error) => {
    throw new Error(`no Redis at ${REDIS_URL} (${e.message}); start one or set REDIS_URL`);
  });
  const prefix = `bench-pipeline-${randomBytes(4).toString('hex')}`;
  onCleanup('redis', async () => {
    const n = await deleteByPattern(redis, `${prefix}:*`);
    note(`deleted ${n} Redis key(s) under ${prefix}:`);
    redis.disconnect();
  });

  const s3 = await startS3rver([IN_BUCKET, OUT_BUCKET]);
  onCleanup('s3rver', () => s3.close());
  const upstream = new URL(s3.endpoint);
  const proxy = await startCountingProxy({ host: upstream.hostname, port: Number(upstream.port) });
  onCleanup('the counting proxy', () => proxy.close());
  const storage = new S3Storage(s3.config);
  onCleanup('the S3 client', () => storage.close());

  const apiKey = `bench_${randomBytes(18).toString('base64url')}`;
  const env = (viaProxy: boolean): Record<string, string> => ({
    REDIS_URL,
    ...s3.env,
    // via the proxy, every app request and every presigned URL names the proxy; it forwards the same Host to s3rver
    S3_ENDPOINT: viaProxy ? proxy.endpoint : s3.endpoint,
    API_KEYS: `${apiKey}:bench`,
    TENANT_STORAGE: JSON.stringify({
      bench: { read: [{ bucket: IN_BUCKET, prefix: '' }], write: [{ bucket: OUT_BUCKET, prefix: '' }] },
    }),
    WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false',
    QUEUE_PREFIX: prefix,
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'info',
  });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  return { s3, proxy, storage, redis, prefix, env, apiKey };
}

/** The api and `layout.workers` worker processes with WORKER_CONCURRENCY = `layout.concurrency` (default 2 × 1). */
export async function startApps(
  stack: Stack,
  label: string,
  viaProxy: boolean,
  layout: Pick<Layout, 'workers' | 'concurrency'> = { workers: WORKERS, concurrency: 1 },
): Promise<Apps> {
  stopIfInterrupted();
  const processes: AppProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= Promise.all(processes.map((a) => a.stop())).then(() => undefined));
  onCleanup(`the api and workers (${label})`, stop);
  const api = await startApi(stack.env(viaProxy), path.join(LOG_DIR, `${stack.prefix}-${label}-api.log`));
  processes.push(api.app);
  const workerEnv = { ...stack.env(viaProxy), WORKER_CONCURRENCY: String(layout.concurrency) };
  const workers = await Promise.all(
    Array.from({ length: layout.workers }, (_, i) => startWorker(workerEnv, path.join(LOG_DIR, `${stack.prefix}-${label}-worker-${i + 1}.log`))),
  );
  processes.push(...workers);
  return { apiUrl: api.url, apiKey: stack.apiKey, processes, stop };
}

export async function api<T>(apps: Apps, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${apps.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${apps.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

export function assertAppsAlive(apps: Apps): void {
  for (const a of apps.processes) if (!a.running) throw new Error(`the ${a.role} (log ${a.logFile}) exited:\n${a.output().slice(-4000)}`);
}


async function deleteByPattern(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length) n += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}
