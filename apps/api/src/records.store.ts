import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../libs/config/src';
import { redisKeys } from '../../../libs/jobs/src';
import {
  BATCH_COUNT_FIELDS,
  RECORD_CAS_LUA,
  readBatch,
  batchKeys,
  type BatchCounts,
  type BatchRecord,
  type ConversionRecord,
} from '../../../libs/jobs/src/records';
import { ApiError } from './errors';
import { APP_CONFIG, REDIS } from './tokens';

/** `cnv_…` / `bat_…`: 26 base32 characters of randomness; never an integer and never a ':' (BullMQ job ids). */
export function newId(kind: 'cnv' | 'bat'): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(26);
  let s = '';
  for (const b of bytes) s += alphabet[b & 31];
  return `${kind}_${s}`;
}

/** Ids come from the URL: anything not shaped like one of ours is simply not found (and never reaches a key). */
export function assertIdShape(id: string, what: string): void {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id)) throw ApiError.notFound(what);
}

type CasRedis = Redis & {
  v2lCas(key: string, countsKey: string, expected: string, next: string, from: string, to: string): Promise<number>;
};

@Injectable()
export class RecordStore {
  readonly prefix: string;
  /** how long records are kept (RECORD_TTL_SECONDS); updates keep the TTL set at creation */
  readonly ttlSeconds: number;
  private readonly redis: CasRedis;

  constructor(@Inject(REDIS) redis: Redis, @Inject(APP_CONFIG) config: AppConfig) {
    this.prefix = config.QUEUE_PREFIX;
    this.ttlSeconds = config.RECORD_TTL_SECONDS;
    if (!(redis as unknown as Partial<CasRedis>).v2lCas) redis.defineCommand('v2lCas', { numberOfKeys: 2, lua: RECORD_CAS_LUA });
    this.redis = redis as CasRedis;
  }

  conversionKey(id: string): string {
    return redisKeys.conversion(this.prefix, id);
  }

  async getConversion(id: string): Promise<ConversionRecord | undefined> {
    const raw = await this.redis.get(this.conversionKey(id));
    return raw ? (JSON.parse(raw) as ConversionRecord) : undefined;
  }

  async getConversions(ids: string[]): Promise<Array<ConversionRecord | undefined>> {
    if (!ids.length) return [];
    const raws = await this.redis.mget(ids.map((id) => this.conversionKey(id)));
    return raws.map((raw) => (raw ? (JSON.parse(raw) as ConversionRecord) : undefined));
  }

  /**
   * Optimistic update (a worker may write the same record): read, let `mutate` decide (it may throw an
   * ApiError), write only if unchanged (RECORD_CAS_LUA), else retry.
   * Returns the record as written (or as found when `mutate` returns undefined: nothing to change).
   */
  async updateConversion(
    id: string,
    mutate: (r: ConversionRecord) => Promise<ConversionRecord | undefined> | ConversionRecord | undefined,
  ): Promise<ConversionRecord | undefined> {
    const key = this.conversionKey(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const current = JSON.parse(raw) as ConversionRecord;
      const next = await mutate(current);
      if (!next) return current;
      const countsKey = current.batchId ? batchKeys.counts(this.prefix, current.batchId) : key;
      const from = current.batchId ? current.status : '';
      const ok = await this.redis.v2lCas(key, countsKey, raw, JSON.stringify(next), from, next.status);
      if (ok === 1) return next;
    }
    throw new ApiError(409, 'CONFLICT', 'the conversion changed too often while updating it; try again');
  }

  async getBatch(id: string): Promise<{ record: BatchRecord; counts: BatchCounts; failures: string[] } | undefined> {
    const found = await readBatch(this.redis, this.prefix, id);
    if (!found) return undefined;
    // Only the public states, never negative (a counter may dip while a move is half-applied by another writer).
    const counts = Object.fromEntries(BATCH_COUNT_FIELDS.map((f) => [f, Math.max(0, found.counts[f] ?? 0)])) as BatchCounts;
    return { ...found, counts };
  }

}
