import { createHash, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * What the studio keeps in Redis: sign-in sessions and each tenant's uploaded videos. A session is stored under
 * the SHA-256 of its token (the token itself, a bearer credential, is only in the browser's HttpOnly cookie).
 */
export interface StudioVideo {
  id: string;
  name: string;
  size: number;
  bucket: string;
  /** the uploaded object */
  key: string;
  /** `<studio prefix>videos/<id>/`: its analysis, thumbnails, proxy and frames */
  dir: string;
  state: 'uploading' | 'ready';
  createdAt: string;
}

/** a tenant keeps at most this many studio videos; the oldest are forgotten first (their objects stay for the lifecycle rule) */
export const MAX_STUDIO_VIDEOS = 200;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class StudioStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private sessionKey(token: string): string {
    return `${this.prefix}:studio:session:${digest(token)}`;
  }

  private videosKey(tenant: string): string {
    return `${this.prefix}:studio:videos:${tenant}`;
  }

  private previewsKey(tenant: string): string {
    return `${this.prefix}:studio:previews:${tenant}`;
  }

  /**
   * Admits preview job `jobId` for `tenant` when fewer than `max` of its previews are pending (`stillPending` tells
   * which recorded ones still are; the others are dropped first). Added, then counted: concurrent requests may be
   * refused together, never admitted past `max`.
   */
  async admitPreview(tenant: string, jobId: string, max: number, stillPending: (jobId: string) => Promise<boolean>): Promise<boolean> {
    const key = this.previewsKey(tenant);
    for (const id of await this.redis.zrange(key, 0, -1)) {
      if (id !== jobId && !(await stillPending(id))) await this.redis.zrem(key, id);
    }
    const replies = await this.redis.multi().zadd(key, Date.now(), jobId).zcard(key).expire(key, 3600).exec();
    const count = Number(replies?.[1]?.[1] ?? Infinity);
    if (count > max) {
      await this.redis.zrem(key, jobId);
      return false;
    }
    return true;
  }

  async createSession(tenant: string, seconds: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.redis.set(this.sessionKey(token), tenant, 'EX', seconds);
    return token;
  }

  /** the tenant of a live session; undefined for a missing, malformed or expired token */
  async sessionTenant(token: string | undefined): Promise<string | undefined> {
    if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    return (await this.redis.get(this.sessionKey(token))) ?? undefined;
  }

  async deleteSession(token: string | undefined): Promise<void> {
    if (token) await this.redis.del(this.sessionKey(token));
  }

  async putVideo(tenant: string, v: StudioVideo): Promise<void> {
    const key = this.videosKey(tenant);
    await this.redis.multi().hset(key, v.id, JSON.stringify(v)).expire(key, this.ttlSeconds).exec();
    const n = await this.redis.hlen(key);
    if (n > MAX_STUDIO_VIDEOS) {
      const all = await this.listVideos(tenant, true);
      const old = all.slice(0, n - MAX_STUDIO_VIDEOS).map((x) => x.id);
      if (old.length) await this.redis.hdel(key, ...old);
    }
  }

  async getVideo(tenant: string, id: string): Promise<StudioVideo | undefined> {
    if (!/^[a-f0-9]{20}$/.test(id)) return undefined;
    const raw = await this.redis.hget(this.videosKey(tenant), id);
    return raw ? (JSON.parse(raw) as StudioVideo) : undefined;
  }

  /** oldest first; only the uploaded ones unless `all` */
  async listVideos(tenant: string, all = false): Promise<StudioVideo[]> {
    const raw = await this.redis.hvals(this.videosKey(tenant));
    return raw
      .map((r) => JSON.parse(r) as StudioVideo)
      .filter((v) => all || v.state === 'ready')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }
}
