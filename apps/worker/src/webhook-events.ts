import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../libs/config/src';
import {
  redisKeys,
  webhookEventId,
  webhookJobOptions,
  type WebhookDeliveryJobData,
  type WebhookDeliveryRecord,
  type WebhookEventType,
} from '../../../libs/jobs/src';
import { JOB_NAMES, conversionView, type ConversionRecord } from '../../../libs/jobs/src/records';
import type { ObjectStorage } from '../../../libs/storage/src';
import { WorkerQueues } from './queues';
import { APP_CONFIG, REDIS, STORAGE } from './tokens';

/**
 * Turns a terminal state into a webhook delivery job. The event id is derived from the subject and the event type,
 * and is the job id too: emitting the same event twice (a re-run after a stall) enqueues it once.
 */
@Injectable()
export class WebhookEvents {
  private readonly log = new Logger('webhooks');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
    private readonly queues: WorkerQueues,
  ) {}

  async emitConversion(record: ConversionRecord, type: WebhookEventType): Promise<string | undefined> {
    const url = record.request?.webhook?.url;
    if (!url) return undefined;
    // Object references only: the delivery job and record live in Redis for up to a day, and a presigned URL is a
    // bearer credential that would also be dead by the last retry. The webhook processor presigns at send time.
    const view = await conversionView(record, async () => '');
    const data = withoutResultUrls(view);
    return this.emit({ subjectId: record.id, tenant: record.tenant, url, type, data });
  }

  async emit(e: { subjectId: string; tenant: string; url: string; type: WebhookEventType; data: unknown }): Promise<string> {
    const eventId = webhookEventId(e.subjectId, e.type);
    const job: WebhookDeliveryJobData = {
      eventId,
      tenant: e.tenant,
      url: e.url,
      type: e.type,
      timestamp: String(Math.floor(Date.now() / 1000)),
      data: e.data,
    };
    const now = new Date();
    const record: WebhookDeliveryRecord = {
      ...job,
      attempts: 0,
      lastStatus: null,
      deliveredAt: null,
      state: 'pending',
      createdAt: now.toISOString(),
    };
    const prefix = this.config.QUEUE_PREFIX;
    // NX: a second emit of the same event keeps the first record (and its timestamp and attempts).
    await this.redis
      .multi()
      .set(redisKeys.webhookDelivery(prefix, eventId), JSON.stringify(record), 'NX')
      .zadd(redisKeys.webhookDeliveriesByTenant(prefix, e.tenant), 'NX', now.getTime(), eventId)
      .exec();
    await this.queues.webhooks.add(JOB_NAMES.deliver, job, { ...webhookJobOptions(this.config), jobId: eventId });
    this.log.log(`queued ${e.type} ${eventId} for ${e.subjectId}`);
    return eventId;
  }
}

const RESULT_OBJECTS = ['still', 'video', 'motionPhoto'] as const;

/** The view with `result.{still,video,motionPhoto}` reduced to `{ bucket, key }`. */
export function withoutResultUrls<T extends { result?: object }>(view: T): T {
  if (!view.result) return view;
  const result: Record<string, unknown> = { ...view.result };
  for (const role of RESULT_OBJECTS) {
    const o = result[role] as { bucket: string; key: string } | undefined;
    if (o) result[role] = { bucket: o.bucket, key: o.key };
  }
  return { ...view, result };
}

/** Fills `url` into each result object of an event's `data` with a fresh presigned GET, just before sending. */
export async function withFreshResultUrls(
  data: unknown,
  presign: (bucket: string, key: string) => Promise<string>,
): Promise<unknown> {
  const result = (data as { result?: Record<string, unknown> } | null)?.result;
  if (!result || typeof result !== 'object') return data;
  const out: Record<string, unknown> = { ...result };
  for (const role of RESULT_OBJECTS) {
    const o = out[role] as { bucket?: unknown; key?: unknown } | undefined;
    if (o && typeof o.bucket === 'string' && typeof o.key === 'string') {
      out[role] = { bucket: o.bucket, key: o.key, url: await presign(o.bucket, o.key) };
    }
  }
  return { ...(data as object), result: out };
}
