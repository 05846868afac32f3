import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { QUEUES, redisKeys, webhookEventId, webhookJobOptions, type WebhookDeliveryJobData } from '@vid2live/jobs';
import type { ConversionRecord } from '@vid2live/jobs/records';
import { WebhookDeliveries, ensureTerminalConversionEvent, type StoredDelivery } from '@vid2live/jobs/webhook-deliveries';
import { REDIS_URL, uniquePrefix } from './worker-support';

/**
 * WebhookDeliveries against a real Redis: every key it writes has a TTL, emitting is idempotent under concurrent
 * emitters, and a replay and a retry of one event never overwrite each other's attempts.
 */
describe('webhook delivery records', () => {
  const TTL = 3600;
  const jobOptions = webhookJobOptions({ WEBHOOK_MAX_ATTEMPTS: 3, WEBHOOK_BACKOFF_MS: 1000 });
  let redis: Redis;
  let prefix: string;
  let queue: Queue;
  let deliveries: WebhookDeliveries;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    prefix = uniquePrefix();
    queue = new Queue(QUEUES.webhooks, { connection: redis, prefix });
    deliveries = new WebhookDeliveries(redis, prefix, TTL);
  });

  afterAll(async () => {
    await queue.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  });

  const conversion = (id: string, status: ConversionRecord['status']): ConversionRecord => ({
    id,
    tenant: 'acme',
    status,
    progress: { stage: 'done', percent: 100 },
    request: { source: { bucket: 'in', key: 'a.mp4' }, output: { bucket: 'out', prefix: 'x/' }, webhook: { url: 'https://example.com/h' } },
    ...(status === 'completed'
      ? {
          result: {
            contentIdentifier: 'ABC',
            stillTime: 1.5,
            still: { bucket: 'out', key: 'x/a.JPG' },
            video: { bucket: 'out', key: 'x/a.MOV' },
            warnings: [],
          },
        }
      : {}),
    createdAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
  });

  it('emits a terminal event once under 20 concurrent emitters, and every key it wrote has a TTL', async () => {
    const record = conversion('cnv_ttl1', 'completed');
    const results = await Promise.all(
      Array.from({ length: 20 }, () => ensureTerminalConversionEvent(deliveries, queue, jobOptions, record)),
    );
    const eventId = webhookEventId(record.id, 'conversion.completed');
    expect(results.filter(Boolean).every((id) => id === eventId)).toBe(true);
    expect((await queue.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => j.id)).toEqual([eventId]);
    const job = (await queue.getJob(eventId))!;
    // The stored data holds object references only (URLs are presigned when each attempt is sent).
    expect((job.data as WebhookDeliveryJobData).data).toMatchObject({ result: { still: { bucket: 'out', key: 'x/a.JPG' } } });
    expect(JSON.stringify((job.data as WebhookDeliveryJobData).data)).not.toContain('"url"');

    const key = redisKeys.webhookDelivery(prefix, eventId);
    const index = redisKeys.webhookDeliveriesByTenant(prefix, 'acme');
    for (const k of [key, index]) {
      const ttl = await redis.ttl(k);
      expect(ttl).toBeGreaterThan(TTL - 60);
      expect(ttl).toBeLessThanOrEqual(TTL);
    }
    // Updates keep the TTL (KEEPTTL in the compare-and-set).
    await deliveries.recordAttempt(job.data as WebhookDeliveryJobData, { jobId: eventId, result: 'retry', lastStatus: 500 });
    expect(await redis.ttl(key)).toBeGreaterThan(TTL - 60);
    // A second emit after an attempt enqueues nothing, even with the job gone from the queue.
    await job.remove();
    expect(await ensureTerminalConversionEvent(deliveries, queue, jobOptions, record)).toBeUndefined();
    expect(await queue.getJob(eventId)).toBeUndefined();
  });

  it('re-enqueues an event whose record was written but whose job never was (the emitter died in between)', async () => {
    const record = conversion('cnv_half', 'failed');
    const eventId = webhookEventId(record.id, 'conversion.failed');
    // What a crashed emitter leaves: the record, no job.
    await deliveries.create({
      eventId,
      tenant: 'acme',
      url: 'https://example.com/h',
      type: 'conversion.failed',
      timestamp: '1700000000',
      data: { id: record.id },
      attempts: 0,
      lastStatus: null,
      deliveredAt: null,
      state: 'pending',
      createdAt: new Date().toISOString(),
      jobs: { [eventId]: 'pending' },
    });
    expect(await ensureTerminalConversionEvent(deliveries, queue, jobOptions, record)).toBe(eventId);
    const job = (await queue.getJob(eventId))!;
    // The stored event goes out as first written (its timestamp), not a second version of it.
    expect(job.data).toMatchObject({ eventId, timestamp: '1700000000', data: { id: record.id } });
  });

  it('does not emit for a record that has not ended or asked for no webhook', async () => {
    expect(await ensureTerminalConversionEvent(deliveries, queue, jobOptions, conversion('cnv_q', 'active'))).toBeUndefined();
    const noHook = conversion('cnv_nohook', 'completed');
    delete noHook.request.webhook;
    expect(await ensureTerminalConversionEvent(deliveries, queue, jobOptions, noHook)).toBeUndefined();
    expect(await redis.exists(redisKeys.webhookDelivery(prefix, webhookEventId('cnv_q', 'conversion.completed')))).toBe(0);
  });

  it('a replay and an in-flight retry of one event update the record without losing an attempt', async () => {
    const record = conversion('cnv_race', 'completed');
    const eventId = (await ensureTerminalConversionEvent(deliveries, queue, jobOptions, record))!;
    const stored = (await deliveries.get(eventId))!;
    const data: WebhookDeliveryJobData = { eventId, tenant: 'acme', url: stored.url, type: stored.type, timestamp: stored.timestamp, data: stored.data };

    // The original job keeps failing (retries) while a replay is registered and its own attempts run, all at once.
    const replayId = await deliveries.replay(queue, jobOptions, stored);
    expect(replayId).toMatch(new RegExp(`^${eventId.replace(/\./g, '\\.')}\\.replay\\.`));
    const N = 25;
    await Promise.all([
      ...Array.from({ length: N }, () => deliveries.recordAttempt(data, { jobId: eventId, result: 'retry', lastStatus: 500, lastError: 'HTTP 500' })),
      ...Array.from({ length: N }, () => deliveries.recordAttempt(data, { jobId: replayId, result: 'retry', lastStatus: 503, lastError: 'HTTP 503' })),
      deliveries.replay(queue, jobOptions, stored),
    ]);
    let r = (await deliveries.get(eventId))!;
    expect(r.attempts).toBe(2 * N); // read-modify-write without CAS loses some of these
    expect(r.state).toBe('pending');
    expect(Object.keys(r.jobs!).length).toBe(3); // the original and two replays
    expect(await queue.getJob(replayId)).toBeDefined();

    // The replay delivers while the original's last attempt fails: delivered stays (it is sticky), the original
    // is recorded as failed, nothing overwrites the other.
    await Promise.all([
      deliveries.recordAttempt(data, { jobId: replayId, result: 'delivered', lastStatus: 200 }),
      deliveries.recordAttempt(data, { jobId: eventId, result: 'failed', lastStatus: 500, lastError: 'HTTP 500' }),
    ]);
    r = (await deliveries.get(eventId))!;
    expect(r.attempts).toBe(2 * N + 2);
    expect(r.state).toBe('delivered');
    expect(r.deliveredAt).toBeTruthy();
    expect(r.jobs).toMatchObject({ [eventId]: 'failed', [replayId]: 'delivered' });
  });

  it('a failed original with a replay still pending reads pending, then failed when the replay gives up too', async () => {
    const record = conversion('cnv_pend', 'failed');
    const eventId = (await ensureTerminalConversionEvent(deliveries, queue, jobOptions, record))!;
    const stored = (await deliveries.get(eventId))!;
    const data: WebhookDeliveryJobData = { eventId, tenant: 'acme', url: stored.url, type: stored.type, timestamp: stored.timestamp, data: stored.data };
    const replayId = await deliveries.replay(queue, jobOptions, stored);
    await deliveries.recordAttempt(data, { jobId: eventId, result: 'failed', lastStatus: 500 });
    expect((await deliveries.get(eventId))!.state).toBe('pending');
    await deliveries.recordAttempt(data, { jobId: replayId, result: 'failed', lastStatus: 500 });
    const r: StoredDelivery = (await deliveries.get(eventId))!;
    expect(r.state).toBe('failed');
    expect(r.attempts).toBe(2);
  });

  it('an attempt on an expired record writes a new one, with a TTL', async () => {
    const eventId = 'msg_cnv_gone.completed';
    const data: WebhookDeliveryJobData = { eventId, tenant: 'acme', url: 'https://example.com/h', type: 'conversion.completed', timestamp: '1', data: {} };
    const r = await deliveries.recordAttempt(data, { jobId: eventId, result: 'delivered', lastStatus: 204 });
    expect(r).toMatchObject({ attempts: 1, state: 'delivered', lastStatus: 204 });
    expect(await redis.ttl(redisKeys.webhookDelivery(prefix, eventId))).toBeGreaterThan(TTL - 60);
  });
});
