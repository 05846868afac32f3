import type { JobsOptions } from 'bullmq';
import type { ConvertOptions } from '@vid2live/livephoto/types';

/**
 * Queue names, payloads and options shared by the api (producer) and the worker (consumer).
 * The API validates and enqueues; the worker runs engine stages; nothing else talks to these queues.
 */
export const QUEUES = {
  conversions: 'conversions',
  batches: 'batches',
  webhooks: 'webhooks',
  /** the studio's previews (analysis, frames) of an uploaded video: short jobs, answered while a person waits */
  studio: 'studio',
} as const;

export type S3Source = { bucket: string; key: string };
export type UrlSource = { url: string };
export type ConversionSource = S3Source | UrlSource;
export interface OutputTarget {
  bucket: string;
  prefix: string;
}

export type ConversionStatus = 'queued' | 'active' | 'completed' | 'failed' | 'canceled';

/** Options accepted over HTTP (`keyFrame` may be "auto"). Same shape as the engine's. */
export type ConversionOptions = Pick<ConvertOptions, 'start' | 'duration' | 'keyFrame' | 'still' | 'motionPhoto' | 'profile' | 'codec'> & {
  /** also publish `<name>.pvt.zip` (libs/livephoto/src/share) */
  pvt?: boolean;
};

export interface ConversionJobData {
  conversionId: string;
  tenant: string;
  source: ConversionSource;
  output: OutputTarget;
  options: ConversionOptions;
  webhook?: { url: string };
  batchId?: string;
  /**
   * Output name without extension, relative to `output.prefix` (a prefix batch keeps the source's sub-folders).
   * Default: the source's base name without its extension.
   */
  outputBaseName?: string;
  /** also write the share files (zip, .pvt zip, browser previews): a studio conversion */
  share?: boolean;
  /** an item of a `livePhotoPairs` prefix batch (LivePhotoPairItem); `source` is its still (or its lone key) */
  livePhotoPair?: LivePhotoPairItem;
}

/**
 * A Live Photo pair found by a `livePhotoPairs` batch (libs/storage/src/live-photo-pairs.ts): the MOV beside the
 * still in `source` (same bucket) → one Google Motion Photo `<name>.MP.jpg|.MP.HEIC`; or a key without its other
 * half, which fails as PAIR_INCOMPLETE with `incomplete` as its message.
 */
export type LivePhotoPairItem = { movieKey: string } | { incomplete: string };

/**
 * The studio's preview work for an uploaded video (apps/api/src/studio → apps/worker/src/studio.processor.ts): its
 * analysis (the engine's curves and suggestion + a thumbnail strip + an H.264 playback proxy) or one frame as the
 * still would show it. Results go to object storage under `dir` (the video's folder in the tenant's studio area).
 */
export interface StudioJobBase {
  tenant: string;
  videoId: string;
  source: S3Source;
  /** `<studio prefix>videos/<id>/`: where the previews are written, in `source.bucket` */
  dir: string;
}
export type StudioJobData = (StudioJobBase & { kind: 'analyse' }) | (StudioJobBase & { kind: 'frame'; t: number; width: number; key: string });
/** A bad input is an answer, not a failed job (nothing to retry): the page shows the code and message. */
export type StudioJobResult = { ok: true } | { ok: false; error: { code: string; message: string } };
/** The files an analysis job writes under `dir`. */
export const STUDIO_FILES = { analysis: 'analysis.json', info: 'source-info.json', thumbnails: 'thumbnails.jpg', proxy: 'preview.mp4' } as const;

/** Parent job of a BullMQ flow; it completes when every child conversion has ended. */
export interface BatchJobData {
  batchId: string;
  tenant: string;
  webhook?: { url: string };
}

/** A prefix listing is expanded by a job of its own, page by page (never the whole listing in memory). */
export interface BatchExpandJobData {
  batchId: string;
  tenant: string;
  source: {
    bucket: string;
    prefix: string;
    continuationToken?: string;
    /** the prefix holds Live Photo pairs: each pair becomes one Motion Photo (LivePhotoPairItem) */
    livePhotoPairs?: boolean;
    /** pair batches: the previous page's keys that may pair with this page's (pairListedKeys `carry`) */
    carry?: string[];
  };
  output: OutputTarget;
  options: ConversionOptions;
  webhook?: { url: string };
  /** 0 for the job the API enqueues; the worker numbers the following pages (deterministic job ids) */
  page?: number;
}

export type WebhookEventType =
  | 'conversion.completed'
  | 'conversion.failed'
  | 'conversion.canceled'
  | 'batch.completed';

export interface WebhookDeliveryJobData {
  /** stable event id (`msg_…`), the `webhook-id` header; receivers dedupe on it */
  eventId: string;
  tenant: string;
  url: string;
  type: WebhookEventType;
  /** seconds since epoch when the event happened (the body's timestamp) */
  timestamp: string;
  data: unknown;
}

/** Where the API reads what the worker writes: one JSON record per conversion / batch in Redis. */
export const redisKeys = {
  conversion: (prefix: string, id: string) => `${prefix}:conversion:${id}`,
  batch: (prefix: string, id: string) => `${prefix}:batch:${id}`,
  idempotency: (prefix: string, tenant: string, key: string) => `${prefix}:idem:${tenant}:${key}`,
  webhookDelivery: (prefix: string, id: string) => `${prefix}:webhook-delivery:${id}`,
  /** pub/sub channel on which cancel requests are broadcast to every worker */
  cancelChannel: (prefix: string) => `${prefix}:cancel`,
  /** sorted set (score = ms of the first attempt) of a tenant's webhook event ids, newest last, for listing */
  webhookDeliveriesByTenant: (prefix: string, tenant: string) => `${prefix}:webhook-deliveries:${tenant}`,
};

