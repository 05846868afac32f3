import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { redisKeys } from './index';
import { batchKeys } from './records';
import { RecordConflictError, RecordStore } from './record-store';
import { newConversionRecord, newId } from './submit';

/** The shared record store against the real Redis (REDIS_URL, default 127.0.0.1:6379), under a throwaway prefix. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TTL = 3_600;
const prefix = `t_store_${randomBytes(5).toString('hex')}`;
const request = { source: { bucket: 'in', key: 'a.mov' }, output: { bucket: 'out', prefix: 'p/' } };

let redis: Redis;
let store: RecordStore;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  store = new RecordStore(redis, { QUEUE_PREFIX: prefix, RECORD_TTL_SECONDS: TTL });
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
});

it('creates a batch child once (record + queued/listed counters) and moves the counters with each update', async () => {
  const batchId = newId('bat');
  const child = { ...newConversionRecord('acme', request, batchId), batchId };
  expect(await store.createChildConversion(child)).toBe(true);
  expect(await store.createChildConversion(child)).toBe(false); // a retried listing page counts nothing twice
  expect(await redis.hgetall(batchKeys.counts(prefix, batchId))).toEqual({ queued: '1', listed: '1' });

  const updated = await store.updateConversion(child.id, async (r) => ({ ...r, status: 'active' }));
  expect(updated).toEqual({ record: { ...child, status: 'active' }, changed: true });
  expect(await redis.hgetall(batchKeys.counts(prefix, batchId))).toEqual({ queued: '0', active: '1', listed: '1' });
  expect(await redis.ttl(redisKeys.conversion(prefix, child.id))).toBeGreaterThan(TTL - 10); // KEEPTTL

  expect(await store.updateConversion(child.id, () => undefined)).toEqual({ record: { ...child, status: 'active' }, changed: false });
  expect(await store.updateConversion('cnv_missing', () => ({ ...child }))).toBeUndefined();
});

it('loses no update among concurrent writers (compare-and-set)', async () => {
  const record = newConversionRecord('acme', request);
  await redis.set(redisKeys.conversion(prefix, record.id), JSON.stringify({ ...record, progress: { stage: 'x', percent: 0 } }));
  await Promise.all(
    Array.from({ length: 20 }, () =>
      store.updateConversion(record.id, (r) => ({ ...r, progress: { stage: 'x', percent: r.progress.percent + 1 } })),
    ),
  );
  expect((await store.getConversion(record.id))!.progress.percent).toBe(20);
});

it('gives up with RecordConflictError when the record changes under every attempt', async () => {
  const tight = new RecordStore(redis, { QUEUE_PREFIX: prefix, RECORD_TTL_SECONDS: TTL }, 3);
  const record = newConversionRecord('acme', request);
  const key = redisKeys.conversion(prefix, record.id);
  await redis.set(key, JSON.stringify(record));
  let n = 0;
  const rival = new Redis(REDIS_URL);
  try {
    const update = tight.updateConversion(record.id, async (r) => {
      // Another writer gets in between this read and the compare-and-set, every time.
      await rival.set(key, JSON.stringify({ ...r, progress: { stage: 'rival', percent: ++n } }));
      return { ...r, status: 'active' };
    });
    await expect(update).rejects.toBeInstanceOf(RecordConflictError);
    expect(n).toBe(3);
    expect((await store.getConversion(record.id))!.status).toBe('queued');
  } finally {
    await rival.quit();
  }
});

it('reads batches with their raw counters and failures, and updates them by compare-and-set', async () => {
  const id = newId('bat');
  const batch = { id, tenant: 'acme', kind: 'prefix' as const, status: 'queued' as const, total: null, output: request.output, source: { bucket: 'in', prefix: '' }, createdAt: 'now' };
  await redis.set(redisKeys.batch(prefix, id), JSON.stringify(batch));
  await store.incrementBatchCounter(id, 'listed', 2);
  await store.recordBatchFailure(id, 'cnv_a');
  expect(await store.getBatchCounter(id, 'listed')).toBe(2);
  expect(await store.updateBatch(id, (r) => ({ ...r, status: 'active' }))).toMatchObject({ status: 'active' });
  expect(await store.getBatch(id)).toEqual({ record: { ...batch, status: 'active' }, counts: { listed: 2 }, failures: ['cnv_a'] });
  expect(await store.getConversions(['cnv_none'])).toEqual([undefined]);
});
