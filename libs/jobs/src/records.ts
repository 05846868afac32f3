import type Redis from 'ioredis';
import type { PlanWarning } from '@vid2live/livephoto/types';
import type { ConversionOptions, ConversionSource, ConversionStatus, LivePhotoPairItem, OutputTarget } from './index';
import { redisKeys } from './index';

/**
 * The JSON records the API writes at submit and the worker updates as a job moves on
 * (`redisKeys.conversion` / `redisKeys.batch`). The API's GET bodies are views of these records.
 */
export interface ObjectRef {
  bucket: string;
  key: string;
}

export interface ConversionRequest {
  source: ConversionSource;
  output: OutputTarget;
  options?: ConversionOptions;
  webhook?: { url: string };
  /**
   * Also write the share files beside the pair (NAME.zip, NAME.pvt.zip and the browser previews of
   * libs/livephoto/src/share): set by the studio (`/studio`), never by a `/v1` request body.
   */
  share?: boolean;
  /** an item of a `livePhotoPairs` batch: the MOV beside the still in `source` (or why it has none) */
  livePhotoPair?: LivePhotoPairItem;
}

export interface ConversionRecord {
  id: string;
  tenant: string;
  status: ConversionStatus;
  /** `stage` is an engine StageName, or `queued` before a worker has picked the job up */
  progress: { stage: string; percent: number };
  request: ConversionRequest;
  batchId?: string;
  /**
   * Output name (relative to `request.output.prefix`, without extension) when it is not the source's base name:
   * set for the items of a batch (`batchItemOutputNames`: clashing names get distinct keys).
   */
  outputBaseName?: string;
  /**
   * A Live Photo conversion has `still` + `video` (+ `motionPhoto`); a Live Photo pair → Motion Photo item of a
   * `livePhotoPairs` batch has only `motionPhoto`, the pair's own identifier (absent when the pair has none) and
   * the still's time in its video (absent when the pair does not say).
   */
  result?: {
    contentIdentifier?: string;
    /** seconds from the start of the MOV (of the Motion Photo's video for a pair item) */
    stillTime?: number;
    still?: ObjectRef;
    video?: ObjectRef;
    motionPhoto?: ObjectRef;
    warnings: PlanWarning[];
    /** the clip's place in the source, seconds (absent in records written before it was kept) */
    clip?: { start: number; duration: number };
    width?: number;
    height?: number;
    reasons?: string[];
    /** the share files of a `share` conversion (libs/livephoto/src/share), by role */
    share?: Partial<Record<'zip' | 'pvt' | 'preview' | 'stillPreview', ObjectRef>>;
  };
  error?: { code: string; message: string };
  /** the last transient failure, kept while the job waits for its retry (lifecycle `requeue`) */
  lastError?: { code: string; message: string };
  /** ISO 8601 */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string | null;
  /** set by DELETE while the job is active; the API also PUBLISHes the id on `redisKeys.cancelChannel` */
  cancelRequestedAt?: string;
}

export type BatchStatus = 'queued' | 'active' | 'completed';

export interface BatchRecord {
  id: string;
  tenant: string;
  /** `items`: a BullMQ flow created at submit; `prefix`: expanded page by page by a BatchExpandJobData job */
  kind: 'items' | 'prefix';
  status: BatchStatus;
  /** null while a prefix is still being listed; the expander sets it when the last page is done */
  total: number | null;
  output: OutputTarget;
  options?: ConversionOptions;
  webhook?: { url: string };
  source: { bucket: string; prefix: string; livePhotoPairs?: boolean } | { items: number };
  createdAt: string;
  finishedAt?: string | null;
}

/** Counter fields of the `batchKeys.counts` hash; a child moving queued → active does HINCRBY -1 / +1. */
export const BATCH_COUNT_FIELDS = ['queued', 'active', 'completed', 'failed', 'canceled'] as const;
export type BatchCounts = Record<(typeof BATCH_COUNT_FIELDS)[number], number>;

