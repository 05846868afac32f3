import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import type { WebhookDeliveryJobData } from '@vid2live/jobs';
import { WebhookDeliveries, type DeliveryAttemptOutcome } from '@vid2live/jobs/webhook-deliveries';
import { webhookDeliveriesTotal } from '@vid2live/jobs/metrics';
import type { ObjectStorage } from '@vid2live/storage';
import { deliverWebhook, TargetForbiddenError, WebhookDeliveryError } from '@vid2live/webhooks';
import { APP_CONFIG, REDIS, STORAGE } from './tokens';
import { withFreshResultUrls } from './webhook-events';

/**
 * Delivers one event per job. Non-2xx and network errors throw so BullMQ retries with the capped exponential
 * backoff registered on this worker; a refused target is final. Each attempt updates the delivery record the API
 * lists and replays from (compare-and-set: replays and retries of one event may overlap).
 */
@Injectable()
export class WebhookProcessor {
  private readonly log = new Logger('webhook-delivery');
  private readonly deliveries: WebhookDeliveries;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) redis: Redis,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
  ) {
    this.deliveries = new WebhookDeliveries(redis, config.QUEUE_PREFIX, config.RECORD_TTL_SECONDS);
  }

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
      await this.record(job, { result: 'delivered', lastStatus: r.status });
      this.log.log(`delivered ${d.type} ${d.eventId} (HTTP ${r.status}, attempt ${attempt})`);
      return { status: r.status };
    } catch (e) {
      const refused = e instanceof TargetForbiddenError;
      const status = e instanceof WebhookDeliveryError ? (e.status ?? null) : null;
      webhookDeliveriesTotal.inc({ result: refused ? 'refused' : last ? 'failed' : 'retry' });
      await this.record(job, { result: refused || last ? 'failed' : 'retry', lastStatus: status, lastError: (e as Error).message });
      this.log.warn(`${d.type} ${d.eventId} attempt ${attempt} failed: ${(e as Error).message}`);
      if (refused) throw new UnrecoverableError(`${(e as TargetForbiddenError).code}: ${(e as Error).message}`);
      throw e;
    }
  }

  /**
   * Merges this attempt into the delivery record by compare-and-set: a replay job and a retry of the same event
   * may run at the same time, and neither may overwrite the other's attempt (WebhookDeliveries.recordAttempt).
   */
  private async record(job: Job<WebhookDeliveryJobData>, o: Omit<DeliveryAttemptOutcome, 'jobId'>): Promise<void> {
    await this.deliveries.recordAttempt(job.data, { ...o, jobId: String(job.id ?? job.data.eventId) });
  }
}
