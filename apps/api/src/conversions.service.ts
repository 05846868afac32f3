import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { redisKeys } from '@vid2live/jobs';
import { cancel, isEnded, requestCancel } from '@vid2live/jobs/lifecycle';
import { conversionView, type ConversionRecord, type ConversionView } from '@vid2live/jobs/records';
import { enqueueConversion, newConversionRecord } from '@vid2live/jobs/submit';
import { ApiError } from './errors';
import { Idempotency } from './idempotency';
import { Queues } from './infra.module';
import { RecordStore, assertIdShape } from './records.store';
import type { CreateConversionBody } from './schemas';
import { StorageGateway } from './storage.gateway';
import { StoragePolicy } from './storage-policy';
import { TargetPolicy } from './target-policy';
import { APP_CONFIG, REDIS } from './tokens';
import type { AppConfig } from '@vid2live/config';
import { webhookEventId, webhookJobOptions } from '@vid2live/jobs';
import { WebhookDeliveries, ensureTerminalConversionEvent, terminalConversionEvent } from '@vid2live/jobs/webhook-deliveries';

@Injectable()
export class ConversionsService {
  private readonly log = new Logger('conversions');
  private deliveries?: WebhookDeliveries;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly records: RecordStore,
    private readonly queues: Queues,
    private readonly storage: StorageGateway,
    private readonly targets: TargetPolicy,
    private readonly idempotency: Idempotency,
    private readonly scopes: StoragePolicy,
  ) {}

  async create(tenant: string, body: CreateConversionBody, idempotencyKey?: string): Promise<{ id: string; status: 'queued' }> {
    // Keys and the tenant's storage scope first: cheap, and a 400/403 must not depend on DNS.
    this.scopes.checkConversion(tenant, body);
    await this.targets.check(body.source, 'source.url');
    if (body.webhook) await this.targets.check(body.webhook, 'webhook.url');
    const record = newConversionRecord(tenant, body);
    if (idempotencyKey) {
      const owner = await this.idempotency.claim(tenant, 'conversions', idempotencyKey, record.id, body);
      if (!owner.fresh) return { id: owner.id, status: 'queued' };
    }

    try {
      // Record first, then the job; the record is deleted again when the job cannot be added.
      await enqueueConversion(this.queues.submitTarget, record);
    } catch (e) {
      // Nothing was queued: free the key so the client's retry can succeed.
      if (idempotencyKey) await this.idempotency.release(tenant, 'conversions', idempotencyKey, record.id);
      throw e;
    }
    return { id: record.id, status: 'queued' };
  }

  async get(tenant: string, id: string): Promise<ConversionView> {
    const record = await this.owned(tenant, id);
    await this.ensureTerminalEvent(record);
    return this.view(record);
  }

  /**
   * A terminal record that asked for a webhook but has no delivery record lost its event (the worker could not
   * write it on its last attempt): emit it now, idempotently (the event id is deterministic; the worker's handlers
   * do the same). Best effort: the GET answers regardless.
   */
  private async ensureTerminalEvent(record: ConversionRecord): Promise<void> {
    const type = terminalConversionEvent(record);
    if (!type || !record.request?.webhook?.url) return;
    try {
      this.deliveries ??= new WebhookDeliveries(this.redis, this.records.prefix, this.records.ttlSeconds);
      if (await this.deliveries.exists(webhookEventId(record.id, type))) return;
      const eventId = await ensureTerminalConversionEvent(this.deliveries, this.queues.webhooks, webhookJobOptions(this.config), record);
      if (eventId) this.log.warn(`queued the missing terminal webhook ${eventId}`);
    } catch (e) {
      this.log.warn(`could not check the terminal webhook of ${record.id}: ${(e as Error).message}`);
    }
  }

  /**
   * Queued (or waiting for a retry): the record becomes `canceled` at once and the worker that eventually pops
   * the job skips it (it also sends the webhook and settles the batch flow, so the job is left in the queue).
   * Active: the record notes the request and the id is PUBLISHed; the worker holding the job aborts (kills
   * ffmpeg) and writes `canceled`. The id is published in both cases, which closes the race with a worker that
   * takes the job between our read and our write.
   */
  async cancel(tenant: string, id: string): Promise<ConversionView> {
    await this.owned(tenant, id);
    const now = new Date();
    const updated = await this.records.transitionConversion(id, async (r) => {
      if (isEnded(r.status)) {
        throw new ApiError(409, 'CONFLICT', `the conversion has already ended (${r.status})`, { status: r.status });
      }
      const job = await this.queues.conversions.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      // Active in BullMQ: only note the request (a second DELETE changes nothing); the worker settles it.
      return state === 'active' ? requestCancel(r, now) : cancel(r, now, { markRequested: true });
    });
    if (!updated) throw ApiError.notFound('conversion');
    await this.redis.publish(redisKeys.cancelChannel(this.records.prefix), id);
    return this.view(updated);
  }

  private async owned(tenant: string, id: string): Promise<ConversionRecord> {
    assertIdShape(id, 'conversion');
    const record = await this.records.getConversion(id);
    // Another tenant's conversion is indistinguishable from a missing one.
    if (!record || record.tenant !== tenant) throw ApiError.notFound('conversion');
    return record;
  }

  /** Presigned at read time, so a URL is always fresh for PRESIGN_EXPIRES_SECONDS. */
  view(r: ConversionRecord): Promise<ConversionView> {
    return conversionView(r, (o) => this.storage.presignGet(o.bucket, o.key));
  }
}
