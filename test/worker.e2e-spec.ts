import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '@vid2live/config';
import { redisKeys, type WebhookDeliveryRecord } from '@vid2live/jobs';
import { batchKeys } from '@vid2live/jobs/records';
import { makeBadInput, makeSource } from '@vid2live/media/test-media';
import { S3Storage } from '@vid2live/storage';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import { verifyWebhook } from '@vid2live/webhooks';
import {
  Producer,
  WEBHOOK_SECRET,
  objectKeys,
  processesMentioning,
  startReceiver,
  startSlowFileServer,
  startWorker,
  uniquePrefix,
  workerConfig,
  type RunningWorker,
} from './worker-support';

/**
 * The worker against real Redis, real s3rver and real ffmpeg: one worker app in this process, a producer that
 * writes records and jobs the way the API does, and a webhook receiver on loopback.
 */
describe('worker (Redis + s3rver + ffmpeg)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-worker-e2e-'));
  let s3: RunningS3rver;
  let storage: S3Storage;
  let config: AppConfig;
  let producer: Producer;
  let worker: RunningWorker;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let video: string;
  let notVideo: string;

  beforeAll(async () => {
    s3 = await startS3rver(['in', 'out']);
    storage = new S3Storage(s3.config);
    const prefix = uniquePrefix();
    // Every source through a presigned URL here (range reads by ffmpeg); the pipeline e2e covers the one-GET
    // download that the default threshold picks for small sources.
    config = workerConfig(prefix, s3, { SOURCE_DOWNLOAD_MAX_BYTES: '0' });
    producer = new Producer(prefix);
    receiver = await startReceiver();
    video = makeSource('no-audio', path.join(tmp, 'src'));
    notVideo = makeBadInput('text', path.join(tmp, 'bad'));
    await storage.putObjectFromFile('in', 'clips/holiday.mov', video);
    await storage.putObjectFromFile('in', 'clips/notes.mp4', notVideo);
    worker = await startWorker(config);
  });

  afterAll(async () => {
    await worker?.stop();
    await producer?.cleanup();
    await receiver?.close();
    await storage?.close();
    await s3?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const eventsFor = (id: string) =>
    receiver.received.filter((r) => JSON.parse(r.body).data?.id === id && r.status === 200).map((r) => JSON.parse(r.body));

  it('fails a bad source with its code on the first attempt, and the next job converts', async () => {
    const webhook = { url: receiver.url };
    const bad = await producer.submit({ source: { bucket: 'in', key: 'clips/notes.mp4' }, output: { bucket: 'out', prefix: 'a/' }, webhook });
    const missing = await producer.submit({ source: { bucket: 'in', key: 'clips/nope.mp4' }, output: { bucket: 'out', prefix: 'a/' }, webhook });
    const good = await producer.submit({ source: { bucket: 'in', key: 'clips/holiday.mov' }, output: { bucket: 'out', prefix: 'a/' }, webhook });

    const badRec = await producer.waitForStatus(bad, ['failed', 'completed']);
    expect(badRec.status).toBe('failed');
    expect(badRec.error?.code).toBe('INPUT_NOT_MEDIA');
    expect(badRec.finishedAt).toBeTruthy();
    // The record is written before the processor throws, so BullMQ moves the job to failed a moment later.
    await producer.waitFor('bad job failed in BullMQ', async () => (await producer.conversions.getJob(bad))!.getState().then((st) => st === 'failed'), 10_000);
    const badJob = (await producer.conversions.getJob(bad))!;
    expect(badJob.attemptsMade).toBe(1); // UnrecoverableError: no retries despite attempts: 5
    expect(badJob.failedReason).toMatch(/^INPUT_NOT_MEDIA/);
    // The presigned source URL (a bearer credential) is not repeated in the stored error.
    expect(badRec.error?.message).toContain('s3://in/clips/notes.mp4');
    expect(badRec.error?.message).not.toMatch(/X-Amz-Signature/);

    const missingRec = await producer.waitForStatus(missing, ['failed', 'completed']);
    expect(missingRec.error?.code).toBe('SOURCE_NOT_FOUND');
    // the same order as above: the record first, BullMQ's failed state (and attemptsMade) a moment later
    await producer.waitFor('missing job failed in BullMQ', async () => (await producer.conversions.getJob(missing))!.getState().then((st) => st === 'failed'), 10_000);
    expect((await producer.conversions.getJob(missing))!.attemptsMade).toBe(1);

    const goodRec = await producer.waitForStatus(good, ['completed', 'failed']);
    expect(goodRec.error).toBeUndefined();
    expect(goodRec.status).toBe('completed');
    expect(goodRec.result).toMatchObject({
      still: { bucket: 'out', key: 'a/holiday.JPG' },
      video: { bucket: 'out', key: 'a/holiday.MOV' },
    });
    expect(goodRec.result!.contentIdentifier).toMatch(/^[0-9A-F-]{36}$/);
    expect(goodRec.result!.stillTime).toBeGreaterThan(0);
    expect(goodRec.progress).toEqual({ stage: 'done', percent: 100 });
    expect(await objectKeys(storage, 'out', 'a/')).toEqual(['a/holiday.JPG', 'a/holiday.MOV']);
    const movHead = await storage.getRange('out', 'a/holiday.MOV', 4, 7);
    expect(movHead.toString('latin1')).toBe('ftyp');

    // The events arrive signed, with the GET body as data (result URLs presigned at event time).
    await producer.waitFor('3 webhooks', async () => [bad, missing, good].every((id) => eventsFor(id).length === 1));
    const completed = eventsFor(good)[0];
    expect(completed.type).toBe('conversion.completed');
    expect(completed.data.result.still.key).toBe('a/holiday.JPG');
    const stillRes = await fetch(completed.data.result.still.url);
    expect(stillRes.status).toBe(200);
    expect((await stillRes.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const failed = eventsFor(bad)[0];
    expect(failed).toMatchObject({ type: 'conversion.failed', data: { id: bad, status: 'failed', error: { code: 'INPUT_NOT_MEDIA' } } });
  });

  it('retries a webhook the receiver answers with 500 twice: 3 deliveries, one webhook-id, valid signatures', async () => {
    receiver.script.push(500, 500);
    const before = receiver.received.length;
    const id = await producer.submit({
      source: { bucket: 'in', key: 'clips/nope-again.mp4' },
      output: { bucket: 'out', prefix: 'b/' },
      webhook: { url: receiver.url },
    });
    // Only this conversion's deliveries: a slow event of an earlier test must not count here.
    const mine = () => receiver.received.slice(before).filter((r) => JSON.parse(r.body).data?.id === id);
    await producer.waitFor('3 deliveries', async () => mine().length >= 3, 30_000);
    // Nothing more arrives once one succeeded.
    await new Promise((r) => setTimeout(r, 1500));
    const deliveries = mine();
    expect(deliveries.map((d) => d.status)).toEqual([500, 500, 200]);
    const ids = new Set(deliveries.map((d) => d.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const d of deliveries) {
      const body = verifyWebhook<{ type: string; data: { id: string } }>(WEBHOOK_SECRET, d.headers, d.body);
      expect(body).toMatchObject({ type: 'conversion.failed', data: { id } });
    }
    // Backoff happened between attempts (base 200 ms, doubling, ±10 %).
    expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(150);
    expect(deliveries[2].at - deliveries[1].at).toBeGreaterThanOrEqual(300);

    const eventId = String([...ids][0]);
    const rec = JSON.parse((await producer.redis.get(redisKeys.webhookDelivery(config.QUEUE_PREFIX, eventId)))!) as WebhookDeliveryRecord;
    expect(rec).toMatchObject({ eventId, attempts: 3, lastStatus: 200, state: 'delivered', type: 'conversion.failed', tenant: 'acme' });
    expect(rec.deliveredAt).toBeTruthy();
    expect(await producer.redis.zscore(redisKeys.webhookDeliveriesByTenant(config.QUEUE_PREFIX, 'acme'), eventId)).not.toBeNull();
  });

  it('cancels an active job: ffmpeg is killed, the record says canceled, the job completes without retry', async () => {
    const slow = await startSlowFileServer(video, 4 * 1024);
    const needle = new URL(slow.url).pathname;
    try {
      const id = await producer.submit({ source: { url: slow.url }, output: { bucket: 'out', prefix: 'c/' }, webhook: { url: receiver.url } });
      // Wait for an ffmpeg (not ffprobe) reading the slow source.
      const running = await producer.waitFor('ffmpeg on the slow source', async () => {
        const procs = processesMentioning(needle).filter((l) => /ffmpeg/.test(l.split(' ')[1] ?? ''));
        return procs.length ? procs : undefined;
      }, 60_000);
      expect((await producer.record(id)).status).toBe('active');
      const pid = Number(running[0].split(' ')[0]);

      // What the API's DELETE does for an active job.
      const rec = await producer.record(id);
      await producer.redis.set(redisKeys.conversion(config.QUEUE_PREFIX, id), JSON.stringify({ ...rec, cancelRequestedAt: new Date().toISOString() }));
      const t0 = Date.now();
      await producer.redis.publish(redisKeys.cancelChannel(config.QUEUE_PREFIX), id);

      const done = await producer.waitForStatus(id, ['canceled', 'failed', 'completed'], 20_000);
      expect(done.status).toBe('canceled');
      expect(done.error?.code).toBe('CANCELED');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(processesMentioning(needle)).toEqual([]);
      expect(() => process.kill(pid, 0)).toThrow(); // the ffmpeg pid is gone
      const job = (await producer.conversions.getJob(id))!;
      await producer.waitFor('job completed', async () => (await job.getState()) === 'completed', 10_000);
      expect((await producer.conversions.getJob(id))!.attemptsMade).toBe(1);
      expect(await objectKeys(storage, 'out', 'c/')).toEqual([]);
      await producer.waitFor('canceled webhook', async () => eventsFor(id).some((e) => e.type === 'conversion.canceled'), 10_000);
    } finally {
      await slow.close();
    }
  });

  it('never runs a job canceled while queued, and still sends conversion.canceled', async () => {
    await worker.stop();
    try {
      const id = await producer.submit({ source: { bucket: 'in', key: 'clips/holiday.mov' }, output: { bucket: 'out', prefix: 'd/' }, webhook: { url: receiver.url } });
      const rec = await producer.record(id);
      // What the API's DELETE does for a queued job.
      await producer.redis.set(
        redisKeys.conversion(config.QUEUE_PREFIX, id),
        JSON.stringify({ ...rec, status: 'canceled', error: { code: 'CANCELED', message: 'canceled' }, finishedAt: new Date().toISOString() }),
      );
      worker = await startWorker(config);
      await producer.waitFor('canceled webhook', async () => eventsFor(id).some((e) => e.type === 'conversion.canceled'), 20_000);
      expect((await producer.record(id)).startedAt).toBeUndefined();
      expect(await objectKeys(storage, 'out', 'd/')).toEqual([]);
    } finally {
      if (worker.host['shuttingDown']) worker = await startWorker(config);
    }
  });

  it('expands a prefix page by page into a flow and completes the batch with counts and one webhook', async () => {
    await worker.stop();
    worker = await startWorker(config, { pageSize: 2 });
    await storage.putObjectFromFile('in', 'batch1/one.mov', video);
    await storage.putObjectFromFile('in', 'batch1/two.mov', video);
    await storage.putObjectFromFile('in', 'batch1/sub/three.mov', video);
    await storage.putObjectFromFile('in', 'batch1/broken.mp4', notVideo);
    await storage.putObjectFromFile('in', 'batch1/sub/four.mov', video);
    const batchId = await producer.submitPrefixBatch({ bucket: 'in', prefix: 'batch1/' }, { bucket: 'out', prefix: 'batch1-out/' }, { url: receiver.url });

    const event = await producer.waitFor('batch.completed', async () =>
      receiver.received.map((r) => JSON.parse(r.body)).find((b) => b.type === 'batch.completed' && b.data.id === batchId),
    180_000);
    expect(event.data).toMatchObject({ id: batchId, status: 'completed', total: 5, counts: { queued: 0, active: 0, completed: 4, failed: 1, canceled: 0 } });
    expect(event.data.failures).toHaveLength(1);
    expect(event.data.failures[0]).toMatchObject({ source: { bucket: 'in', key: 'batch1/broken.mp4' }, error: { code: 'INPUT_NOT_MEDIA' } });
    const record = JSON.parse((await producer.redis.get(redisKeys.batch(config.QUEUE_PREFIX, batchId)))!);
    expect(record).toMatchObject({ status: 'completed', total: 5 });
    expect(record.finishedAt).toBeTruthy();
    const counts = await producer.redis.hgetall(batchKeys.counts(config.QUEUE_PREFIX, batchId));
    expect(counts).toMatchObject({ completed: '4', failed: '1', queued: '0', active: '0', listed: '5' });
    // Sub-folders are kept in the output keys; one pair per video.
    expect(await objectKeys(storage, 'out', 'batch1-out/')).toEqual([
      'batch1-out/one.JPG',
      'batch1-out/one.MOV',
      'batch1-out/sub/four.JPG',
      'batch1-out/sub/four.MOV',
      'batch1-out/sub/three.JPG',
      'batch1-out/sub/three.MOV',
      'batch1-out/two.JPG',
      'batch1-out/two.MOV',
    ]);
    // Three pages (2 + 2 + 1 keys) were listed as children of the batch parent.
    const pages = await Promise.all([0, 1, 2, 3].map((p) => producer.batches.getJob(`${batchId}.page.${p}`)));
    expect(pages.map((j) => Boolean(j))).toEqual([true, true, true, false]);
    const parent = (await producer.batches.getJob(batchId))!;
    expect(await parent.getState()).toBe('completed');
  });

  it('on shutdown past its deadline aborts the running conversion, uploads nothing, and another worker redoes it', async () => {
    const slow = await startSlowFileServer(video, 4 * 1024);
    const needle = new URL(slow.url).pathname;
    try {
      const id = await producer.submit({ source: { url: slow.url }, output: { bucket: 'out', prefix: 'e/' } });
      await producer.waitFor('ffmpeg on the slow source', async () =>
        processesMentioning(needle).some((l) => /ffmpeg/.test(l.split(' ')[1] ?? '')), 60_000);
      const t0 = Date.now();
      await worker.stop(500);
      expect(Date.now() - t0).toBeLessThan(8_000);
      expect(processesMentioning(needle)).toEqual([]);
      const job = (await producer.conversions.getJob(id))!;
      expect(await job.getState()).toBe('delayed');
      expect(job.attemptsMade).toBe(0); // put back, not counted as a failed attempt
      expect((await producer.record(id)).status).toBe('queued');
      expect(await objectKeys(storage, 'out', 'e/')).toEqual([]);

      await slow.close();
      // The same source at full speed: the second worker completes the job.
      const fast = await startSlowFileServer(video, 1024 * 1024);
      await job.updateData({ ...job.data, source: { url: fast.url } });
      worker = await startWorker(config);
      const done = await producer.waitForStatus(id, ['completed', 'failed'], 120_000);
      await fast.close();
      expect(done.status).toBe('completed');
      const name = path.posix.basename(new URL(fast.url).pathname, '.mp4');
      expect(await objectKeys(storage, 'out', 'e/')).toEqual([`e/${name}.JPG`, `e/${name}.MOV`]);
    } finally {
      await slow.close().catch(() => undefined);
    }
  });
});
