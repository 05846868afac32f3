import type Redis from 'ioredis';
import { redisKeys } from './index';
import { ENDED, assertMove, type Transition, type TransitionRefusal } from './lifecycle';
import { RECORD_CAS_LUA, batchKeys, readBatch, type BatchRecord, type ConversionRecord } from './records';

/**
 * The one store of the JSON records in Redis (`redisKeys.conversion` / `redisKeys.batch` and the batch hashes),
 * used by the worker (it subclasses it for Nest) and by the API (it wraps it: its own error type and clamped
 * counts). Every update is a compare-and-set (RECORD_CAS_LUA) that moves the batch counters in the same step.
 */

/** A batch child's record and its place in the counters appear together, exactly once per key. */
const CREATE_CHILD_LUA = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'queued', 1)
redis.call('HINCRBY', KEYS[2], 'listed', 1)
return 1`;

/**
 * Claims an output name of a prefix batch for one source key: KEYS[1] the batch's names hash; ARGV = source key,
 * TTL seconds, highest numeric suffix, then (name, folded name) pairs in order of preference. The first candidate
 * that is free or already this key's is taken (a retried page gets the same name again); when all are taken by
 * other keys, `<last>_2`, `<last>_3`, … Returns the name, or false when even the suffixes ran out.
 */
const CLAIM_NAME_LUA = `
local owner = ARGV[1]
local function claim(folded)
  if redis.call('HSETNX', KEYS[1], folded, owner) == 1 then return true end
  return redis.call('HGET', KEYS[1], folded) == owner
end
local chosen = false
for i = 4, #ARGV, 2 do
  if claim(ARGV[i + 1]) then chosen = ARGV[i]; break end
