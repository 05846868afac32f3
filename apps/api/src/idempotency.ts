import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import { redisKeys } from '@vid2live/jobs';
import { ApiError } from './errors';
import { APP_CONFIG, REDIS } from './tokens';

/** A key maps to the first resource created with it for a day; after that the key may be used afresh. */
const TTL_SECONDS = 24 * 3600;

/**
 * `Idempotency-Key` bookkeeping: SET NX is the arbiter, so of concurrent requests with one key exactly one wins
 * and creates; the others answer with the winner's id. The stored value is `<id> <sha256 of the body>`: the same
 * key with a different body is a client bug (it would silently get the other request's job), answered with 409. Conversions and batches have separate key spaces (a space
 * cannot occur in a key, so the batch prefix cannot collide with a conversion key).
 */
@Injectable()
export class Idempotency {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.prefix = config.QUEUE_PREFIX;
  }

  private key(tenant: string, scope: 'conversions' | 'batches', key: string): string {
    return redisKeys.idempotency(this.prefix, tenant, scope === 'batches' ? `batches ${key}` : key);
  }

  /** The id that owns the key: `candidate` (fresh) when this call claimed it, else the earlier request's. */
  async claim(
    tenant: string,
    scope: 'conversions' | 'batches',
    key: string,
    candidate: string,
    body: unknown,
  ): Promise<{ id: string; fresh: boolean }> {
    const k = this.key(tenant, scope, key);
    const fingerprint = createHash('sha256').update(JSON.stringify(body ?? null)).digest('hex');
    for (;;) {
      if ((await this.redis.set(k, `${candidate} ${fingerprint}`, 'EX', TTL_SECONDS, 'NX')) === 'OK') {
        return { id: candidate, fresh: true };
      }
      const existing = await this.redis.get(k);
      if (existing) {
        const [id, owner] = existing.split(' ');
        if (owner !== fingerprint) {
          throw new ApiError(HttpStatus.CONFLICT, 'CONFLICT', 'this Idempotency-Key was already used with a different request body', { existingId: id });
        }
        return { id, fresh: false };
      }
      // expired between SET and GET: try to claim again
    }
  }

  /** Frees the key after a failed create, so the client's retry can succeed (only if we still own it). */
  async release(tenant: string, scope: 'conversions' | 'batches', key: string, id: string): Promise<void> {
    await this.redis
      .eval(
        "local v = redis.call('GET', KEYS[1]) if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then return redis.call('DEL', KEYS[1]) end return 0",
        1,
        this.key(tenant, scope, key),
        id,
      )
      .catch(() => undefined);
  }
}
