import { makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { startApi, startWorker, stopAll, type ApiProcess } from './support/processes';
import { E2E_MEDIA, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { objectKeys } from './worker-support';

/** Items of one batch whose file names clash get distinct, deterministic output keys (api → built worker → S3). */
let stack: Stack;
let api: ApiProcess;
let a: ApiClient;

beforeAll(async () => {
  stack = await startStack('batch-names');
  const video = makeCachedVideo(E2E_MEDIA);
  for (const key of ['shoot/a/IMG_0001.mov', 'shoot/b/IMG_0001.mov', 'shoot/c/IMG_0002.mov']) {
    await stack.storage.putObjectFromFile(stack.buckets.input, key, video);
  }
  [api] = await Promise.all([startApi(stack), startWorker(stack, { WORKER_CONCURRENCY: '2' })]);
  a = apiClient(api.url, stack.tenants.a);
});

afterAll(async () => {
  await stopAll();
  await stack?.stop();
});

it('a/IMG_0001.mov + b/IMG_0001.mov in one batch: each pair under its own sub-path, both complete, nothing mixed', async () => {
  const items = ['shoot/a/IMG_0001.mov', 'shoot/b/IMG_0001.mov', 'shoot/c/IMG_0002.mov'].map((key) => ({ bucket: stack.buckets.input, key }));
  const created = await a.post<{ id: string }>('/v1/batches', {
    source: { items },
    output: { bucket: stack.buckets.output, prefix: 'names/' },
    options: { duration: 1 },
  });
  expect(created.status).toBe(202);
  const batch = await waitFor(
    'the batch to complete',
    async () => {
      const v = (await a.get<{ status: string; counts: Record<string, number> }>(`/v1/batches/${created.body.id}`)).body;
      return v.status === 'completed' ? v : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  expect(batch.counts).toMatchObject({ completed: 3, failed: 0 });
  expect(await objectKeys(stack.storage, stack.buckets.output, 'names/')).toEqual([
    'names/IMG_0002.JPG',
    'names/IMG_0002.MOV',
    'names/a/IMG_0001.JPG',
    'names/a/IMG_0001.MOV',
    'names/b/IMG_0001.JPG',
    'names/b/IMG_0001.MOV',
  ]);
});