end
if not chosen then
  local last, lastFolded = ARGV[#ARGV - 1], ARGV[#ARGV]
  for n = 2, tonumber(ARGV[3]) do
    if claim(lastFolded .. '_' .. n) then chosen = last .. '_' .. n; break end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return chosen`;

/** Bound of the `_n` suffixes CLAIM_NAME_LUA tries (per key: a page of 1000 keys stays well within a second). */
const MAX_NAME_SUFFIX = 1000;

export class OutputNameExhaustedError extends Error {
  readonly code = 'OUTPUT_NAME_EXHAUSTED';
  readonly retryable = false;
}

type CasRedis = Redis & {
  v2lClaimName(namesKey: string, owner: string, ttlSeconds: number, maxSuffix: number, ...candidates: string[]): Promise<string | null>;
  v2lCas(key: string, countsKey: string, expected: string, next: string, from: string, to: string): Promise<number>;
  v2lCreateChild(key: string, countsKey: string, record: string, ttlSeconds: number): Promise<number>;
};

/** The terminal statuses (libs/jobs/src/lifecycle.ts), here too for the code that imported them from the store. */
export { ENDED };

export class RecordConflictError extends Error {
  readonly code = 'RECORD_CONFLICT';
  readonly retryable = true;
}

export interface RecordStoreConfig {
  QUEUE_PREFIX: string;
  /** how long records are kept; updates keep the TTL set at creation */
  RECORD_TTL_SECONDS: number;
}

export class RecordStore {
  readonly prefix: string;
  /** how long records are kept (RECORD_TTL_SECONDS); updates keep the TTL set at creation */
  readonly ttlSeconds: number;
  private readonly redis: CasRedis;

  /** `casAttempts`: how often an update reads again after a concurrent write before RecordConflictError */
  constructor(
    redis: Redis,
    config: RecordStoreConfig,
    private readonly casAttempts = 50,
  ) {
    this.prefix = config.QUEUE_PREFIX;
    this.ttlSeconds = config.RECORD_TTL_SECONDS;
    const commands = redis as unknown as Partial<CasRedis>;
    if (!commands.v2lCas) redis.defineCommand('v2lCas', { numberOfKeys: 2, lua: RECORD_CAS_LUA });
    if (!commands.v2lClaimName) redis.defineCommand('v2lClaimName', { numberOfKeys: 1, lua: CLAIM_NAME_LUA });
    if (!commands.v2lCreateChild) {
      redis.defineCommand('v2lCreateChild', { numberOfKeys: 2, lua: CREATE_CHILD_LUA });
    }
    this.redis = redis as unknown as CasRedis;
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
   * Optimistic update (another process may write the same record): read, let `mutate` decide (it returns the new
   * record, or undefined for "no change"; it may throw), write only if unchanged, else read again. Returns what
   * was written (`changed: true`) or the record as found; undefined when there is no record.
   * A write the lifecycle table does not allow (a status move it lacks, any rewrite of an ended record) throws
   * IllegalTransitionError: prefer `transition`, whose steps are the lifecycle's transition functions.
   */
  async updateConversion(
    id: string,
    mutate: (r: ConversionRecord) => Promise<ConversionRecord | undefined> | ConversionRecord | undefined,
  ): Promise<{ record: ConversionRecord; changed: boolean } | undefined> {
    const key = this.conversionKey(id);
    for (let attempt = 0; attempt < this.casAttempts; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const current = JSON.parse(raw) as ConversionRecord;
      const next = await mutate(current);
      if (!next) return { record: current, changed: false };
      assertMove(current, next);
      const countsKey = current.batchId ? batchKeys.counts(this.prefix, current.batchId) : key;
      const from = current.batchId ? current.status : '';
      if ((await this.redis.v2lCas(key, countsKey, raw, JSON.stringify(next), from, next.status)) === 1) {
        return { record: next, changed: true };
      }
    }
    throw new RecordConflictError(`conversion ${id} changed too often while updating it`);
  }

  /**
   * One lifecycle step (lifecycle.ts: claim, progress, complete, fail, requeue, requestCancel, cancel) by
   * compare-and-set: `step` gets the current record and returns the transition; a refusal writes nothing and is
   * returned as `refused` (the one of the last read). `changed` says whether this call wrote the record.
   */
  async transition(
    id: string,
    step: (r: ConversionRecord) => Promise<Transition> | Transition,
  ): Promise<{ record: ConversionRecord; changed: boolean; refused?: TransitionRefusal } | undefined> {
    let refused: TransitionRefusal | undefined;
    const out = await this.updateConversion(id, async (r) => {
      const t = await step(r);
      refused = t.ok ? undefined : t;
      return t.ok ? t.record : undefined;
    });
    return out && (out.changed || !refused ? out : { ...out, refused });
  }

  /**
   * New prefix-batch child: the record plus `queued` and `listed` counters; false when it already exists (a retried
   * listing page), so a retry never counts a key twice.
   */
  async createChildConversion(record: ConversionRecord & { batchId: string }): Promise<boolean> {
    const created = await this.redis.v2lCreateChild(
      this.conversionKey(record.id),
      batchKeys.counts(this.prefix, record.batchId),
      JSON.stringify(record),
      this.ttlSeconds,
    );
    return created === 1;
  }

  /**
   * The output name of a key listed by a prefix batch: the first of `candidates` (prefixItemOutputCandidates) that
   * no other key of the batch has claimed. Claims are kept per batch (with the record TTL) and pages are listed one
   * after another in listing order, so the names are distinct across pages and the same for a retried page.
   */
  async claimOutputName(batchId: string, sourceKey: string, candidates: ReadonlyArray<{ name: string; folded: string }>): Promise<string> {
    const args = candidates.flatMap((c) => [c.name, c.folded]);
    const name = await this.redis.v2lClaimName(batchKeys.names(this.prefix, batchId), sourceKey, this.ttlSeconds, MAX_NAME_SUFFIX, ...args);
    if (!name) throw new OutputNameExhaustedError(`no free output name for ${sourceKey} in batch ${batchId}`);
    return name;
  }

  async recordBatchFailure(batchId: string, conversionId: string): Promise<void> {
    const key = batchKeys.failures(this.prefix, batchId);
    await this.redis.multi().lpush(key, conversionId).ltrim(key, 0, 999).expire(key, this.ttlSeconds).exec();
  }

  async getBatch(id: string): Promise<{ record: BatchRecord; counts: Record<string, number>; failures: string[] } | undefined> {
    return readBatch(this.redis, this.prefix, id);
  }

  async updateBatch(id: string, mutate: (r: BatchRecord) => BatchRecord | undefined): Promise<BatchRecord | undefined> {
    const key = redisKeys.batch(this.prefix, id);
    for (let attempt = 0; attempt < this.casAttempts; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const next = mutate(JSON.parse(raw) as BatchRecord);
      if (!next) return JSON.parse(raw) as BatchRecord;
      if ((await this.redis.v2lCas(key, key, raw, JSON.stringify(next), '', '')) === 1) return next;
    }
    throw new RecordConflictError(`batch ${id} changed too often while updating it`);
  }

  async getBatchCounter(batchId: string, field: string): Promise<number> {
    return Number.parseInt((await this.redis.hget(batchKeys.counts(this.prefix, batchId), field)) ?? '0', 10) || 0;
  }
}
