import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { redisKeys } from './index';
import { IllegalTransitionError, cancel, claim, complete, requestCancel } from './lifecycle';
import { batchKeys, type ConversionRecord } from './records';
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
  await redis.hincrby(batchKeys.counts(prefix, id), 'listed', 2);
  await store.recordBatchFailure(id, 'cnv_a');
  expect(await store.getBatchCounter(id, 'listed')).toBe(2);
  expect(await store.updateBatch(id, (r) => ({ ...r, status: 'active' }))).toMatchObject({ status: 'active' });
  expect(await store.getBatch(id)).toEqual({ record: { ...batch, status: 'active' }, counts: { listed: 2 }, failures: ['cnv_a'] });
  expect(await store.getConversions(['cnv_none'])).toEqual([undefined]);
});

describe('lifecycle moves against Redis', () => {
  const result: NonNullable<ConversionRecord['result']> = {
    contentIdentifier: 'ID',
    stillTime: 1,
    still: { bucket: 'out', key: 'p/a.JPG' },
    video: { bucket: 'out', key: 'p/a.MOV' },
    warnings: [],
  };

  /** An active batch child (so the counters show every move), and two more connections to race on it. */
  async function activeChild(): Promise<{ id: string; batchId: string }> {
    const batchId = newId('bat');
    const child = { ...newConversionRecord('acme', request, batchId), batchId };
    await store.createChildConversion(child);
    expect((await store.transition(child.id, (r) => claim(r)))?.changed).toBe(true);
    return { id: child.id, batchId };
  }

  it('refuses an illegal write through updateConversion and leaves record and counters as they were', async () => {
    const { id, batchId } = await activeChild();
    await store.transition(id, (r) => complete(r, result));
    const counts = await redis.hgetall(batchKeys.counts(prefix, batchId));
    for (const status of ['active', 'canceled', 'queued'] as const) {
      await expect(store.updateConversion(id, (r) => ({ ...r, status }))).rejects.toBeInstanceOf(IllegalTransitionError);
    }
    const refused = await store.transition(id, (r) => cancel(r));
    expect(refused).toMatchObject({ changed: false, refused: { event: 'cancel', from: 'completed', reason: 'not-allowed' } });
    expect((await store.getConversion(id))!.status).toBe('completed');
    expect(await redis.hgetall(batchKeys.counts(prefix, batchId))).toEqual(counts);
  });

  it('a concurrent cancel and complete end in exactly one terminal state, counted once', async () => {
    const seen = new Set<string>();
    const rivals = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
    const [a, b] = rivals.map((r) => new RecordStore(r, { QUEUE_PREFIX: prefix, RECORD_TTL_SECONDS: TTL }));
    try {
      for (let round = 0; round < 30; round++) {
        const { id, batchId } = await activeChild();
        const [done, canceled] = await Promise.all([a.transition(id, (r) => complete(r, result)), b.transition(id, (r) => cancel(r))]);
        const final = (await store.getConversion(id))!;
        seen.add(final.status);
        expect([done!.changed, canceled!.changed].filter(Boolean)).toHaveLength(1);
        const winner = done!.changed ? done! : canceled!;
        expect(final).toEqual(winner.record);
        expect((done!.changed ? canceled : done)!.refused).toMatchObject({ reason: 'not-allowed', from: final.status });
        const counts = await redis.hgetall(batchKeys.counts(prefix, batchId));
        expect({ active: counts.active, [final.status]: counts[final.status] }).toEqual({ active: '0', [final.status]: '1' });
        expect(Number(counts.completed ?? 0) + Number(counts.canceled ?? 0)).toBe(1);
      }
    } finally {
      await Promise.all(rivals.map((r) => r.quit()));
    }
    expect([...seen].every((s) => s === 'completed' || s === 'canceled')).toBe(true);
  });

  it('a cancel request racing the completion: either completed, or the completion is refused and the cancel settles it', async () => {
    const rivals = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
    const [a, b] = rivals.map((r) => new RecordStore(r, { QUEUE_PREFIX: prefix, RECORD_TTL_SECONDS: TTL }));
    try {
      for (let round = 0; round < 30; round++) {
        const { id } = await activeChild();
        const [done, asked] = await Promise.all([a.transition(id, (r) => complete(r, result)), b.transition(id, (r) => requestCancel(r))]);
        if (done!.changed) {
          expect(asked!.refused).toMatchObject({ reason: 'not-allowed', from: 'completed' });
        } else {
          expect(asked!.changed).toBe(true);
          expect(done!.refused).toMatchObject({ reason: 'cancel-pending', from: 'active' });
          // what the worker then does: settle the cancel (and remove the pair it published)
          expect((await a.transition(id, (r) => cancel(r)))?.record.status).toBe('canceled');
        }
        expect(['completed', 'canceled']).toContain((await store.getConversion(id))!.status);
      }
    } finally {
      await Promise.all(rivals.map((r) => r.quit()));
    }
  });
});
