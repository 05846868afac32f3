import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertToLivePhoto } from '@vid2live/livephoto/convert';
import { readItemData } from '@vid2live/livephoto/heif/items';
import { parseHeif } from '@vid2live/livephoto/heif/parse';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { convertLivePhotoPair } from '@vid2live/livephoto/sources/live-photo-pair';
import { IPHONE_HEIC, IPHONE_MOV } from '@vid2live/livephoto/testing/fixtures';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { startApi, startWorker, stopAll } from './support/processes';
import { E2E_MEDIA, E2E_TMP, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { objectKeys } from './worker-support';

/**
 * Android → iPhone in bulk: an S3 prefix holding a Google Motion Photo JPEG, a HEIC Motion Photo (the genuine iPhone
 * pair taken to Android and back) and a plain video, converted by one prefix batch through the built api and
 * worker: each Motion Photo gives NAME.JPG|HEIC + NAME.MOV (the `.MP` of its name dropped), every pair valid.
 */
let stack: Stack;
let a: ApiClient;
const tmp = path.join(E2E_TMP, `motion-photo-batch-${process.pid}`);

beforeAll(async () => {
  fs.mkdirSync(tmp, { recursive: true });
  stack = await startStack('motion-photo-batch');
  const video = makeCachedVideo(E2E_MEDIA);
  // a Google Motion Photo JPEG as Pixel phones name them, made by the project's own writer
  const jpeg = await convertToLivePhoto({ source: video, outputDir: path.join(tmp, 'mp'), baseName: 'PXL_20250601_102030', options: { motionPhoto: true, duration: 2 } });
  const heic = await convertLivePhotoPair({ still: IPHONE_HEIC, movie: IPHONE_MOV, outputDir: path.join(tmp, 'mp'), baseName: 'IMG_3853', workDir: path.join(tmp, 'work') });
  await stack.storage.putObjectFromFile(stack.buckets.input, 'android/PXL_20250601_102030.MP.jpg', jpeg.motionPhotoPath!);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'android/IMG_3853.MP.HEIC', heic.motionPhotoPath);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'android/clip.mp4', video);
  const [api] = await Promise.all([startApi(stack), startWorker(stack, { WORKER_CONCURRENCY: '1' })]);
  a = apiClient(api.url, stack.tenants.a);
}, 180_000);

afterAll(async () => {
  await stopAll();
  await stack?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

it('one prefix batch turns Motion Photos (JPEG and HEIC) and a video into valid Live Photo pairs', async () => {
  const created = await a.post<{ id: string }>('/v1/batches', {
    source: { bucket: stack.buckets.input, prefix: 'android/' },
    output: { bucket: stack.buckets.output, prefix: 'live/' },
  });
  expect(created.status).toBe(202);
  const done = await waitFor(
    'the batch to complete',
    async () => {
      const v = (await a.get(`/v1/batches/${created.body.id}`)).body;
      return v.status === 'completed' ? v : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
  expect(done).toMatchObject({ total: 3, counts: { completed: 3, failed: 0 } });
  expect(await objectKeys(stack.storage, stack.buckets.output, 'live/')).toEqual(
    ['live/IMG_3853.HEIC', 'live/IMG_3853.MOV', 'live/PXL_20250601_102030.JPG', 'live/PXL_20250601_102030.MOV', 'live/clip.JPG', 'live/clip.MOV'],
  );
  for (const [still, movie] of [['IMG_3853.HEIC', 'IMG_3853.MOV'], ['PXL_20250601_102030.JPG', 'PXL_20250601_102030.MOV'], ['clip.JPG', 'clip.MOV']]) {
    for (const f of [still, movie]) {
      const body = await stack.storage.getObjectStream(stack.buckets.output, `live/${f}`);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      fs.writeFileSync(path.join(tmp, f), Buffer.concat(chunks));
    }
    const report = await inspectLivePhoto(path.join(tmp, still), path.join(tmp, movie));
    expect([still, report.errors]).toEqual([still, []]);
    expect(report.valid).toBe(true);
  }
  // the HEIC still carries the iPhone's own coded image (no re-encode on the way to Android and back)
  const coded = (f: ReturnType<typeof parseHeif>) =>
    new Map(f.meta.itemInfo!.entries.filter((e) => e.itemType === 'hvc1' || e.itemType === 'grid').map((e) => [e.itemId, readItemData(f, e.itemId).toString('base64')]));
  expect(coded(parseHeif(fs.readFileSync(path.join(tmp, 'IMG_3853.HEIC'))))).toEqual(coded(parseHeif(fs.readFileSync(IPHONE_HEIC))));
  // and the MOV is the Motion Photo's video around its still time
  const duration = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(tmp, 'IMG_3853.MOV')], { encoding: 'utf8' }));
  expect(duration).toBeGreaterThan(1);
});
