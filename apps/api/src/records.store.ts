import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import { BATCH_COUNT_FIELDS, type BatchCounts, type BatchRecord, type ConversionRecord } from '@vid2live/jobs/records';
import type { Transition } from '@vid2live/jobs/lifecycle';
import { RecordStore as JobRecordStore, RecordConflictError } from '@vid2live/jobs/record-store';
import { ApiError } from './errors';
import { APP_CONFIG, REDIS } from './tokens';

/** Ids come from the URL: anything not shaped like one of ours is simply not found (and never reaches a key). */
export function assertIdShape(id: string, what: string): void {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id)) throw ApiError.notFound(what);
}

/**
 * The API's view of the shared record store (libs/jobs): the same reads and compare-and-set updates as the worker,
 * with an ApiError for a record that keeps changing and batch counts limited to the public, non-negative ones.
 */
@Injectable()
export class RecordStore {
  readonly prefix: string;
  /** how long records are kept (RECORD_TTL_SECONDS); updates keep the TTL set at creation */
  readonly ttlSeconds: number;
  private readonly store: JobRecordStore;

  constructor(@Inject(REDIS) redis: Redis, @Inject(APP_CONFIG) config: AppConfig) {
    this.store = new JobRecordStore(redis, config, 20);
    this.prefix = this.store.prefix;
    this.ttlSeconds = this.store.ttlSeconds;
  }

  conversionKey(id: string): string {
    return this.store.conversionKey(id);
  }

  getConversion(id: string): Promise<ConversionRecord | undefined> {
    return this.store.getConversion(id);
  }

  getConversions(ids: string[]): Promise<Array<ConversionRecord | undefined>> {
    return this.store.getConversions(ids);
  }

  /**
   * Optimistic update (a worker may write the same record) of one lifecycle step (libs/jobs/src/lifecycle.ts):
   * read, let `step` decide (it may throw an ApiError), write only if unchanged (RECORD_CAS_LUA), else retry.
   * Returns the record as written, or as found when the step was refused (nothing to change).
   */
  async transitionConversion(id: string, step: (r: ConversionRecord) => Promise<Transition> | Transition): Promise<ConversionRecord | undefined> {
    try {
      return (await this.store.transition(id, step))?.record;
    } catch (e) {
      if (e instanceof RecordConflictError) throw new ApiError(409, 'CONFLICT', 'the conversion changed too often while updating it; try again');
      throw e;
    }
  }

  async getBatch(id: string): Promise<{ record: BatchRecord; counts: BatchCounts; failures: string[] } | undefined> {
    const found = await this.store.getBatch(id);
    if (!found) return undefined;
    // Only the public states, never negative (a counter may dip while a move is half-applied by another writer).
    const counts = Object.fromEntries(BATCH_COUNT_FIELDS.map((f) => [f, Math.max(0, found.counts[f] ?? 0)])) as BatchCounts;
    return { ...found, counts };
  }
}
