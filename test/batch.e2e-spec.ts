import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { makeBadInput, makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { startApi, startWorker, stopAll, type ApiProcess } from './support/processes';
import { E2E_MEDIA, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { objectKeys } from './worker-support';

/** Batches across processes: the built api, two built workers, Redis, an S3 server, ffmpeg. */
let stack: Stack;
let api: ApiProcess;
let a: ApiClient;
let b: ApiClient;
let receiver: WebhookReceiver;

type BatchView = {
  id: string;
  status: string;
  total: number | null;
  counts: Record<'queued' | 'active' | 'completed' | 'failed' | 'canceled', number>;
  failures?: Array<{ id: string; source: unknown; error?: { code: string } }>;
  createdAt: string;
  finishedAt: string | null;
};

const SOURCES = Array.from({ length: 20 }, (_, i) => `library/2024/${i < 15 ? '' : 'trip/'}clip-${String(i + 1).padStart(2, '0')}.mp4`);

beforeAll(async () => {
  stack = await startStack('batch');
  receiver = await WebhookReceiver.start(stack.webhookSecret);
  const video = makeCachedVideo(E2E_MEDIA);
  await Promise.all(SOURCES.map((key) => stack.storage.putObjectFromFile(stack.buckets.input, key, video)));
  // Keys beside the prefix must not be picked up.
  await stack.storage.putObjectFromFile(stack.buckets.input, 'library/2023/old.mp4', video);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'cli/a.mp4', video);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'cli/b.mp4', video);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'cli/broken.mp4', makeBadInput('text', E2E_MEDIA));
  const workerEnv = { WORKER_CONCURRENCY: '1' };
  [api] = await Promise.all([startApi(stack), startWorker(stack, workerEnv), startWorker(stack, workerEnv)]);
  a = apiClient(api.url, stack.tenants.a);
  b = apiClient(api.url, stack.tenants.b);
});

afterAll(async () => {
  await stopAll();
  await receiver?.close();
  await stack?.stop();
});

async function followBatch(id: string, timeoutMs: number): Promise<{ final: BatchView; seen: BatchView[] }> {
  const seen: BatchView[] = [];
  const final = await waitFor(
    `batch ${id} to complete`,
    async () => {
      const v = (await a.get<BatchView>(`/v1/batches/${id}`)).body;
      seen.push(v);
      return v.status === 'completed' ? v : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
  return { final, seen };
}

it('converts a batch of 20 over a prefix: counted as it goes, one pair per source, one batch.completed', async () => {
  const output = { bucket: stack.buckets.output, prefix: 'live-2024/' };
  const created = await a.post('/v1/batches', {
    source: { bucket: stack.buckets.input, prefix: 'library/2024/' },
    output,
    options: { duration: 1 },
    webhook: { url: receiver.url() },
  });
  expect(created.status).toBe(202);
  expect(created.body).toEqual({ id: expect.stringMatching(/^bat_/) });
  const id: string = created.body.id;
  expect((await b.get(`/v1/batches/${id}`)).status).toBe(404);

  const { final, seen } = await followBatch(id, 150_000);
  expect(final).toEqual({
    id,
    status: 'completed',
    total: 20,
    counts: { queued: 0, active: 0, completed: 20, failed: 0, canceled: 0 },
    createdAt: expect.any(String),
    finishedAt: expect.any(String),
  });
  // Consistent along the way: never a negative count, never more counted than listed.
  for (const v of seen) {
    expect(Math.min(...Object.values(v.counts))).toBeGreaterThanOrEqual(0);
    if (v.total !== null) expect(Object.values(v.counts).reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(v.total);
  }
  expect(seen.some((v) => v.status === 'active')).toBe(true);

  // One pair per source, sub-folders kept, nothing from beside the prefix.
  const expected = SOURCES.flatMap((k) => {
    const rel = k.slice('library/2024/'.length, -'.mp4'.length);
    return [`live-2024/${rel}.JPG`, `live-2024/${rel}.MOV`];
  }).sort();
  expect(await objectKeys(stack.storage, output.bucket, output.prefix)).toEqual(expected);

  const batchEvent = await receiver.waitForAccepted('batch.completed', (r) => r.body?.type === 'batch.completed' && r.body.data.id === id);
  expect(batchEvent.body!.data).toMatchObject({ id, status: 'completed', total: 20, counts: final.counts });
  await waitFor('20 conversion.completed events', () =>
    new Set(receiver.accepted().filter((r) => r.body?.type === 'conversion.completed').map((r) => r.body!.data.id)).size === 20,
  { timeoutMs: 15_000 });
  expect(receiver.accepted().filter((r) => r.body?.type === 'batch.completed' && r.body.data.id === id)).toHaveLength(1);
});

it('completes an items batch with a broken item: its failure is counted and listed with its code', async () => {
  const created = await a.post('/v1/batches', {
    source: { items: [{ bucket: stack.buckets.input, key: 'cli/a.mp4' }, { bucket: stack.buckets.input, key: 'cli/broken.mp4' }] },
    output: { bucket: stack.buckets.output, prefix: 'items/' },
    options: { duration: 1 },
  });
  expect(created.status).toBe(202);
  expect(created.body.total).toBe(2);
  const { final } = await followBatch(created.body.id, 60_000);
  expect(final).toMatchObject({ status: 'completed', total: 2, counts: { queued: 0, active: 0, completed: 1, failed: 1, canceled: 0 } });
  expect(final.failures).toEqual([
    { id: expect.stringMatching(/^cnv_/), source: { bucket: stack.buckets.input, key: 'cli/broken.mp4' }, error: { code: 'INPUT_NOT_MEDIA', message: expect.any(String) } },
  ]);
  expect((await a.get(`/v1/conversions/${final.failures![0].id}`)).body.error.code).toBe('INPUT_NOT_MEDIA');
  expect(await objectKeys(stack.storage, stack.buckets.output, 'items/')).toEqual(['items/a.JPG', 'items/a.MOV']);
});

it('works with `vid2live submit --wait` as a user runs it against the api', async () => {
  const bin = path.join(__dirname, '..', 'bin', 'vid2live.js');
  const args = [bin, 'submit', '--api', api.url, '--bucket', stack.buckets.input, '--prefix', 'cli/', '--out-bucket', stack.buckets.output, '--out-prefix', 'cli-live/', '--wait', '--json'];
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, VID2LIVE_API_KEY: stack.tenants.a.key }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (c) => resolve({ code: c, stdout: out }));
  });
  expect(code).toBe(1); // one source failed
  const summary = JSON.parse(stdout);
  expect(summary).toMatchObject({ status: 'completed', total: 3, counts: { completed: 2, failed: 1 } });
  expect(summary.failures[0].error.code).toBe('INPUT_NOT_MEDIA');
});
