import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../libs/config/src';
import { redisKeys, type WebhookDeliveryJobData, type WebhookDeliveryRecord } from '../../../libs/jobs/src';
import { webhookDeliveriesTotal } from '../../../libs/jobs/src/metrics';
import type { ObjectStorage } from '../../../libs/storage/src';
import { deliverWebhook, TargetForbiddenError, WebhookDeliveryError } from '../../../libs/webhooks/src';
import { APP_CONFIG, REDIS, STORAGE } from './tokens';
import { withFreshResultUrls } from './webhook-events';

/**
 * Delivers one event per job. Non-2xx and network errors throw so BullMQ retries with the capped exponential
 * backoff registered on this worker; a refused target is final. Each attempt updates the delivery record the API
 * lists and replays from.
 */
@Injectable()
export class WebhookProcessor {
  private readonly log = new Logger('webhook-delivery');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
  ) {}

  async process(job: Job<WebhookDeliveryJobData>): Promise<{ status: number }> {
    const d = job.data;
    const attempt = job.attemptsMade + 1;
    const last = attempt >= (job.opts.attempts ?? 1);
    try {
      // Result URLs are presigned now, at send time (the job holds object references): a retry or a replay hours
      // later carries live links, and no presigned URL is stored in Redis.
      const data = await withFreshResultUrls(d.data, (bucket, key) =>
        this.storage.presignGet(bucket, key, this.config.PRESIGN_EXPIRES_SECONDS),
      );
      const r = await deliverWebhook(
        d.url,
        { id: d.eventId, type: d.type, timestamp: d.timestamp, data },
        { secret: this.config.WEBHOOK_SECRET!, allowPrivate: this.config.WEBHOOK_ALLOW_PRIVATE_TARGETS },
      );
      webhookDeliveriesTotal.inc({ result: 'delivered' });
      await this.record(d, { lastStatus: r.status, state: 'delivered', deliveredAt: new Date().toISOString(), lastError: undefined });
      this.log.log(`delivered ${d.type} ${d.eventId} (HTTP ${r.status}, attempt ${attempt})`);
      return { status: r.status };
    } catch (e) {
      const refused = e instanceof TargetForbiddenError;
      const status = e instanceof WebhookDeliveryError ? (e.status ?? null) : null;
      webhookDeliveriesTotal.inc({ result: refused ? 'refused' : last ? 'failed' : 'retry' });
      await this.record(d, { lastStatus: status, lastError: (e as Error).message, state: refused || last ? 'failed' : 'pending' });
      this.log.warn(`${d.type} ${d.eventId} attempt ${attempt} failed: ${(e as Error).message}`);
      if (refused) throw new UnrecoverableError(`${(e as TargetForbiddenError).code}: ${(e as Error).message}`);
      throw e;
    }
  }

  /** Read-modify-write of the delivery record; one job per event runs at a time, so no CAS is needed. */
  private async record(d: WebhookDeliveryJobData, patch: Partial<WebhookDeliveryRecord>): Promise<void> {
    const key = redisKeys.webhookDelivery(this.config.QUEUE_PREFIX, d.eventId);
    const raw = await this.redis.get(key);
    const now = new Date().toISOString();
    const prev: WebhookDeliveryRecord = raw
      ? (JSON.parse(raw) as WebhookDeliveryRecord)
      : { ...d, attempts: 0, lastStatus: null, deliveredAt: null, state: 'pending', createdAt: now };
    const next: WebhookDeliveryRecord = {
      ...prev,
      ...patch,
      // A replay after a success must not erase when it was first delivered.
      deliveredAt: patch.deliveredAt ?? prev.deliveredAt,
      attempts: prev.attempts + 1,
      lastAttemptAt: now,
    };
    if (patch.state !== 'delivered' && prev.state === 'delivered') next.state = 'delivered';
    await this.redis.set(key, JSON.stringify(next), 'KEEPTTL');
  }
}
