import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { QUEUES } from '@vid2live/jobs';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { startApi, stopAll, type ApiProcess } from './support/processes';
import { studioSession, uploadStudioVideo } from './support/studio-api';
import { E2E_MEDIA, startStack, type Stack } from './support/stack';

/**
 * One tenant cannot fill the shared `studio` queue: with no worker running (so every preview job stays waiting),
 * the built API admits STUDIO_MAX_PENDING_PREVIEWS (here 2) preview jobs of a tenant and refuses the next with
 * 429 STUDIO_TOO_MANY_PREVIEWS; asking again for one already waiting is not a new one; another tenant is not
 * affected; once the jobs are gone (done), the tenant is admitted again.
 */
let stack: Stack;
let api: ApiProcess;
let queue: Queue;
let connection: Redis;

beforeAll(async () => {
  stack = await startStack('studio-preview-bound');
  api = await startApi(stack, { STUDIO_MAX_PENDING_PREVIEWS: '2', STUDIO_PREVIEW_WAIT_MS: '200' });
  connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUES.studio, { connection, prefix: stack.prefix });
}, 120_000);

afterAll(async () => {
  await queue?.close();
  connection?.disconnect();
  await stopAll();
  await stack?.stop();
});

const session = (key: string) => studioSession(api.url, key);
const upload = async (cookie: string) => (await uploadStudioVideo(api.url, cookie, makeCachedVideo(E2E_MEDIA, { seconds: 2, size: '320x180' }), 'clip.mp4')).id;

it('admits a tenant\'s previews up to the bound, refuses one more with 429, and not another tenant\'s', async () => {
  const a = await session(stack.tenants.a.key);
  const b = await session(stack.tenants.b.key);
  const id = await upload(a);
  const get = (cookie: string, what: string) => fetch(`${api.url}/studio/api/videos/${id}/${what}`, { headers: { cookie } });

  // 1: the analysis (waiting: no worker) · 2: a frame · 3: another frame — one too many
  const first = await get(a, 'analysis');
  expect([first.status, await first.json()]).toEqual([202, { pending: true }]);
  expect((await get(a, 'analysis')).status).toBe(202); // the same job asked again is not a new one
  expect((await get(a, 'frame.jpg?t=0.5&w=320')).status).toBe(503); // STUDIO_BUSY: on its way
  const refused = await get(a, 'frame.jpg?t=1&w=320');
  expect(refused.status).toBe(429);
  expect((await refused.json()).error).toEqual({ code: 'STUDIO_TOO_MANY_PREVIEWS', message: expect.stringMatching(/^2 previews of yours/) });
  expect((await get(a, 'frame.jpg?t=0.5&w=320')).status).toBe(503); // still admitted: it is already waiting
  expect(await queue.getWaitingCount()).toBe(2);

  // tenant B has its own bound
  const idB = await upload(b);
  expect((await fetch(`${api.url}/studio/api/videos/${idB}/analysis`, { headers: { cookie: b } })).status).toBe(202);

  // once A's jobs are gone (done, failed or removed), A is admitted again
  for (const job of await queue.getJobs(['waiting'])) if (job.data.tenant === stack.tenants.a.tenant) await job.remove();
  expect((await get(a, 'frame.jpg?t=1&w=320')).status).toBe(503);
});
