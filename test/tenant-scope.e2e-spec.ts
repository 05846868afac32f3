import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { QUEUES, conversionJobOptions, redisKeys, type ConversionJobData } from '@vid2live/jobs';
import { JOB_NAMES, type ConversionRecord } from '@vid2live/jobs/records';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { runToExit, startApi, startWorker, stopAll, type ApiProcess } from './support/processes';
import { E2E_MEDIA, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';

/**
 * TENANT_STORAGE (issue 9, item 2): each tenant reads and writes only its own bucket/prefix pairs. Checked by the api
 * at submit (400 INVALID_KEY / 403 STORAGE_SCOPE_DENIED, single conversions, items batches and prefix batches) and
 * again by the worker before any read or write, where a violation is final (one attempt, never retried).
 */
let stack: Stack;
let api: ApiProcess;
let a: ApiClient;
let connection: Redis;
let conversions: Queue;
let scoped: string;

beforeAll(async () => {
  stack = await startStack('scope');
  const { input, output } = stack.buckets;
  scoped = JSON.stringify({
    [stack.tenants.a.tenant]: { read: [{ bucket: input, prefix: 'a/' }], write: [{ bucket: output, prefix: 'a/' }] },
    [stack.tenants.b.tenant]: { read: [{ bucket: input, prefix: 'b/' }], write: [{ bucket: output, prefix: 'b/' }] },
  });
  const video = makeCachedVideo(E2E_MEDIA, { seconds: 2 });
  await stack.storage.putObjectFromFile(input, 'b/secret.mp4', video);
  await stack.storage.putObjectFromFile(input, 'a/mine.mp4', video);
  [api] = await Promise.all([
    startApi(stack, { TENANT_STORAGE: scoped }),
    startWorker(stack, { TENANT_STORAGE: scoped, WORKER_STALLED_INTERVAL_MS: '5000' }),
  ]);
  a = apiClient(api.url, stack.tenants.a);
  connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  conversions = new Queue(QUEUES.conversions, { connection, prefix: stack.prefix });
});

afterAll(async () => {
  await conversions?.close();
  connection?.disconnect();
  await stopAll();
  await stack?.stop();
});

const conversion = (source: object, prefix = 'a/live/') => ({ source, output: { bucket: stack.buckets.output, prefix } });

describe('at submit (api)', () => {
  it('accepts a conversion inside the tenant scope', async () => {
    const res = await a.post('/v1/conversions', conversion({ bucket: stack.buckets.input, key: 'a/mine.mp4' }));
    expect(res.status).toBe(202);
  });

  it("answers 403 STORAGE_SCOPE_DENIED for another tenant's source or output prefix", async () => {
    const read = await a.post('/v1/conversions', conversion({ bucket: stack.buckets.input, key: 'b/secret.mp4' }));
    expect(read.status).toBe(403);
    expect(read.body.error).toMatchObject({ code: 'STORAGE_SCOPE_DENIED', details: [{ path: 'source.key', code: 'STORAGE_SCOPE_DENIED' }] });

    const write = await a.post('/v1/conversions', conversion({ bucket: stack.buckets.input, key: 'a/mine.mp4' }, 'b/live/'));
    expect(write.status).toBe(403);
    expect(write.body.error.details).toEqual([expect.objectContaining({ path: 'output.prefix', code: 'STORAGE_SCOPE_DENIED' })]);

    // a bucket the tenant has no scope in at all, and a prefix that only looks like its own
    expect((await a.post('/v1/conversions', conversion({ bucket: stack.buckets.output, key: 'a/x.mp4' }))).status).toBe(403);
    expect((await a.post('/v1/conversions', conversion({ bucket: stack.buckets.input, key: 'ab/x.mp4' }))).status).toBe(403);
    // a URL source still needs a writable output
    expect((await a.post('/v1/conversions', conversion({ url: 'http://127.0.0.1:9/x.mp4' }, 'b/'))).status).toBe(403);
  });

  it.each([
    ['".." in source.key', { key: 'a/../b/secret.mp4' }, 'a/live/', 'source.key'],
    ['".." in output.prefix', { key: 'a/mine.mp4' }, 'a/../b/', 'output.prefix'],
    ['"." in source.key', { key: 'a/./mine.mp4' }, 'a/live/', 'source.key'],
    ['NUL in source.key', { key: 'a/x\u0000.mp4' }, 'a/live/', 'source.key'],
    ['a newline in source.key', { key: 'a/x\n.mp4' }, 'a/live/', 'source.key'],
    ['a newline in output.prefix', { key: 'a/mine.mp4' }, 'a/\nlive/', 'output.prefix'],
    ['an output key over 1 024 bytes', { key: `a/${'n'.repeat(200)}.mp4` }, `a/${'p'.repeat(850)}/`, 'source.key'],
  ])('answers 400 INVALID_KEY for %s', async (_what, source, prefix, path) => {
    const res = await a.post('/v1/conversions', conversion({ bucket: stack.buckets.input, ...source }, prefix));
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'INVALID_KEY', message: expect.any(String), details: [{ path, code: 'INVALID_KEY', message: expect.any(String) }] });
    // the offending value is not echoed back
    expect(JSON.stringify(res.body)).not.toContain('\\u0000');
  });

  it('checks every item of a batch and refuses the whole batch, naming the items', async () => {
    const before = await stack.redis.keys(`${stack.prefix}:batch:*`);
    const res = await a.post('/v1/batches', {
      source: { items: [{ bucket: stack.buckets.input, key: 'a/mine.mp4' }, { bucket: stack.buckets.input, key: 'b/secret.mp4' }] },
      output: { bucket: stack.buckets.output, prefix: 'a/batch/' },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'source.items.1.key' })]);
    const bad = await a.post('/v1/batches', {
      source: { items: [{ bucket: stack.buckets.input, key: 'a/../b/secret.mp4' }] },
      output: { bucket: stack.buckets.output, prefix: 'a/batch/' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_KEY');
    expect(await stack.redis.keys(`${stack.prefix}:batch:*`)).toEqual(before);
  });

  it('checks a prefix batch: its prefix must be inside a read scope', async () => {
    for (const prefix of ['b/', '', 'a']) {
      const res = await a.post('/v1/batches', { source: { bucket: stack.buckets.input, prefix }, output: { bucket: stack.buckets.output, prefix: 'a/out/' } });
      expect([prefix, res.status, res.body.error?.code]).toEqual([prefix, 403, 'STORAGE_SCOPE_DENIED']);
    }
    const dots = await a.post('/v1/batches', { source: { bucket: stack.buckets.input, prefix: 'a/../' }, output: { bucket: stack.buckets.output, prefix: 'a/out/' } });
    expect(dots.status).toBe(400);
    const ok = await a.post('/v1/batches', { source: { bucket: stack.buckets.input, prefix: 'a/' }, output: { bucket: stack.buckets.output, prefix: 'a/out/' } });
    expect(ok.status).toBe(202);
  });
});

