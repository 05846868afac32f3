import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { QUEUES, redisKeys } from '@vid2live/jobs';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { makeBadInput, makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { startApi, startWorker, stopAll, type AppProcess } from './support/processes';
import { E2E_MEDIA, E2E_TMP, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { WebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver';
import { objectKeys, processesMentioning, startSlowFileServer } from './worker-support';

/**
 * The whole pipeline across processes: the built api and two built workers as child processes, Redis, an S3
 * server, real ffmpeg, and a webhook receiver that verifies every signature. Everything goes through HTTP.
 */
let stack: Stack;
let a: ApiClient;
let b: ApiClient;
/** admin key: /metrics spans every tenant */
let ops: ApiClient;
let receiver: WebhookReceiver;
let workers: AppProcess[];
let connection: Redis;
let conversions: Queue;
const tmp = path.join(E2E_TMP, `pipeline-${process.pid}`);

type View = {
  id: string;
  status: string;
  progress: { stage: string; percent: number };
  result?: any;
  error?: { code: string; message: string };
  createdAt: string;
  finishedAt: string | null;
};

async function until(id: string, statuses: string[], timeoutMs = 90_000): Promise<View> {
  return waitFor(
    `${id} to be ${statuses.join('|')}`,
    async () => {
      const res = await a.get<View>(`/v1/conversions/${id}`);
      return statuses.includes(res.body.status) ? res.body : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

const eventsFor = (id: string): ReceivedWebhook[] => receiver.accepted().filter((r) => r.body?.data.id === id);

/** ffmpeg (not ffprobe) processes reading a source URL, as "pid ppid" pairs. */
function ffmpegReading(needle: string): Array<{ pid: number; ppid: number }> {
  return processesMentioning(needle)
    .filter((l) => /(^|\/)ffmpeg$/.test(l.split(/\s+/)[1] ?? ''))
    .map((l) => {
      const pid = Number(l.split(/\s+/)[0]);
      const ppid = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
      return { pid, ppid };
    });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  fs.mkdirSync(tmp, { recursive: true });
  stack = await startStack('pipeline');
  receiver = await WebhookReceiver.start(stack.webhookSecret);
  const video = makeCachedVideo(E2E_MEDIA);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'videos/beach.mp4', video);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'videos/notes.mp4', makeBadInput('text', E2E_MEDIA));
  const workerEnv = {
    WORKER_CONCURRENCY: '1',
    // Short lock so a SIGKILLed worker's job counts as stalled quickly; small webhook backoff for the retry test.
    WORKER_LOCK_DURATION_MS: '3000',
    WORKER_STALLED_INTERVAL_MS: '2000',
    WORKER_SHUTDOWN_TIMEOUT_MS: '2000',
    WEBHOOK_BACKOFF_MS: '200',
    WEBHOOK_BACKOFF_MAX_MS: '1000',
    // URL sources through the loopback range proxy, not downloaded first: ffmpeg itself reads the slow sources
    SOURCE_DOWNLOAD_MAX_BYTES: '0',
  };
  const [api, ...started] = await Promise.all([startApi(stack), startWorker(stack, workerEnv), startWorker(stack, workerEnv)]);
  workers = started;
  a = apiClient(api.url, stack.tenants.a);
  b = apiClient(api.url, stack.tenants.b);
  ops = apiClient(api.url, stack.admin);
  connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  conversions = new Queue(QUEUES.conversions, { connection, prefix: stack.prefix });
});

afterAll(async () => {
  await conversions?.close();
  connection?.disconnect();
  await stopAll();
  await receiver?.close();
  await stack?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

it('converts a video end to end: progress, a presigned pair that passes inspect, a signed webhook', async () => {
  const output = { bucket: stack.buckets.output, prefix: 'flow/' };
  const created = await a.post('/v1/conversions', {
    source: { bucket: stack.buckets.input, key: 'videos/beach.mp4' },
    output,
    options: { duration: 2, keyFrame: 'auto', still: 'jpeg' },
    webhook: { url: receiver.url() },
  });
  expect(created.status).toBe(202);
  const id: string = created.body.id;

  const stages = new Set<string>();
  const done = await waitFor(
    `${id} to end`,
    async () => {
      const v = (await a.get<View>(`/v1/conversions/${id}`)).body;
      stages.add(`${v.status}:${v.progress.stage}`);
      return ['completed', 'failed', 'canceled'].includes(v.status) ? v : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 50 },
  );
  expect(done.error).toBeUndefined();
  expect(done).toEqual({
    id,
    status: 'completed',
    progress: { stage: 'done', percent: 100 },
    result: {
      contentIdentifier: expect.stringMatching(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/),
      stillTime: expect.any(Number),
      still: { bucket: output.bucket, key: 'flow/beach.JPG', url: expect.stringContaining('X-Amz-Signature=') },
      video: { bucket: output.bucket, key: 'flow/beach.MOV', url: expect.stringContaining('X-Amz-Signature=') },
      warnings: expect.any(Array),
    },
    createdAt: created.body.createdAt ?? expect.any(String),
    finishedAt: expect.any(String),
  });
  expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
  // Progress went through the engine's stages on the way (polling may miss short ones, not all of them).
  expect([...stages].some((s) => s.startsWith('active:'))).toBe(true);

  // Download through the presigned URLs, as a client would, and validate the pair with the engine's inspector.
  const still = path.join(tmp, 'beach.JPG');
  const mov = path.join(tmp, 'beach.MOV');
  for (const [url, file] of [[done.result.still.url, still], [done.result.video.url, mov]] as const) {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  }
  const report = await inspectLivePhoto(still, mov);
  expect(report.errors).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.contentIdentifier).toBe(done.result.contentIdentifier);
  expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual(['flow/beach.JPG', 'flow/beach.MOV']);

  // One signed conversion.completed event whose data is the GET body (URLs presigned at event time).
  const event = await receiver.waitForAccepted('conversion.completed', (r) => r.body?.data.id === id);
  expect(event.id).toBe(`msg_${id}.completed`);
  expect(event.body).toMatchObject({ type: 'conversion.completed', data: { ...done, result: { ...done.result, still: { key: 'flow/beach.JPG' }, video: { key: 'flow/beach.MOV' } } } });
  expect(Object.keys(event.body!.data).sort()).toEqual(Object.keys(done).sort());

  // The worker's stage timings reach the api's /metrics through the Redis relay.
  await waitFor('render timings in /metrics', async () => {
    const text = String((await ops.get('/metrics')).body);
    const m = /vid2live_stage_duration_seconds_count\{stage="render"\} (\d+)/.exec(text);
    return m && Number(m[1]) >= 1 ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 500 });
});

it('fails a broken source with its code and no retry, while the next job converts', async () => {
  const output = { bucket: stack.buckets.output, prefix: 'mixed/' };
  const submit = async (key: string) =>
    (await a.post('/v1/conversions', { source: { bucket: stack.buckets.input, key }, output, webhook: { url: receiver.url() } })).body.id as string;
  const notMedia = await submit('videos/notes.mp4');
  const missing = await submit('videos/does-not-exist.mp4');
  const good = await submit('videos/beach.mp4');

  const [badView, missingView, goodView] = await Promise.all([until(notMedia, ['failed', 'completed']), until(missing, ['failed', 'completed']), until(good, ['completed', 'failed'])]);
  expect(badView).toMatchObject({ status: 'failed', error: { code: 'INPUT_NOT_MEDIA', message: expect.any(String) }, finishedAt: expect.any(String) });
  // small sources are downloaded to the worker first; the message still names the object, not a temp file
  expect(badView.error!.message).toContain(`s3://${stack.buckets.input}/videos/notes.mp4`);
  expect(badView.error!.message).not.toContain(os.tmpdir());
  expect(badView.result).toBeUndefined();
  expect(missingView).toMatchObject({ status: 'failed', error: { code: 'SOURCE_NOT_FOUND' } });
  expect(goodView.status).toBe('completed');
  // Final codes are not retried, although conversions get several attempts.
  for (const id of [notMedia, missing]) {
    const job = (await conversions.getJob(id))!;
    expect(job.opts.attempts).toBeGreaterThan(1);
    expect(job.attemptsMade).toBe(1);
    expect(await job.getState()).toBe('failed');
  }
  expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual(['mixed/beach.JPG', 'mixed/beach.MOV']);
  const failedEvent = await receiver.waitForAccepted('conversion.failed', (r) => r.body?.data.id === notMedia);
  expect(failedEvent.body).toMatchObject({ type: 'conversion.failed', data: { id: notMedia, status: 'failed', error: { code: 'INPUT_NOT_MEDIA' } } });
});

it('retries a webhook answered 500 twice with backoff, and replays it on request with the same event id', async () => {
  const before = receiver.received.length;
  receiver.failNext(2, 500);
  const { body } = await a.post('/v1/conversions', {
    source: { bucket: stack.buckets.input, key: 'videos/gone.mp4' },
    output: { bucket: stack.buckets.output, prefix: 'hooks/' },
    webhook: { url: receiver.url('/retry') },
  });
  const id: string = body.id;
  await waitFor('three deliveries', () => receiver.received.length - before >= 3, { timeoutMs: 30_000 });
  const deliveries = receiver.received.slice(before);
  expect(deliveries.map((d) => d.status)).toEqual([500, 500, 204]);
  expect(new Set(deliveries.map((d) => d.id))).toEqual(new Set([`msg_${id}.failed`]));
  for (const d of deliveries) expect(d.body).toMatchObject({ type: 'conversion.failed', data: { id, error: { code: 'SOURCE_NOT_FOUND' } } });
  expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(150);
  expect(deliveries[2].at - deliveries[1].at).toBeGreaterThanOrEqual(300);

  // Another tenant cannot replay it; its owner can, and the receiver sees the same event id again.
  const eventId = deliveries[0].id;
  expect((await b.post(`/v1/webhooks/deliveries/${eventId}/replay`)).status).toBe(404);
  const replay = await a.post(`/v1/webhooks/deliveries/${eventId}/replay`);
  expect(replay.status).toBe(202);
  expect(replay.body).toEqual({ id: eventId, status: 'queued' });
  await waitFor('the replayed delivery', () => receiver.accepted().filter((r) => r.id === eventId).length === 2, { timeoutMs: 15_000 });
  const again = receiver.accepted().filter((r) => r.id === eventId)[1];
  expect(again.body).toEqual(deliveries[2].body);
});

it('cancels a queued conversion (it never runs) and an active one (its ffmpeg is killed)', async () => {
  const video = makeCachedVideo(E2E_MEDIA);
  // Two slow sources keep both workers busy, so the third conversion has to wait in the queue.
  const slow = await Promise.all([startSlowFileServer(video, 4 * 1024), startSlowFileServer(video, 4 * 1024)]);
  try {
    const submit = async (source: object, prefix: string) =>
      (await a.post('/v1/conversions', { source, output: { bucket: stack.buckets.output, prefix }, webhook: { url: receiver.url() } })).body.id as string;
    const busy = [await submit({ url: slow[0].url }, 'busy0/'), await submit({ url: slow[1].url }, 'busy1/')];
    const needles = slow.map((s) => new URL(s.url).pathname);
    await waitFor('ffmpeg on both slow sources', () => needles.every((n) => ffmpegReading(n).length > 0), { timeoutMs: 60_000 });

    const queued = await submit({ bucket: stack.buckets.input, key: 'videos/beach.mp4' }, 'never/');
    expect(await (await conversions.getJob(queued))!.getState()).toBe('waiting');
    const canceledQueued = await a.del(`/v1/conversions/${queued}`);
    expect(canceledQueued.status).toBe(202);
    expect(canceledQueued.body).toMatchObject({ id: queued, status: 'canceled', error: { code: 'CANCELED' } });

    // The active one: 202 at once (still active, cancel requested), canceled within a few seconds, ffmpeg gone.
    const [victim] = ffmpegReading(needles[0]);
    const t0 = Date.now();
    const canceledActive = await a.del(`/v1/conversions/${busy[0]}`);
    expect(canceledActive.status).toBe(202);
    expect(canceledActive.body).toMatchObject({ id: busy[0], status: 'active' });
    const view = await until(busy[0], ['canceled', 'failed', 'completed'], 15_000);
    expect(view).toMatchObject({ status: 'canceled', error: { code: 'CANCELED' } });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await waitFor('ffmpeg to be gone', () => !alive(victim.pid) && ffmpegReading(needles[0]).length === 0, { timeoutMs: 5_000 });
    expect((await a.del(`/v1/conversions/${busy[0]}`)).status).toBe(409);

    // The freed worker pops the canceled job and skips it: no output, conversion.canceled sent, job done.
    await receiver.waitForAccepted('conversion.canceled (queued)', (r) => r.body?.data.id === queued && r.body.type === 'conversion.canceled', 30_000);
    await waitFor('the skipped job to complete', async () => (await (await conversions.getJob(queued))!.getState()) === 'completed', { timeoutMs: 10_000 });
    expect(JSON.parse((await stack.redis.get(redisKeys.conversion(stack.prefix, queued)))!).startedAt).toBeUndefined();
    expect((await a.get(`/v1/conversions/${queued}`)).body.status).toBe('canceled');
    await receiver.waitForAccepted('conversion.canceled (active)', (r) => r.body?.data.id === busy[0] && r.body.type === 'conversion.canceled', 10_000);
    for (const prefix of ['never/', 'busy0/']) expect(await objectKeys(stack.storage, stack.buckets.output, prefix)).toEqual([]);

    expect((await a.del(`/v1/conversions/${busy[1]}`)).status).toBe(202);
    await until(busy[1], ['canceled'], 15_000);
  } finally {
    await Promise.all(slow.map((s) => s.close()));
  }
});

it('finishes a job on the other worker after its worker is SIGKILLed mid-job, with one output pair', async () => {
  const slow = await startSlowFileServer(makeCachedVideo(E2E_MEDIA), 4 * 1024);
  const needle = new URL(slow.url).pathname;
  try {
    const output = { bucket: stack.buckets.output, prefix: 'crash/' };
    const { body } = await a.post('/v1/conversions', { source: { url: slow.url }, output, webhook: { url: receiver.url() } });
    const id: string = body.id;
    const [ffmpeg] = await waitFor('ffmpeg on the slow source', () => {
      const found = ffmpegReading(needle);
      return found.length ? found : undefined;
    }, { timeoutMs: 60_000 });
    const owner = workers.find((w) => w.pid === ffmpeg.ppid);
    expect(owner).toBeDefined();
    expect((await a.get(`/v1/conversions/${id}`)).body.status).toBe('active');

    owner!.kill('SIGKILL');
    await owner!.exited;
    // A real host (or pod) dies with its children; here the orphaned ffmpeg is ended by hand.
    for (const p of ffmpegReading(needle)) process.kill(p.pid, 'SIGKILL');
    slow.setSpeed(1024 * 1024);

    // The survivor's stalled-job check (every 30 s by default) puts the job back once its lock (3 s) expired.
    const done = await until(id, ['completed', 'failed', 'canceled'], 120_000);
    expect(done.status).toBe('completed');
    const job = (await conversions.getJob(id))!;
    expect(job.stalledCounter).toBeGreaterThanOrEqual(1);
    const name = path.posix.basename(needle, '.mp4');
    expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual([`crash/${name}.JPG`, `crash/${name}.MOV`]);
    const completed = await receiver.waitForAccepted('conversion.completed after the crash', (r) => r.body?.data.id === id);
    expect(completed.body!.type).toBe('conversion.completed');
    expect(eventsFor(id)).toHaveLength(1);
  } finally {
    await slow.close();
  }
});
