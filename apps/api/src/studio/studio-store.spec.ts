import { createHash, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { MAX_STUDIO_VIDEOS, StudioStore, type StudioVideo } from './studio-store';

/** Against the real Redis of this machine (127.0.0.1:6379 or REDIS_URL), under a prefix of its own. */
const prefix = `studio-store-spec-${randomBytes(4).toString('hex')}`;
let redis: Redis;
let store: StudioStore;

beforeAll(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  store = new StudioStore(redis, prefix, 3600);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const video = (id: string, i: number): StudioVideo => ({
  id,
  name: `v${i}.mp4`,
  size: 10,
  bucket: 'b',
  key: `vid2live-studio/t/uploads/${id}/v${i}.mp4`,
  dir: `vid2live-studio/t/videos/${id}/`,
  state: 'ready',
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
});

it('keeps a session under the SHA-256 of its token only, with an expiry; a wrong or malformed token is nobody', async () => {
  const token = await store.createSession('tenant-a', 120);
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(await store.sessionTenant(token)).toBe('tenant-a');
  const keys = await redis.keys(`${prefix}:studio:session:*`);
  expect(keys).toEqual([`${prefix}:studio:session:${createHash('sha256').update(token).digest('hex')}`]);
  expect(keys.join()).not.toContain(token);
  const ttl = await redis.ttl(keys[0]);
  expect(ttl).toBeGreaterThan(100);
  expect(ttl).toBeLessThanOrEqual(120);
  expect(await store.sessionTenant(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
  expect(await store.sessionTenant('short')).toBeUndefined();
  expect(await store.sessionTenant(undefined)).toBeUndefined();
  await store.deleteSession(token);
  expect(await store.sessionTenant(token)).toBeUndefined();
});

it("keeps each tenant's videos apart, lists only finished uploads, and forgets the oldest past the limit", async () => {
  const ids = Array.from({ length: MAX_STUDIO_VIDEOS + 3 }, () => randomBytes(10).toString('hex'));
  for (const [i, id] of ids.entries()) await store.putVideo('tenant-a', video(id, i));
  await store.putVideo('tenant-a', { ...video(randomBytes(10).toString('hex'), 999), state: 'uploading' });
  const listed = await store.listVideos('tenant-a');
  expect(listed.map((v) => v.id)).toEqual(ids.slice(4)); // the 4 oldest went (the uploading one counts too)
  expect(await store.getVideo('tenant-b', ids[10])).toBeUndefined();
  expect((await store.getVideo('tenant-a', ids[10]))?.name).toBe('v10.mp4');
  expect(await store.listVideos('tenant-b')).toEqual([]);
  // ids are 20 hex characters: anything else is not looked up
  expect(await store.getVideo('tenant-a', '../x')).toBeUndefined();
});