export const batchKeys = {
  /** hash of BATCH_COUNT_FIELDS; written by the API (items: queued = total) and the worker (transitions) */
  counts: (prefix: string, batchId: string) => `${prefix}:batch:${batchId}:counts`,
  /** list of failed conversion ids (LPUSH + LTRIM to the newest 1000) for the batch summary */
  failures: (prefix: string, batchId: string) => `${prefix}:batch:${batchId}:failures`,
  /**
   * hash of a prefix batch's claimed output names: case-folded name → the source key that owns it, so keys on
   * different listing pages never share output keys (RecordStore.claimOutputName in the worker)
   */
  names: (prefix: string, batchId: string) => `${prefix}:batch:${batchId}:names`,
};

/** Job names used on the queues (BullMQ routes by queue; the name tells processors of one queue apart). */
export const JOB_NAMES = {
  convert: 'convert',
  /** parent of an items batch flow, in QUEUES.batches */
  batch: 'batch',
  /** a BatchExpandJobData job, in QUEUES.batches */
  expand: 'batch-expand',
  deliver: 'deliver',
} as const;

export interface ObjectView extends ObjectRef {
  /** presigned GET */
  url: string;
}

/** The conversion GET body (and webhook `data`), exactly as the contract states it. */
export interface ConversionView {
  id: string;
  status: ConversionStatus;
  progress: { stage: string; percent: number };
  /** see ConversionRecord.result: `still` + `video` for a Live Photo, only `motionPhoto` for a pair item */
  result?: {
    contentIdentifier?: string;
    stillTime?: number;
    still?: ObjectView;
    video?: ObjectView;
    motionPhoto?: ObjectView;
    /** with `options.pvt`: the pair as a zipped NAME.pvt/ package */
    pvt?: ObjectView;
    warnings: PlanWarning[];
  };
  error?: { code: string; message: string };
  createdAt: string;
  finishedAt: string | null;
}

/** Record → GET body; `presign` makes each result URL at the moment of the view (API read, webhook send). */
export async function conversionView(r: ConversionRecord, presign: (o: ObjectRef) => Promise<string>): Promise<ConversionView> {
  const sign = async (o: ObjectRef): Promise<ObjectView> => ({ bucket: o.bucket, key: o.key, url: await presign(o) });
  return {
    id: r.id,
    status: r.status,
    progress: { stage: r.progress?.stage ?? 'queued', percent: r.progress?.percent ?? 0 },
    ...(r.result
      ? {
          result: {
            ...(r.result.contentIdentifier !== undefined ? { contentIdentifier: r.result.contentIdentifier } : {}),
            ...(r.result.stillTime !== undefined ? { stillTime: r.result.stillTime } : {}),
            ...(r.result.still ? { still: await sign(r.result.still) } : {}),
            ...(r.result.video ? { video: await sign(r.result.video) } : {}),
            ...(r.result.motionPhoto ? { motionPhoto: await sign(r.result.motionPhoto) } : {}),
            ...(r.result.share?.pvt ? { pvt: await sign(r.result.share.pvt) } : {}),
            warnings: r.result.warnings ?? [],
          },
        }
      : {}),
    ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    createdAt: r.createdAt,
    finishedAt: r.finishedAt ?? null,
  };
}

/**
 * Compare-and-set of a JSON record (KEYS[1]) with the batch counters (KEYS[2]) moved in the same atomic step:
 * ARGV = expected raw value, new raw value, from-status ('' = not a batch child), to-status. Returns 1 when
 * written, 0 when the record changed meanwhile (read again and retry). KEEPTTL keeps a TTL set by anyone.
 */
export const RECORD_CAS_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
if ARGV[3] ~= '' and ARGV[3] ~= ARGV[4] then
  redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
end
return 1`;

/** A batch as stored: its record, its raw counters (incl. internal ones like `listed`) and the newest 100 failures. */
export async function readBatch(
  redis: Redis,
  prefix: string,
  id: string,
): Promise<{ record: BatchRecord; counts: Record<string, number>; failures: string[] } | undefined> {
  const [[, raw], [, counts], [, failures]] = (await redis
    .multi()
    .get(redisKeys.batch(prefix, id))
    .hgetall(batchKeys.counts(prefix, id))
    .lrange(batchKeys.failures(prefix, id), 0, 99)
    .exec()) as [[null, string | null], [null, Record<string, string>], [null, string[]]];
  if (!raw) return undefined;
  const c: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) c[k] = Number.parseInt(v, 10) || 0;
  return { record: JSON.parse(raw) as BatchRecord, counts: c, failures };
}
