import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { S3Storage } from '@vid2live/storage';
import { fixS3rverDeleteRace } from '@vid2live/storage/testing/s3rver';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { startApi, startWorker as startWorkerProcess, stopAll } from './support/processes';
import { E2E_MEDIA, freePort, redisAnswers, startStack, type Stack } from './support/stack';
import { sleep, waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { Producer, objectKeys, startSlowFileServer, startWorker, uniquePrefix, workerConfig, type RunningWorker } from './worker-support';

/**
 * Fault tests, bounded in time: a Redis killed and restarted mid-batch (AOF on, as docker-compose runs it), the
 * API while Redis is down, and an S3 server stopped and restarted mid-job.
 */

/** A private redis-server with `--appendonly yes` in its own directory, on its own port, that can be killed and restarted. */
class PrivateRedis {
  private child?: ChildProcess;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-redis-aof-'));

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', ''], {
      stdio: 'ignore',
    });
    child.on('error', () => undefined);
    this.child = child;
    await waitFor('the private redis-server', () => redisAnswers(this.url, 500), { timeoutMs: 10_000 });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async cleanup(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('Redis killed and restarted mid-batch', () => {
  let stack: Stack;
  let redis: PrivateRedis;
  let receiver: WebhookReceiver;
  let a: ApiClient;

  beforeAll(async () => {
    stack = await startStack('outage');
    redis = new PrivateRedis(await freePort());
    await redis.start();
    receiver = await WebhookReceiver.start(stack.webhookSecret);
  });

  afterAll(async () => {
    await stopAll();
    await receiver?.close();
    await redis?.cleanup();
    await stack?.stop();
  });

  it('loses no job, completes every item exactly once, and the API answers 503 quickly while Redis is down', async () => {
    // Every app of this test talks to the private Redis.
    const onPrivate: Stack = { ...stack, redisUrl: redis.url, env: (extra = {}) => stack.env({ REDIS_URL: redis.url, ...extra }) };
    const api = await startApi(onPrivate);
    await startWorkerProcess(onPrivate, { WORKER_CONCURRENCY: '2', WEBHOOK_BACKOFF_MS: '200', WEBHOOK_BACKOFF_MAX_MS: '1000' });
    a = apiClient(api.url, stack.tenants.a);

    const video = makeCachedVideo(E2E_MEDIA, { seconds: 2, size: '320x180' });
    const keys = ['r/one.mp4', 'r/two.mp4', 'r/three.mp4', 'r/four.mp4'];
    for (const k of keys) await stack.storage.putObjectFromFile(stack.buckets.input, k, video);
    const output = { bucket: stack.buckets.output, prefix: 'redis-restart/' };
    const created = await a.post('/v1/batches', {
      source: { items: keys.map((key) => ({ bucket: stack.buckets.input, key })) },
      output,
      options: { duration: 1 },
      webhook: { url: receiver.url() },
    });
    expect(created.status).toBe(202);
    const batchId: string = created.body.id;

    // Mid-batch: something is running or done, not everything.
    await waitFor(
      'the batch to be under way',
      async () => {
        const c = (await a.get(`/v1/batches/${batchId}`)).body.counts;
        return c.active + c.completed >= 1 && c.completed < keys.length;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    await redis.kill();

    // While Redis is down: a quick 503 with a code and Retry-After, not a 500 after ~14 s.
    for (const call of [
      () => a.post('/v1/conversions', { source: { bucket: stack.buckets.input, key: keys[0] }, output }),
      () => a.get(`/v1/batches/${batchId}`),
    ]) {
      const t0 = Date.now();
      const res = await call();
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('QUEUE_UNAVAILABLE');
      expect(res.headers.get('retry-after')).toBe('5');
    }
    expect((await apiClient(api.url).get('/health/ready')).status).toBe(503);
    await sleep(3_000);

    await redis.start();
    // The API reconnects by itself: 2xx again within seconds.
    const after = await waitFor(
      'the api to accept work again',
      async () => {
        const res = await a.post('/v1/conversions', {
          source: { bucket: stack.buckets.input, key: keys[0] },
          output: { bucket: stack.buckets.output, prefix: 'after-restart/' },
          options: { duration: 1 },
        });
        return res.status === 202 ? res : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    const done = await waitFor(
      'the batch to complete',
      async () => {
        const v = (await a.get(`/v1/batches/${batchId}`)).body;
        return v.status === 'completed' ? v : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(done.counts).toEqual({ queued: 0, active: 0, completed: keys.length, failed: 0, canceled: 0 });
    expect(done.total).toBe(keys.length);
    await waitFor('the conversion submitted after the restart', async () => (await a.get(`/v1/conversions/${after.body.id}`)).body.status === 'completed', {
      timeoutMs: 60_000,
      intervalMs: 250,
    });

    // One pair per item, nothing else.
    const names = keys.map((k) => path.posix.basename(k, '.mp4'));
    expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual(
      names.flatMap((n) => [`${output.prefix}${n}.JPG`, `${output.prefix}${n}.MOV`]).sort(),
    );
    // Each item ended once: one conversion.completed event per item (receivers dedupe on webhook-id; a delivery
    // may be repeated across the restart, an event never), and one batch.completed.
    await waitFor('the batch.completed webhook', () => receiver.accepted().some((r) => r.body?.type === 'batch.completed'), { timeoutMs: 30_000 });
    const completedEvents = receiver.accepted().filter((r) => r.body?.type === 'conversion.completed');
    const byItem = new Map<string, Set<string>>();
    for (const r of completedEvents) {
      const id = String(r.body!.data.id);
      byItem.set(id, (byItem.get(id) ?? new Set()).add(r.id));
    }
    expect(byItem.size).toBe(keys.length);
    for (const ids of byItem.values()) expect(ids.size).toBe(1);
    expect(receiver.received.some((r) => r.body?.type === 'conversion.failed')).toBe(false);
    expect(new Set(receiver.accepted().filter((r) => r.body?.type === 'batch.completed').map((r) => r.id)).size).toBe(1);
  });
});

describe('S3 stopped and restarted mid-job', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-s3-outage-'));
  let port: number;
  let server: { close(): Promise<void> } | undefined;
  let storage: S3Storage;
  let producer: Producer;
  let worker: RunningWorker | undefined;

  const startS3 = async () => {
    fixS3rverDeleteRace();
    const s = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'in' }, { name: 'out' }] });
    await s.run();
    server = s;
  };
  const stopS3 = async () => {
    await server?.close();
    server = undefined;
  };
  const env = () => ({
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
  });

  beforeAll(async () => {
    port = await freePort();
    await startS3();
    storage = new S3Storage({ S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', S3_FORCE_PATH_STYLE: true });
    producer = new Producer(uniquePrefix());
  });

  afterAll(async () => {
    await worker?.stop();
    await producer?.cleanup();
    await storage?.close();
    await stopS3();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('retries the upload and the download with the outage backoff and ends with one pair each', async () => {
    // The outage backoff shortened for the test (the defaults wait 15 s … 5 min).
    const config = workerConfig(producer.prefix, { env: env() } as never, { CONVERSION_OUTAGE_BACKOFF_MS: '2000', CONVERSION_OUTAGE_BACKOFF_MAX_MS: '4000' });
    worker = await startWorker(config);
    const video = makeCachedVideo(E2E_MEDIA, { seconds: 2, size: '320x180' });
    await storage.putObjectFromFile('in', 's3/clip.mp4', video);
    const src = await startSlowFileServer(video, 1024 * 1024);
    try {
      // A URL source: reading it needs no S3, so S3 going away hits the upload.
      const upId = await producer.submit({ source: { url: src.url }, output: { bucket: 'out', prefix: 'up/' }, options: { duration: 1 } });
      await producer.waitFor('the job to be active', async () => (await producer.record(upId)).status === 'active', 60_000);
      await stopS3();
      // An S3 source submitted during the outage: its download fails.
      const downId = await producer.submit({ source: { bucket: 'in', key: 's3/clip.mp4' }, output: { bucket: 'out', prefix: 'down/' }, options: { duration: 1 } });

      const retrying = async (id: string, code: string) =>
        producer.waitFor(`${id} to wait for a retry after ${code}`, async () => {
          const r = await producer.record(id);
          return r.status === 'queued' && (r.lastError as { code?: string } | undefined)?.code === code ? r : undefined;
        }, 90_000);
      await retrying(upId, 'STORAGE_UNAVAILABLE');
      await retrying(downId, 'SOURCE_UNAVAILABLE');
      for (const id of [upId, downId]) {
        const job = (await producer.conversions.getJob(id))!;
        // Put back for a retry, not failed. With the shortened 2 s backoff the first one may already be retrying
        // (active again) by the time the second one has been observed.
        expect(['delayed', 'waiting', 'active']).toContain(await job.getState());
        expect(job.opts.attempts).toBe(10);
      }
      // Down for a while (several retries at this shortened backoff): still not failed.
      await sleep(6_000);
      for (const id of [upId, downId]) expect((await producer.record(id)).status).not.toBe('failed');
      await startS3();

      for (const id of [upId, downId]) {
        const done = await producer.waitForStatus(id, ['completed', 'failed'], 90_000);
        expect(done.error).toBeUndefined();
        expect(done.status).toBe('completed');
        const job = (await producer.conversions.getJob(id))!;
        expect(job.attemptsMade).toBeGreaterThanOrEqual(1);
      }
      const name = path.posix.basename(new URL(src.url).pathname, '.mp4');
      expect(await objectKeys(storage, 'out', 'up/')).toEqual([`up/${name}.JPG`, `up/${name}.MOV`]);
      expect(await objectKeys(storage, 'out', 'down/')).toEqual(['down/clip.JPG', 'down/clip.MOV']);
    } finally {
      await src.close();
    }
  });
});
