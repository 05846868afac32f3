import { randomBytes } from 'node:crypto';
import { FlowProducer, Queue } from 'bullmq';
import Redis from 'ioredis';
import { QUEUES, batchExpandJobOptions, conversionJobOptions, redisKeys } from './index';
import { JOB_NAMES, batchKeys, type ConversionRecord } from './records';
import {
  batchParentJobOptions,
  conversionJobData,
  enqueueConversion,
  enqueueItemsBatch,
  enqueuePrefixBatch,
  newConversionRecord,
  newId,
  type SubmitTarget,
} from './submit';

/** The shared submit path against the real Redis (REDIS_URL, default 127.0.0.1:6379), under a throwaway prefix. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TTL = 3_600;
const prefix = `t_submit_${randomBytes(5).toString('hex')}`;

/** what ioredis answers a command on a connection that was quit (without an offline queue) */
const CLOSED = /closed|isn't writeable/i;

let redis: Redis;
let target: SubmitTarget;
const opened: Array<{ close(): Promise<void> }> = [];

/** A target whose queues use a connection of their own, already closed: every add fails for real. */
async function closedQueueTarget(): Promise<SubmitTarget> {
  const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null, enableOfflineQueue: false });
  await new Promise<void>((resolve) => (conn.status === 'ready' ? resolve() : conn.once('ready', () => resolve())));
  const opts = { connection: conn, prefix };
  const conversions = new Queue(QUEUES.conversions, opts);
  const batches = new Queue(QUEUES.batches, opts);
  const flows = new FlowProducer(opts);
  conversions.on('error', () => undefined);
  batches.on('error', () => undefined);
  flows.on('error', () => undefined);
  await Promise.all([conversions.waitUntilReady(), batches.waitUntilReady(), flows.waitUntilReady()]);
  await conn.quit();
  opened.push(conversions, batches, flows);
  return { redis, prefix, ttlSeconds: TTL, conversions, batches, flows };
}

async function prefixKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys.sort();
}

/** The options a job was added with, as BullMQ stored them (the fields our shared options set). */
function storedOptions(opts: Record<string, unknown>) {
  const { attempts, backoff, removeOnComplete, removeOnFail } = opts;
  return { attempts, backoff, removeOnComplete, removeOnFail };
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const opts = { connection: redis, prefix };
  const conversions = new Queue(QUEUES.conversions, opts);
  const batches = new Queue(QUEUES.batches, opts);
  const flows = new FlowProducer(opts);
  opened.push(conversions, batches, flows);
  target = { redis, prefix, ttlSeconds: TTL, conversions, batches, flows };
});

afterAll(async () => {
  await Promise.allSettled(opened.map((o) => o.close()));
  const keys = await prefixKeys();
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('ids and records', () => {
  it('makes distinct cnv_/bat_ ids of 26 base32 characters (never an integer, never a colon)', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newId('cnv')));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^cnv_[a-z2-7]{26}$/);
    expect(newId('bat')).toMatch(/^bat_[a-z2-7]{26}$/);
  });

  it('derives the job payload from the record', () => {
    const request = { source: { bucket: 'in', key: 'a/x.mov' }, output: { bucket: 'out', prefix: 'p/' } };
    const plain = newConversionRecord('acme', request);
    expect(plain).toEqual({
      id: expect.stringMatching(/^cnv_/),
      tenant: 'acme',
      status: 'queued',
      progress: { stage: 'queued', percent: 0 },
      request,
      createdAt: expect.any(String),
    });
    expect(conversionJobData(plain)).toEqual({ conversionId: plain.id, tenant: 'acme', ...request, options: {} });

    const child = newConversionRecord('acme', { ...request, webhook: { url: 'https://h.example/x' } }, 'bat_b', 'a/x');
    expect(conversionJobData(child)).toEqual({
      conversionId: child.id,
      tenant: 'acme',
      ...request,
      options: {},
      webhook: { url: 'https://h.example/x' },
      batchId: 'bat_b',
      outputBaseName: 'a/x',
    });
  });
});

describe('enqueueConversion', () => {
  it('writes the record with its TTL, then the job with the shared options', async () => {
    const record = newConversionRecord('acme', {
      source: { bucket: 'in', key: 'clips/a.mov' },
      output: { bucket: 'out', prefix: 'x/' },
      options: { duration: 2 },
    });
    await enqueueConversion(target, record);

    const key = redisKeys.conversion(prefix, record.id);
    expect(JSON.parse((await redis.get(key))!)).toEqual(record);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(TTL - 10);
    expect(ttl).toBeLessThanOrEqual(TTL);

    const job = await target.conversions.getJob(record.id);
    expect(job).toBeDefined();
    expect(job!.name).toBe(JOB_NAMES.convert);
    expect(job!.data).toEqual(conversionJobData(record));
    expect(storedOptions(job!.opts as Record<string, unknown>)).toEqual(storedOptions(conversionJobOptions as Record<string, unknown>));
    expect(await job!.getState()).toBe('waiting');
  });

  it('removes the record again when the job cannot be added (closed queue connection), and rethrows', async () => {
    const broken = await closedQueueTarget();
    const record = newConversionRecord('acme', { source: { bucket: 'in', key: 'clips/b.mov' }, output: { bucket: 'out', prefix: 'y/' } });
    await expect(enqueueConversion(broken, record)).rejects.toThrow(CLOSED);
    expect(await redis.exists(redisKeys.conversion(prefix, record.id))).toBe(0);
    expect(await target.conversions.getJob(record.id)).toBeUndefined();
  });
});