describe('in the worker (defence in depth)', () => {
  /** What a compromised or buggy producer could enqueue: the record and the job, straight into Redis. */
  async function enqueueDirectly(data: Omit<ConversionJobData, 'conversionId' | 'tenant' | 'options'>): Promise<string> {
    const id = `cnv_${randomBytes(13).toString('hex').slice(0, 26)}`;
    const record: ConversionRecord = {
      id,
      tenant: stack.tenants.a.tenant,
      status: 'queued',
      progress: { stage: 'queued', percent: 0 },
      request: { source: data.source, output: data.output },
      createdAt: new Date().toISOString(),
    };
    await stack.redis.set(redisKeys.conversion(stack.prefix, id), JSON.stringify(record), 'EX', 3600);
    await conversions.add(JOB_NAMES.convert, { ...data, conversionId: id, tenant: stack.tenants.a.tenant, options: {} }, { ...conversionJobOptions, jobId: id });
    return id;
  }

  async function finalFailure(id: string): Promise<{ code: string; attemptsMade: number; failedReason: string }> {
    const record = await waitFor(
      `${id} to fail`,
      async () => {
        const raw = await stack.redis.get(redisKeys.conversion(stack.prefix, id));
        const r = raw ? (JSON.parse(raw) as ConversionRecord) : undefined;
        return r?.status === 'failed' ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const job = await waitFor(`${id} failed in BullMQ`, async () => {
      const j = await conversions.getJob(id);
      return j && (await j.getState()) === 'failed' ? j : undefined;
    });
    return { code: record.error!.code, attemptsMade: job.attemptsMade, failedReason: job.failedReason };
  }

  it("refuses another tenant's source before reading it, for good (no retry)", async () => {
    const id = await enqueueDirectly({ source: { bucket: stack.buckets.input, key: 'b/secret.mp4' }, output: { bucket: stack.buckets.output, prefix: 'a/live/' } });
    const f = await finalFailure(id);
    expect(f).toEqual({ code: 'STORAGE_SCOPE_DENIED', attemptsMade: 1, failedReason: expect.stringMatching(/^STORAGE_SCOPE_DENIED/) });
    expect(await stack.storage.headObject(stack.buckets.output, 'a/live/secret.MOV')).toBeFalsy();
  });

  it("refuses to write into another tenant's output prefix", async () => {
    const id = await enqueueDirectly({ source: { bucket: stack.buckets.input, key: 'a/mine.mp4' }, output: { bucket: stack.buckets.output, prefix: 'b/live/' } });
    expect(await finalFailure(id)).toMatchObject({ code: 'STORAGE_SCOPE_DENIED', attemptsMade: 1 });
    expect(await stack.storage.headObject(stack.buckets.output, 'b/live/mine.MOV')).toBeFalsy();
  });

  it.each([
    ['a NUL in the key', { key: 'a/x\u0000.mp4' }, 'a/live/', undefined],
    ['a ".." segment climbing into another prefix', { key: 'a/../b/secret.mp4' }, 'a/live/', undefined],
    ['an output key over 1 024 bytes', { key: 'a/mine.mp4' }, 'a/', 'n'.repeat(1020)],
  ])('fails %s as INVALID_KEY at once (UnrecoverableError, one attempt)', async (_what, source, prefix, outputBaseName) => {
    const id = await enqueueDirectly({
      source: { bucket: stack.buckets.input, ...source },
      output: { bucket: stack.buckets.output, prefix },
      ...(outputBaseName ? { outputBaseName } : {}),
    });
    expect(await finalFailure(id)).toMatchObject({ code: 'INVALID_KEY', attemptsMade: 1 });
  });
});

describe('start-up', () => {
  it.each([
    ['a tenant of API_KEYS without an entry', () => JSON.stringify({ [stack.tenants.a.tenant]: { read: [], write: [] } })],
    ['malformed JSON', () => '{"tenant-a":'],
    ['a scope prefix without a trailing "/"', () => JSON.stringify({ [stack.tenants.a.tenant]: { read: [{ bucket: 'media', prefix: 'a' }] }, [stack.tenants.b.tenant]: {} })],
    ['no TENANT_STORAGE at all', () => ''],
  ])('refuses to start the api and the worker on %s, naming TENANT_STORAGE', async (_what, value) => {
    for (const role of ['api', 'worker'] as const) {
      const { code, output } = await runToExit(role, { ...stack.env(), TENANT_STORAGE: value() });
      expect([role, code === 0]).toEqual([role, false]);
      expect(output).toContain('TENANT_STORAGE');
    }
  });

  it('refuses an admin key that is also a tenant key', async () => {
    const { code, output } = await runToExit('api', { ...stack.env(), ADMIN_API_KEYS: stack.tenants.a.key });
    expect(code).not.toBe(0);
    expect(output).toContain('ADMIN_API_KEYS');
    expect(output).not.toContain(stack.tenants.a.key);
  });
});
