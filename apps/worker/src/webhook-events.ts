import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import { webhookJobOptions, type WebhookEventType } from '@vid2live/jobs';
import type { ConversionRecord } from '@vid2live/jobs/records';
import { WebhookDeliveries, conversionEventData, ensureTerminalConversionEvent } from '@vid2live/jobs/webhook-deliveries';
import { WorkerQueues } from './queues';
import { APP_CONFIG, REDIS } from './tokens';

/**
 * Turns a terminal state into a webhook delivery job. The event id is derived from the subject and the event type,
 * and is the job id too: emitting the same event twice (a re-run after a stall, the failed/completed handlers, the
 * API noticing a terminal record without its event) enqueues it once. Records and the tenant index are written
 * with a TTL by the shared WebhookDeliveries (libs/jobs).
 */
@Injectable()
export class WebhookEvents {
  private readonly log = new Logger('webhooks');
  readonly deliveries: WebhookDeliveries;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) redis: Redis,
    private readonly queues: WorkerQueues,
  ) {
    this.deliveries = new WebhookDeliveries(redis, config.QUEUE_PREFIX, config.RECORD_TTL_SECONDS);
  }

  async emitConversion(record: ConversionRecord, type: WebhookEventType): Promise<string | undefined> {
    const url = record.request?.webhook?.url;
    if (!url) return undefined;
    // Object references only: the delivery job and record live in Redis for up to a day, and a presigned URL is a
    // bearer credential that would also be dead by the last retry. The webhook processor presigns at send time.
    const data = await conversionEventData(record);
    return this.emit({ subjectId: record.id, tenant: record.tenant, url, type, data });
  }

  /** The record's terminal event, if it has ended and asked for a webhook (idempotent; see WebhookDeliveries.emit). */
  async ensureTerminal(record: ConversionRecord): Promise<string | undefined> {
    const id = await ensureTerminalConversionEvent(this.deliveries, this.queues.webhooks, webhookJobOptions(this.config), record);
    if (id) this.log.log(`queued the missing terminal event ${id} for ${record.id}`);
    return id;
  }

  async emit(e: { subjectId: string; tenant: string; url: string; type: WebhookEventType; data: unknown }): Promise<string> {
    const { eventId, enqueued } = await this.deliveries.emit(this.queues.webhooks, webhookJobOptions(this.config), e);
    if (enqueued) this.log.log(`queued ${e.type} ${eventId} for ${e.subjectId}`);
    return eventId;
  }
}

const RESULT_OBJECTS = ['still', 'video', 'motionPhoto'] as const;

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