/** Backoff type of conversion jobs: the worker picks the delay from the failure's code (conversionRetryDelay). */
export const CONVERSION_BACKOFF_TYPE = 'conversion';

/** Codes that mean "the source or storage cannot be reached right now": worth waiting minutes, not seconds. */
export const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['SOURCE_UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'TARGET_UNRESOLVABLE']);

/** How long an outage (UNAVAILABLE_CODES) is waited out: CONVERSION_OUTAGE_BACKOFF_MS / _MAX_MS (tests shorten them). */
export interface OutageBackoff {
  /** first wait; doubles per retry */
  baseMs: number;
  /** cap of one wait */
  maxMs: number;
}

/** Defaults: 15 s doubling, capped at 5 min (15, 30, 60, 120, 240, 300, 300 … s). */
export const DEFAULT_OUTAGE_BACKOFF: OutageBackoff = { baseMs: 15_000, maxMs: 300_000 };

/**
 * Attempts a conversion (or a listing page) gets, by the code of its latest failure. A source/storage outage gets
 * the job's full `attempts` (CONVERSION_ATTEMPTS: with the default outage backoff the retries span ~28 min, so an
 * outage of a few minutes delays jobs instead of failing them); any other transient fault (ffmpeg, a Redis blip)
 * keeps the old budget of 5, so a file that reliably breaks ffmpeg is not re-downloaded ten times.
 */
export const CONVERSION_ATTEMPTS = 10;
export const TRANSIENT_FAULT_ATTEMPTS = 5;

/** True when a failure with `code` after `attemptsMade + 1` attempts is the last one (no retry left for it). */
export function isLastAttempt(attemptsMade: number, jobAttempts: number | undefined, code: string | undefined): boolean {
  const budget = code && UNAVAILABLE_CODES.has(code) ? (jobAttempts ?? 1) : Math.min(jobAttempts ?? 1, TRANSIENT_FAULT_ATTEMPTS);
  return attemptsMade + 1 >= budget;
}

/**
 * Delay before retry n (1-based) of a conversion. A source/storage outage, throttling (S3 SlowDown, HTTP 429)
 * or a timeout waits base·2^(n-1), capped (defaults 15 s … 5 min, see DEFAULT_OUTAGE_BACKOFF) with ±10 % jitter
 * so throttled jobs do not return together; any other transient fault (ffmpeg, Redis blip) 2 s·2^(n-1) as before.
 */
export function conversionRetryDelay(
  attemptsMade: number,
  code: string | undefined,
  random = Math.random,
  outage: OutageBackoff = DEFAULT_OUTAGE_BACKOFF,
): number {
  const n = Math.max(0, attemptsMade - 1);
  if (code && UNAVAILABLE_CODES.has(code)) return Math.round(Math.min(outage.maxMs, outage.baseMs * 2 ** n) * (0.9 + 0.2 * random()));
  return 2_000 * 2 ** n;
}

export const conversionJobOptions: JobsOptions = {
  attempts: CONVERSION_ATTEMPTS,
  backoff: { type: CONVERSION_BACKOFF_TYPE, delay: 2_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** Listing a page of a prefix batch is S3 I/O: the same retry policy as a conversion (outages waited out). */
export const batchExpandJobOptions: JobsOptions = {
  attempts: CONVERSION_ATTEMPTS,
  backoff: { type: CONVERSION_BACKOFF_TYPE, delay: 2_000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** Backoff type the worker registers (BullMQ's built-in `exponential` has no cap). */
export const WEBHOOK_BACKOFF_TYPE = 'webhook';

/**
 * Delay before retry n (1-based) of a webhook: base·2^(n-1), capped, ±10 % jitter so a receiver that comes back
 * is not hit by every queued event in the same second. Defaults (5 s, cap 3 h, 20 attempts) span about a day.
 */
export function webhookRetryDelay(attemptsMade: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp * (0.9 + 0.2 * random()));
}

/** Options for a webhook delivery job (first delivery and replays alike). */
export function webhookJobOptions(cfg: { WEBHOOK_MAX_ATTEMPTS: number; WEBHOOK_BACKOFF_MS: number }): JobsOptions {
  return {
    attempts: cfg.WEBHOOK_MAX_ATTEMPTS,
    // `delay` is informational here: the worker's backoffStrategy for this type reads its own config.
    backoff: { type: WEBHOOK_BACKOFF_TYPE, delay: cfg.WEBHOOK_BACKOFF_MS },
    removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

/** The stable event id of a conversion's / batch's terminal event: a second attempt to send it dedupes. */
export function webhookEventId(subjectId: string, type: WebhookEventType): string {
  return `msg_${subjectId}.${type.split('.')[1]}`;
}

/** What the worker stores per event at `redisKeys.webhookDelivery` (the API replays from it). */
export interface WebhookDeliveryRecord extends WebhookDeliveryJobData {
  attempts: number;
  /** HTTP status of the last attempt, or null when it never got an answer */
  lastStatus: number | null;
  lastError?: string;
  lastAttemptAt?: string;
  deliveredAt: string | null;
  /** `delivering` while retries remain, `failed` when attempts ran out or the target is refused */
  state: 'pending' | 'delivered' | 'failed';
  createdAt: string;
}
