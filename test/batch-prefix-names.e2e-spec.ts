import { loadConfig } from '@vid2live/config';
import { batchKeys } from '@vid2live/jobs/records';
import { prefixItemOutputCandidates } from '@vid2live/storage/output-names';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { RecordStore } from '../apps/worker/src/record-store';
import { apiClient, type ApiClient } from './support/http';
import { startApi, stopAll } from './support/processes';
import { E2E_MEDIA, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { objectKeys, startWorker, type RunningWorker } from './worker-support';

/**
 * A prefix batch is listed page by page by separate jobs; sources whose names clash only by extension or case
 * (`x.mov` + `x.mp4`, `IMG.MOV` + `img.mov`) still get distinct, deterministic output keys when they land on
 * different pages. The built api, a worker in this process listing ONE key per page, Redis, S3, ffmpeg.
 */
let stack: Stack;
let worker: RunningWorker;
let a: ApiClient;

// In S3 listing order (UTF-8 bytes: upper case before lower case, `s` before `x`); one key per page.
const SOURCES = ['clash/IMG.MOV', 'clash/img.mov', 'clash/sub/x.mov', 'clash/x.mov', 'clash/x.mp4', 'clash/y.mp4'];
// The first key in listing order keeps the plain name; a later one whose name is taken keeps its extension.
const NAMES = ['IMG', 'img.mov', 'sub/x', 'x', 'x.mp4', 'y'];

beforeAll(async () => {
  stack = await startStack('batch-prefix-names');
  const video = makeCachedVideo(E2E_MEDIA, { seconds: 2, size: '320x180' });
  for (const key of SOURCES) await stack.storage.putObjectFromFile(stack.buckets.input, key, video);
  const api = await startApi(stack);
  a = apiClient(api.url, stack.tenants.a);
  worker = await startWorker(loadConfig('worker', stack.env({ WORKER_CONCURRENCY: '2', LOG_LEVEL: 'warn' })), { pageSize: 1 });
});

afterAll(async () => {
  await worker?.stop();
  await stopAll();
  await stack?.stop();
});

async function runBatch(outPrefix: string): Promise<string> {
  const created = await a.post<{ id: string }>('/v1/batches', {
    source: { bucket: stack.buckets.input, prefix: 'clash/' },
    output: { bucket: stack.buckets.output, prefix: outPrefix },
    options: { duration: 1 },
  });
  expect(created.status).toBe(202);
  const id = created.body.id;
  const done = await waitFor(
    `batch ${id} to complete`,
    async () => {
      const v = (await a.get<{ status: string; total: number | null; counts: Record<string, number> }>(`/v1/batches/${id}`)).body;
      return v.status === 'completed' ? v : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
  expect(done).toMatchObject({ total: SOURCES.length, counts: { completed: SOURCES.length, failed: 0, canceled: 0 } });
  return id;
}

const expectedKeys = (prefix: string) => NAMES.flatMap((n) => [`${prefix}${n}.JPG`, `${prefix}${n}.MOV`]).sort();

it('x.mov + x.mp4 and IMG.MOV + img.mov on different pages: one distinct pair each, the same names on a second run', async () => {
  const first = await runBatch('names-1/');
  // Six pages of one key each were listed (page 6 does not exist).
  const pages = await Promise.all([0, 5, 6].map((p) => stack.redis.exists(`${stack.prefix}:batches:${first}.page.${p}`)));
  expect(pages).toEqual([1, 1, 0]);

  const keys = await objectKeys(stack.storage, stack.buckets.output, 'names-1/');
  expect(keys).toEqual(expectedKeys('names-1/'));
  // Distinct even where a case-insensitive file system (macOS, Windows) receives them.
  expect(new Set(keys.map((k) => k.toLowerCase())).size).toBe(keys.length);

  // A retried page claims again and gets the same names (the claims are owned by the source key)…
  const records = worker.app.get(RecordStore);
  const again: string[] = [];
  for (const key of SOURCES) again.push(await records.claimOutputName(first, key, prefixItemOutputCandidates(key.slice('clash/'.length))));
  expect(again).toEqual(NAMES);
  // …and the claims expire with the records.
  expect(await stack.redis.ttl(batchKeys.names(stack.prefix, first))).toBeGreaterThan(0);

  // The same listing in another batch: the same names.
  await runBatch('names-2/');
  expect(await objectKeys(stack.storage, stack.buckets.output, 'names-2/')).toEqual(expectedKeys('names-2/'));
});
