import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { loadConfig, type AppConfig } from '@vid2live/config';
import { QUEUES, redisKeys } from '@vid2live/jobs';
import { type ConversionRecord, type ConversionRequest } from '@vid2live/jobs/records';
import { enqueueConversion, enqueuePrefixBatch, newConversionRecord, newId, type SubmitTarget } from '@vid2live/jobs/submit';
import { S3Storage } from '@vid2live/storage';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import { WorkerHost, type WorkerTuning } from '../apps/worker/src/worker-host';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { BatchProcessor } from '../apps/worker/src/batch.processor';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const WEBHOOK_SECRET = 'whsec_' + Buffer.from('vid2live-worker-e2e-secret-32byte').toString('base64');
/** TENANT_STORAGE for the worker tests: tenant `acme` reads and writes anywhere in the buckets `in` and `out`. */
export const TEST_TENANT_STORAGE = JSON.stringify({
  acme: { read: [{ bucket: 'in', prefix: '' }, { bucket: 'out', prefix: '' }], write: [{ bucket: 'out', prefix: '' }, { bucket: 'in', prefix: '' }] },
});

export function uniquePrefix(): string {
  return `t_${randomBytes(5).toString('hex')}`;
}

export function workerConfig(prefix: string, s3: RunningS3rver, extra: Record<string, string> = {}): AppConfig {
  return loadConfig('worker', {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    WEBHOOK_SECRET,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    SOURCE_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_BACKOFF_MS: '200',
    WEBHOOK_BACKOFF_MAX_MS: '1000',
    LOG_LEVEL: 'warn',
    // The producer's default tenant may read `in` and write `out` (tests of the scope itself set their own).
    TENANT_STORAGE: TEST_TENANT_STORAGE,
    ...s3.env,
    ...extra,
  });
}

export interface RunningWorker {
  app: INestApplicationContext;
  host: WorkerHost;
  stop(deadlineMs?: number): Promise<void>;
}

/** The worker application exactly as main.ts builds it, in this process. */
export async function startWorker(config: AppConfig, tuning: WorkerTuning & { pageSize?: number } = {}): Promise<RunningWorker> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
  const host = app.get(WorkerHost);
  host.tuning = tuning;
  if (tuning.pageSize) app.get(BatchProcessor).pageSize = tuning.pageSize;
  await host.start();
  return {
    app,
    host,
    async stop(deadlineMs = 5_000) {
      await host.shutdown(deadlineMs);
      await app.close();
    },
  };
}

/**
 * Stands in for the API after its checks: submits through libs/jobs' submit functions, the very calls the API
 * services make (same ids, record shapes, TTLs, job options and rollback).
 */
export class Producer {
  readonly redis: Redis;
  readonly conversions: Queue;
  readonly batches: Queue;
  readonly webhooks: Queue;
  readonly target: SubmitTarget;

  constructor(
    readonly prefix: string,
    ttlSeconds = 30 * 24 * 3600,
  ) {
    this.redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    const opts = { connection: this.redis, prefix };
    this.conversions = new Queue(QUEUES.conversions, opts);
    this.batches = new Queue(QUEUES.batches, opts);
    this.webhooks = new Queue(QUEUES.webhooks, opts);
    this.target = { redis: this.redis, prefix, ttlSeconds, conversions: this.conversions, batches: this.batches };
  }

  async submit(request: ConversionRequest, tenant = 'acme', outputBaseName?: string): Promise<string> {
    const record = newConversionRecord(tenant, request, undefined, outputBaseName);
    await enqueueConversion(this.target, record);
    return record.id;
  }

  async submitPrefixBatch(
    source: { bucket: string; prefix: string },
    output: { bucket: string; prefix: string },
    webhook?: { url: string },
    tenant = 'acme',
  ): Promise<string> {
    const id = newId('bat');
    await enqueuePrefixBatch(this.target, id, tenant, { source, output, ...(webhook ? { webhook } : {}) });
    return id;
  }

  async record(id: string): Promise<ConversionRecord & { lastError?: unknown }> {
    return JSON.parse((await this.redis.get(redisKeys.conversion(this.prefix, id)))!);
  }

  async waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  waitForStatus(id: string, statuses: string[], timeoutMs?: number): Promise<ConversionRecord> {
    return this.waitFor(`${id} to be ${statuses.join('|')}`, async () => {
      const r = await this.record(id);
      return statuses.includes(r.status) ? r : undefined;
    }, timeoutMs);
  }

  /** Removes every key of this test's prefix (queues and records). */
  async cleanup(): Promise<void> {
    await Promise.allSettled([this.conversions.close(), this.batches.close(), this.webhooks.close()]);
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await this.redis.del(...keys);
    } while (cursor !== '0');
    await this.redis.quit();
  }
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
}

/** A webhook receiver on 127.0.0.1 that answers from a script of statuses (then 200). */
export async function startReceiver(): Promise<{
  url: string;
  received: ReceivedWebhook[];
  script: number[];
  close(): Promise<void>;
}> {
  const received: ReceivedWebhook[] = [];
  const script: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = script.length ? script.shift()! : 200;
      received.push({ headers: req.headers, body, status, at: Date.now() });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    received,
    script,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * Serves one file with Range support, slowly (bytesPerTick every 50 ms): ffmpeg reading it stays busy long enough
 * for a test to cancel it mid-render.
 */
export async function startSlowFileServer(
  file: string,
  bytesPerTick = 8 * 1024,
): Promise<{ url: string; setSpeed(bytesPerTick: number): void; close(): Promise<void> }> {
  const size = statSync(file).size;
  const token = randomBytes(6).toString('hex');
  const server = createServer((req, res) => {
    let start = 0;
    let end = size - 1;
    const m = /bytes=(\d*)-(\d*)/.exec(req.headers.range ?? '');
    if (m) {
      start = m[1] ? Number(m[1]) : size - Number(m[2]);
      end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    if (req.method === 'HEAD') return res.end();
    const stream = createReadStream(file, { start, end, highWaterMark: 4 * 1024 });
    // 4 KiB chunks, paced so that about bytesPerTick go out per 50 ms (read at the moment: speed can change).
    stream.on('data', (chunk) => {
      stream.pause();
      res.write(chunk);
      setTimeout(() => stream.resume(), Math.max(0, Math.round((50 * chunk.length) / bytesPerTick)));
    });
    stream.on('end', () => res.end());
    res.on('close', () => stream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow-${token}.mp4`,
    setSpeed: (n: number) => {
      bytesPerTick = n;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Command lines of running processes that mention `needle` (e.g. a unique source URL). */
export function processesMentioning(needle: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}

export async function objectKeys(storage: S3Storage, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await storage.listPage(bucket, prefix, token, 1000);
    keys.push(...page.objects.map((o) => o.key));
    token = page.continuationToken;
  } while (token);
  return keys.sort();
}