describe('enqueuePrefixBatch', () => {
  const request = {
    source: { bucket: 'in', prefix: 'shoot/' },
    output: { bucket: 'out', prefix: 'live/' },
    options: { duration: 3 },
    webhook: { url: 'https://h.example/hook' },
  };

  it('writes the record and zeroed counters with the TTL, then the root expand job', async () => {
    const id = newId('bat');
    await enqueuePrefixBatch(target, id, 'acme', request);

    const record = JSON.parse((await redis.get(redisKeys.batch(prefix, id)))!);
    expect(record).toEqual({
      id,
      tenant: 'acme',
      status: 'queued',
      output: request.output,
      options: request.options,
      webhook: request.webhook,
      createdAt: expect.any(String),
      finishedAt: null,
      kind: 'prefix',
      total: null,
      source: request.source,
    });
    expect(await redis.hgetall(batchKeys.counts(prefix, id))).toEqual({ queued: '0', active: '0', completed: '0', failed: '0', canceled: '0' });
    for (const key of [redisKeys.batch(prefix, id), batchKeys.counts(prefix, id)]) {
      expect(await redis.ttl(key)).toBeGreaterThan(TTL - 10);
    }

    const job = await target.batches.getJob(`${id}.expand.0`);
    expect(job!.name).toBe(JOB_NAMES.expand);
    expect(job!.data).toEqual({ batchId: id, tenant: 'acme', source: request.source, output: request.output, options: request.options, webhook: request.webhook });
    expect(storedOptions(job!.opts as Record<string, unknown>)).toEqual(storedOptions(batchExpandJobOptions as Record<string, unknown>));
  });

  it('removes the record and the counters when the expand job cannot be added', async () => {
    const broken = await closedQueueTarget();
    const id = newId('bat');
    await expect(enqueuePrefixBatch(broken, id, 'acme', request)).rejects.toThrow(CLOSED);
    expect(await redis.exists(redisKeys.batch(prefix, id), batchKeys.counts(prefix, id))).toBe(0);
  });
});

describe('enqueueItemsBatch', () => {
  const output = { bucket: 'out', prefix: 'live/' };
  const items = [{ bucket: 'in', key: 'a/IMG_1.mov' }, { bucket: 'in', key: 'b/IMG_1.mov' }, { url: 'https://h.example/v.mp4' }];
  const names = ['a/IMG_1', 'b/IMG_1', 'v'];

  it('writes the batch, its counters and every child record, then one flow', async () => {
    const id = newId('bat');
    const children = await enqueueItemsBatch(target, id, 'acme', { source: { items }, output }, names);

    expect(children).toHaveLength(3);
    expect(JSON.parse((await redis.get(redisKeys.batch(prefix, id)))!)).toMatchObject({ id, kind: 'items', total: 3, source: { items: 3 } });
    expect(await redis.hget(batchKeys.counts(prefix, id), 'queued')).toBe('3');
    for (const [i, c] of children.entries()) {
      const key = redisKeys.conversion(prefix, c.id);
      const stored = JSON.parse((await redis.get(key))!) as ConversionRecord;
      expect(stored).toEqual(c);
      expect(stored).toMatchObject({ batchId: id, outputBaseName: names[i], request: { source: items[i], output } });
      expect(await redis.ttl(key)).toBeGreaterThan(TTL - 10);

      const job = await target.conversions.getJob(c.id);
      expect(job!.data).toEqual(conversionJobData(c));
      expect(storedOptions(job!.opts as Record<string, unknown>)).toEqual(storedOptions(conversionJobOptions as Record<string, unknown>));
      expect(job!.parentKey).toBe(`${prefix}:${QUEUES.batches}:${id}`);
    }
    const parent = await target.batches.getJob(id);
    expect(parent!.name).toBe(JOB_NAMES.batch);
    expect(parent!.data).toEqual({ batchId: id, tenant: 'acme' });
    expect(storedOptions(parent!.opts as Record<string, unknown>)).toMatchObject(batchParentJobOptions);
    expect(await parent!.getState()).toBe('waiting-children');
  });

  it('refuses a names list that does not match the items (nothing written)', async () => {
    const id = newId('bat');
    await expect(enqueueItemsBatch(target, id, 'acme', { source: { items }, output }, names.slice(1))).rejects.toThrow(/2 output names for 3 items/);
    expect(await redis.exists(redisKeys.batch(prefix, id))).toBe(0);
  });

  it('removes the batch, its counters and every child record when the flow cannot be added', async () => {
    const broken = await closedQueueTarget();
    const id = newId('bat');
    const before = await prefixKeys();
    await expect(enqueueItemsBatch(broken, id, 'acme', { source: { items }, output }, names)).rejects.toThrow(CLOSED);
    expect(await prefixKeys()).toEqual(before);
  });
});
