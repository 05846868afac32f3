import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { inspectPvtPackage } from '@vid2live/livephoto/pvt';
import { apiClient, type ApiClient } from './support/http';
import { startApi, startWorker, stopAll } from './support/processes';
import { E2E_MEDIA, E2E_TMP, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { objectKeys } from './worker-support';

/**
 * `options.profile: "wallpaper"` through the built api and a built worker (child processes), Redis and an S3
 * server: the outputs are downloaded through their presigned URLs and checked like a client would.
 */
let stack: Stack;
let a: ApiClient;
const tmp = path.join(E2E_TMP, `wallpaper-pipeline-${process.pid}`);

beforeAll(async () => {
  fs.mkdirSync(tmp, { recursive: true });
  stack = await startStack('wallpaper');
  await stack.storage.putObjectFromFile(stack.buckets.input, 'videos/sunset.mp4', makeCachedVideo(E2E_MEDIA));
  const [api] = await Promise.all([startApi(stack), startWorker(stack, { WORKER_CONCURRENCY: '1' })]);
  a = apiClient(api.url, stack.tenants.a);
});

afterAll(async () => {
  await stopAll();
  await stack?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function probeVideo(file: string): { width: number; height: number; r_frame_rate: string; avg_frame_rate: string; codec_name: string } {
  const out = execFileSync(
    process.env.FFPROBE_PATH ?? 'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate,avg_frame_rate,codec_name', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  return JSON.parse(out).streams[0];
}

it('converts with profile "wallpaper": a .HEIC still (image/heic) + a 1080×1920 60 fps MOV that inspect --wallpaper calls ready', async () => {
  const output = { bucket: stack.buckets.output, prefix: 'wall/' };
  const created = await a.post('/v1/conversions', {
    source: { bucket: stack.buckets.input, key: 'videos/sunset.mp4' },
    output,
    options: { profile: 'wallpaper' },
  });
  expect(created.status).toBe(202);
  const id: string = created.body.id;
  const done = await waitFor(
    `${id} to end`,
    async () => {
      const v = (await a.get(`/v1/conversions/${id}`)).body;
      return ['completed', 'failed', 'canceled'].includes(v.status) ? v : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
  expect(done.error).toBeUndefined();
  expect(done.status).toBe('completed');
  expect(done.result.still).toMatchObject({ bucket: output.bucket, key: 'wall/sunset.HEIC' });
  expect(done.result.video).toMatchObject({ bucket: output.bucket, key: 'wall/sunset.MOV' });
  expect(done.result.motionPhoto).toBeUndefined();
  expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual(['wall/sunset.HEIC', 'wall/sunset.MOV']);

  const still = path.join(tmp, 'sunset.HEIC');
  const mov = path.join(tmp, 'sunset.MOV');
  const types: Record<string, string | null> = {};
  for (const [url, file] of [[done.result.still.url, still], [done.result.video.url, mov]] as const) {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    types[path.extname(file)] = res.headers.get('content-type');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  }
  expect(types).toEqual({ '.HEIC': 'image/heic', '.MOV': 'video/quicktime' });
  // a real HEIC, not a JPEG under a .HEIC name
  expect(fs.readFileSync(still).toString('latin1', 4, 12)).toBe('ftypheic');

  const v = probeVideo(mov);
  expect([v.width, v.height]).toEqual([1080, 1920]);
  expect(v.r_frame_rate).toBe('60/1');
  expect(v.avg_frame_rate).toBe('60/1');
  expect(v.codec_name).toBe('h264');

  const report = await inspectLivePhoto(still, mov, { wallpaper: true });
  expect(report.errors).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.contentIdentifier).toBe(done.result.contentIdentifier);
  const notMet = report.wallpaper!.requirements.filter((r) => r.status !== 'met').map((r) => r.id);
  expect(notMet).toEqual(['device-verified']);
  expect(report.wallpaper!.ready).toBe(true);
});

it('options.pvt: the pair is also published as <name>.pvt.zip, a NAME.pvt/ package inspect calls valid', async () => {
  const output = { bucket: stack.buckets.output, prefix: 'pvt/' };
  const created = await a.post('/v1/conversions', {
    source: { bucket: stack.buckets.input, key: 'videos/sunset.mp4' },
    output,
    options: { pvt: true, duration: 1.5 },
  });
  expect(created.status).toBe(202);
  const done = await waitFor(
    `${created.body.id} to end`,
    async () => {
      const v = (await a.get(`/v1/conversions/${created.body.id}`)).body;
      return ['completed', 'failed', 'canceled'].includes(v.status) ? v : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
  expect(done.error).toBeUndefined();
  expect(done.result.pvt).toMatchObject({ bucket: output.bucket, key: 'pvt/sunset.pvt.zip' });
  expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual(['pvt/sunset.JPG', 'pvt/sunset.MOV', 'pvt/sunset.pvt.zip']);
  const res = await fetch(done.result.pvt.url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/zip');
  const dir = path.join(tmp, 'pvt');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'sunset.pvt.zip'), Buffer.from(await res.arrayBuffer()));
  execFileSync('unzip', ['-q', 'sunset.pvt.zip'], { cwd: dir });
  expect(fs.readdirSync(path.join(dir, 'sunset.pvt')).sort()).toEqual(['metadata.plist', 'sunset.JPG', 'sunset.MOV']);
  const report = await inspectPvtPackage(path.join(dir, 'sunset.pvt'));
  expect(report.errors).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.contentIdentifier).toBe(done.result.contentIdentifier);
  // the option is a boolean: anything else is refused
  expect((await a.post('/v1/conversions', { source: { bucket: stack.buckets.input, key: 'videos/sunset.mp4' }, output, options: { pvt: 'yes' } })).status).toBe(400);
});
