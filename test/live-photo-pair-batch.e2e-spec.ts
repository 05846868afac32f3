import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '@vid2live/config';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { convertToLivePhoto } from '@vid2live/livephoto/convert';
import { readItemData } from '@vid2live/livephoto/heif/items';
import { parseHeif } from '@vid2live/livephoto/heif/parse';
import { readMotionPhoto } from '@vid2live/livephoto/motion-photo';
import { IPHONE_CONTENT_IDENTIFIER, IPHONE_HEIC, IPHONE_MOV, IPHONE_STILL_TIME } from '@vid2live/livephoto/testing/fixtures';
import { apiClient, type ApiClient } from './support/http';
import { startApi, stopAll } from './support/processes';
import { E2E_MEDIA, E2E_TMP, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { objectKeys, startWorker, type RunningWorker } from './worker-support';

/**
 * iPhone → Android in bulk: an S3 prefix holding Live Photo pairs (the genuine iPhone HEIC + MOV, a JPEG pair made by
 * the engine in a sub-folder), an `.AAE` edit sidecar, a lone still and a pair whose halves disagree, converted by
 * one `livePhotoPairs` prefix batch through the built api and a worker in this process that lists ONE key per page
 * (so every pair straddles two pages and is carried over). Each pair gives one Motion Photo; the others fail alone.
 */
let stack: Stack;
let worker: RunningWorker;
let a: ApiClient;
const tmp = path.join(E2E_TMP, `pair-batch-${process.pid}`);
let clipStill: string;
let apiUrl: string;

beforeAll(async () => {
  fs.mkdirSync(tmp, { recursive: true });
  stack = await startStack('pair-batch');
  const video = makeCachedVideo(E2E_MEDIA);
  const clip = await convertToLivePhoto({ source: video, outputDir: path.join(tmp, 'pair'), baseName: 'clip', options: { duration: 2 } });
  clipStill = clip.stillPath;
  const put = (key: string, file: string) => stack.storage.putObjectFromFile(stack.buckets.input, key, file);
  const aae = path.join(tmp, 'IMG_3853.AAE');
  fs.writeFileSync(aae, '<?xml version="1.0"?><plist version="1.0"><dict/></plist>\n');
  await put('iphone/2024/clip.JPG', clip.stillPath);
  await put('iphone/2024/clip.MOV', clip.moviePath);
  await put('iphone/IMG_3853.AAE', aae);
  await put('iphone/IMG_3853.HEIC', IPHONE_HEIC);
  await put('iphone/IMG_3853.MOV', IPHONE_MOV);
  await put('iphone/lonely.HEIC', IPHONE_HEIC);
  // the engine's JPEG with the iPhone's MOV: two identifiers, not one Live Photo
  await put('iphone/mixed.JPG', clip.stillPath);
  await put('iphone/mixed.MOV', IPHONE_MOV);
  const api = await startApi(stack);
  apiUrl = api.url;
  a = apiClient(api.url, stack.tenants.a);
  worker = await startWorker(loadConfig('worker', stack.env({ WORKER_CONCURRENCY: '1', LOG_LEVEL: 'warn' })), { pageSize: 1 });
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await stopAll();
  await stack?.stop();
  await closeExifTool();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function download(key: string): Promise<string> {
  const body = await stack.storage.getObjectStream(stack.buckets.output, key);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  const file = path.join(tmp, path.basename(key));
  fs.writeFileSync(file, Buffer.concat(chunks));
  return file;
}

it('refuses options on a pair batch: the pairs are re-packed as they are', async () => {
  const r = await a.post('/v1/batches', {
    source: { bucket: stack.buckets.input, prefix: 'iphone/', livePhotoPairs: true },
    output: { bucket: stack.buckets.output, prefix: 'android/' },
    options: { still: 'jpeg' },
  });
  expect(r.status).toBe(400);
  expect(JSON.stringify(r.body)).toMatch(/takes no options/);
});

it('one livePhotoPairs batch turns each pair into a Motion Photo, and reports the lone and mismatched keys', async () => {
  const created = await a.post<{ id: string }>('/v1/batches', {
    source: { bucket: stack.buckets.input, prefix: 'iphone/', livePhotoPairs: true },
    output: { bucket: stack.buckets.output, prefix: 'android/' },
  });
  expect(created.status).toBe(202);
  type Batch = { status: string; total: number; counts: Record<string, number>; failures?: Array<{ id: string; source: { key: string }; error: { code: string; message: string } }> };
  const done = await waitFor(
    'the pair batch to complete',
    async () => {
      const v = (await a.get<Batch>(`/v1/batches/${created.body.id}`)).body;
      return v.status === 'completed' ? v : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
  // 2024/clip, IMG_3853, lonely.HEIC, mixed: the .AAE is no item
  expect(done).toMatchObject({ total: 4, counts: { completed: 2, failed: 2, canceled: 0 } });
  const failures = Object.fromEntries(done.failures!.map((f) => [f.source.key, f.error]));
  expect(failures['iphone/lonely.HEIC']).toEqual({ code: 'PAIR_INCOMPLETE', message: expect.stringMatching(/lonely\.HEIC: no lonely\.MOV beside it/) });
  expect(failures['iphone/mixed.JPG']).toEqual({ code: 'PAIR_MISMATCH', message: expect.stringMatching(/^s3:\/\/[a-z0-9-]+\/iphone\/mixed\.JPG \+ s3:\/\/[a-z0-9-]+\/iphone\/mixed\.MOV: /) });
  expect(await objectKeys(stack.storage, stack.buckets.output, 'android/')).toEqual(['android/2024/clip.MP.jpg', 'android/IMG_3853.MP.HEIC']);

  // the pair item's GET: only the Motion Photo, with the pair's own identifier and still time
  const items = await stack.redis.keys(`${stack.prefix}:conversion:*`);
  const records = (await Promise.all(items.map((k) => stack.redis.get(k)))).map((raw) => JSON.parse(raw!));
  const iphone = records.find((r) => r.request.source.key === 'iphone/IMG_3853.HEIC');
  expect(iphone.request.livePhotoPair).toEqual({ movieKey: 'iphone/IMG_3853.MOV' });
  const view = (await a.get<{ result: Record<string, unknown> }>(`/v1/conversions/${iphone.id}`)).body;
  expect(view.result).toEqual({
    contentIdentifier: IPHONE_CONTENT_IDENTIFIER,
    stillTime: IPHONE_STILL_TIME,
    motionPhoto: { bucket: stack.buckets.output, key: 'android/IMG_3853.MP.HEIC', url: expect.any(String) },
    warnings: [],
  });

  // The HEIC Motion Photo: the iPhone's coded image items byte for byte, the MOV's video after them, read by ExifTool
  const heic = await download('android/IMG_3853.MP.HEIC');
  const coded = (f: ReturnType<typeof parseHeif>) =>
    new Map(f.meta.itemInfo!.entries.filter((e) => e.itemType === 'hvc1' || e.itemType === 'grid').map((e) => [e.itemId, readItemData(f, e.itemId).toString('base64')]));
  expect(coded(parseHeif(fs.readFileSync(heic)))).toEqual(coded(parseHeif(fs.readFileSync(IPHONE_HEIC))));
  const tags = await readAllTags(heic);
  expect(tags['XMP-GCamera:MotionPhoto']).toBe(1);
  expect(tags['QuickTime:MotionPhotoVideo']).toBeDefined();
  expect(tags['Apple:ContentIdentifier']).toBeUndefined();

  // The JPEG Motion Photo from the sub-folder: the still's image bytes unchanged before the embedded MP4
  const jpeg = await download('android/2024/clip.MP.jpg');
  const info = await readMotionPhoto(jpeg);
  expect([info.isMotionPhoto, info.problems]).toEqual([true, []]);
  const written = fs.readFileSync(jpeg);
  const sos = (b: Buffer) => b.subarray(b.indexOf(Buffer.from([0xff, 0xda])));
  expect(sos(written.subarray(0, info.videoOffset!)).equals(sos(fs.readFileSync(clipStill)))).toBe(true);
  expect((await readAllTags(jpeg))['XMP-GCamera:MotionPhoto']).toBe(1);
});

it('works with `vid2live submit --live-photo-pairs --wait` as a user runs it', async () => {
  const bin = path.join(__dirname, '..', 'bin', 'vid2live.js');
  const args = [bin, 'submit', '--api', apiUrl, '--bucket', stack.buckets.input, '--prefix', 'iphone/2024/', '--out-bucket', stack.buckets.output, '--out-prefix', 'cli-android/', '--live-photo-pairs', '--wait', '--json'];
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, VID2LIVE_API_KEY: stack.tenants.a.key }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (c) => resolve({ code: c, stdout: out }));
  });
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ status: 'completed', total: 1, counts: { completed: 1, failed: 0 } });
  expect(await objectKeys(stack.storage, stack.buckets.output, 'cli-android/')).toEqual(['cli-android/clip.MP.jpg']);
});
