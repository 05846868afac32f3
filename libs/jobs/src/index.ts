import type { JobsOptions } from 'bullmq';
import type { ConvertOptions } from '../../livephoto/src/types';

/**
 * Queue names, payloads and options shared by the api (producer) and the worker (consumer).
 * The API validates and enqueues; the worker runs engine stages; nothing else talks to these queues.
 */
export const QUEUES = {
  conversions: 'conversions',
  batches: 'batches',
  webhooks: 'webhooks',
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
export type ConversionOptions = Pick<ConvertOptions, 'start' | 'duration' | 'keyFrame' | 'still' | 'motionPhoto'>;

export interface ConversionJobData {
  conversionId: string;
  tenant: string;
  source: ConversionSource;
  output: OutputTarget;
  options: ConversionOptions;
  webhook?: { url: string };
  batchId?: string;
}

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
  source: { bucket: string; prefix: string; continuationToken?: string };
  output: OutputTarget;
  options: ConversionOptions;
  webhook?: { url: string };
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
};

export const conversionJobOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};
