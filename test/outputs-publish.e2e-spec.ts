import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '@vid2live/config';
import { redisKeys } from '@vid2live/jobs';
import { makeSource } from '@vid2live/media/test-media';
import { S3Storage, type ObjectStorage } from '@vid2live/storage';
import { batchItemOutputNames } from '@vid2live/storage/output-names';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import { STORAGE } from '../apps/worker/src/tokens';
import { Producer, objectKeys, startWorker, uniquePrefix, workerConfig, type RunningWorker } from './worker-support';

/**
 * Outputs are uploaded under temporary keys and published together: a cancel between the uploads, after them, or
 * one whose pub/sub message the worker missed leaves nothing behind; a normal run leaves exactly the pair.
 * The worker runs in this process so the test can act at the exact moment between two storage calls.
 */
describe('worker outputs: temporary keys, published together', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-publish-e2e-'));
  let s3: RunningS3rver;
  let storage: S3Storage;
  let config: AppConfig;
  let producer: Producer;
  let worker: RunningWorker;
  let workerStorage: ObjectStorage;
  /** called by the patched storage of the worker before each put / copy (the key says which) */
  let beforePut: ((key: string, n: number) => Promise<void>) | undefined;
  let beforeCopy: ((toKey: string, n: number) => Promise<void>) | undefined;
  const calls: string[] = [];
  let puts = 0;
  let copies = 0;

  beforeAll(async () => {
    s3 = await startS3rver(['in', 'out']);
    storage = new S3Storage(s3.config);
    config = workerConfig(uniquePrefix(), s3);
    producer = new Producer(config.QUEUE_PREFIX);
    const video = makeSource('no-audio', path.join(tmp, 'src'));
    for (const key of ['clips/a.mov', 'a/IMG_0001.mov', 'b/IMG_0001.mov']) await storage.putObjectFromFile('in', key, video);
    worker = await startWorker(config);
    workerStorage = worker.app.get<ObjectStorage>(STORAGE);
    const put = workerStorage.putObjectFromFile.bind(workerStorage);
    const copy = workerStorage.copyObject.bind(workerStorage);
    workerStorage.putObjectFromFile = async (bucket, key, file, opts) => {
      calls.push(`put ${key}`);
      await beforePut?.(key, puts++);
      return put(bucket, key, file, opts);
    };
    workerStorage.copyObject = async (bucket, from, to) => {
      calls.push(`copy ${from} → ${to}`);
      await beforeCopy?.(to, copies++);
      return copy(bucket, from, to);
    };
  });

  afterAll(async () => {
    await worker?.stop();
    await producer?.cleanup();
    await storage?.close();
    await s3?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(() => {
    beforePut = undefined;
    beforeCopy = undefined;
    calls.length = 0;
    puts = 0;
    copies = 0;
  });

  /** What the API's DELETE does for an active job: note it in the record, then (optionally) publish the id. */
  async function requestCancel(id: string, publish = true): Promise<void> {
    const rec = await producer.record(id);
    await producer.redis.set(redisKeys.conversion(config.QUEUE_PREFIX, id), JSON.stringify({ ...rec, cancelRequestedAt: new Date().toISOString() }));
    if (publish) await producer.redis.publish(redisKeys.cancelChannel(config.QUEUE_PREFIX), id);
  }

  it('a normal run: both files go up under .vid2live-tmp/, are copied to their keys, and the temporaries are gone', async () => {
    const id = await producer.submit({ source: { bucket: 'in', key: 'clips/a.mov' }, output: { bucket: 'out', prefix: 'n/' } });
    const done = await producer.waitForStatus(id, ['completed', 'failed', 'canceled'], 120_000);
    expect(done.status).toBe('completed');
    expect(calls.filter((c) => c.startsWith('put'))).toEqual([`put n/.vid2live-tmp/${id}.MOV`, `put n/.vid2live-tmp/${id}.JPG`]);
    expect(calls.filter((c) => c.startsWith('copy')).sort()).toEqual([
      `copy n/.vid2live-tmp/${id}.JPG → n/a.JPG`,
      `copy n/.vid2live-tmp/${id}.MOV → n/a.MOV`,
    ]);
    expect(await objectKeys(storage, 'out', 'n/')).toEqual(['n/a.JPG', 'n/a.MOV']);
    expect(done.result).toMatchObject({ still: { key: 'n/a.JPG' }, video: { key: 'n/a.MOV' } });
    // the published copy keeps its content type
    expect((await fetch(await storage.presignGet('out', 'n/a.MOV', 60))).headers.get('content-type')).toBe('video/quicktime');
  });

  it('a cancel between the two uploads: canceled, no MOV without its still, no temporaries', async () => {
    const id = await producer.submit({ source: { bucket: 'in', key: 'clips/a.mov' }, output: { bucket: 'out', prefix: 'c1/' } });
    beforePut = async (_key, n) => {
      if (n !== 1) return;
      await requestCancel(id); // the MOV is up; the still is next
      await new Promise((r) => setTimeout(r, 300)); // the cancel message reaches the worker and aborts the upload
    };
    const done = await producer.waitForStatus(id, ['completed', 'failed', 'canceled'], 120_000);
    expect(done.status).toBe('canceled');
    expect(done.result).toBeUndefined();
    expect(await objectKeys(storage, 'out', 'c1/')).toEqual([]);
    expect(calls.some((c) => c.startsWith('copy'))).toBe(false);
  });

  it('a cancel whose message the worker missed (record only) is seen right before publishing', async () => {
    const id = await producer.submit({ source: { bucket: 'in', key: 'clips/a.mov' }, output: { bucket: 'out', prefix: 'c2/' } });
    beforePut = async (_key, n) => {
      if (n === 1) await requestCancel(id, false);
    };
    const done = await producer.waitForStatus(id, ['completed', 'failed', 'canceled'], 120_000);
    expect(done.status).toBe('canceled');
    expect(await objectKeys(storage, 'out', 'c2/')).toEqual([]);
    expect(calls.some((c) => c.startsWith('copy'))).toBe(false);
  });

  it('a cancel accepted after the uploads (while publishing) is not ignored: canceled, the published pair removed', async () => {
    const id = await producer.submit({ source: { bucket: 'in', key: 'clips/a.mov' }, output: { bucket: 'out', prefix: 'c3/' } });
    beforeCopy = async (_to, n) => {
      if (n === 0) await requestCancel(id);
    };
    const done = await producer.waitForStatus(id, ['completed', 'failed', 'canceled'], 120_000);
    expect(done.status).toBe('canceled');
    expect(done.error?.code).toBe('CANCELED');
    expect(calls.filter((c) => c.startsWith('copy'))).toHaveLength(2);
    await producer.waitFor('the pair removed', async () => (await objectKeys(storage, 'out', 'c3/')).length === 0, 10_000);
  });

  it('two items named IMG_0001 in different folders get distinct keys (the names the api gives batch items)', async () => {
    const sources = [{ bucket: 'in', key: 'a/IMG_0001.mov' }, { bucket: 'in', key: 'b/IMG_0001.mov' }];
    const names = batchItemOutputNames(sources);
    expect(names).toEqual(['a/IMG_0001', 'b/IMG_0001']);
    const ids = await Promise.all(
      sources.map((source, i) => producer.submit({ source, output: { bucket: 'out', prefix: 'same/' } }, 'acme', names[i])),
    );
    const done = await Promise.all(ids.map((id) => producer.waitForStatus(id, ['completed', 'failed', 'canceled'], 120_000)));
    expect(done.map((d) => d.status)).toEqual(['completed', 'completed']);
    expect(await objectKeys(storage, 'out', 'same/')).toEqual(['same/a/IMG_0001.JPG', 'same/a/IMG_0001.MOV', 'same/b/IMG_0001.JPG', 'same/b/IMG_0001.MOV']);
    expect(done[0].result!.contentIdentifier).not.toBe(done[1].result!.contentIdentifier);
  });
});
