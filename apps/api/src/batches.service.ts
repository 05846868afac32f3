import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { webhookJobOptions } from '@vid2live/jobs';
import { batchItemOutputNames } from '@vid2live/storage/output-names';
import { type BatchRecord, type BatchStatus } from '@vid2live/jobs/records';
import { enqueueItemsBatch, enqueuePrefixBatch, newId } from '@vid2live/jobs/submit';
import { WebhookDeliveries, ensureBatchCompletedEvent, type StoredBatch } from '@vid2live/jobs/webhook-deliveries';
import type { AppConfig } from '@vid2live/config';
import { ApiError } from './errors';
import { Idempotency } from './idempotency';
import { Queues } from './infra.module';
import { RecordStore, assertIdShape } from './records.store';
import type { CreateBatchBody } from './schemas';
import { StoragePolicy } from './storage-policy';
import { TargetPolicy } from './target-policy';
import { APP_CONFIG, REDIS } from './tokens';

export interface BatchView {
  id: string;
  status: BatchStatus;
  total: number | null;
  counts: { queued: number; active: number; completed: number; failed: number; canceled: number };
  /** only when some children failed: what `vid2live submit` prints in its summary */
  failures?: Array<{ id: string; source?: unknown; error?: { code: string; message: string } }>;
  /** a prefix listing that failed for good */
  error?: { code: string; message: string };
  createdAt: string;
  finishedAt: string | null;
}

/** Expanding a listing is I/O against S3: retried on transient faults like a conversion. */

@Injectable()
export class BatchesService {
  private readonly log = new Logger('batches');
  private deliveries?: WebhookDeliveries;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly records: RecordStore,
    private readonly queues: Queues,
    private readonly targets: TargetPolicy,
    private readonly idempotency: Idempotency,
    private readonly scopes: StoragePolicy,
  ) {}

  async create(tenant: string, body: CreateBatchBody, idempotencyKey?: string): Promise<{ id: string; total?: number }> {
    this.scopes.checkBatch(tenant, body);
    if (body.webhook) await this.targets.check(body.webhook, 'webhook.url');
    if ('items' in body.source) {
      for (const [i, source] of body.source.items.entries()) await this.targets.check(source, `source.items.${i}.url`);
    }
    const id = newId('bat');
    const total = 'items' in body.source ? { total: body.source.items.length } : {};
    if (idempotencyKey) {
      const owner = await this.idempotency.claim(tenant, 'batches', idempotencyKey, id, body);
      if (!owner.fresh) return { id: owner.id, ...total };
    }
    try {
      // Records first, then the job(s); the records written are deleted again when enqueueing fails.
      const target = this.queues.submitTarget;
      const { source } = body;
      if ('prefix' in source) await enqueuePrefixBatch(target, id, tenant, { ...body, source });
      // Every item gets its own output keys: names that clash keep their sub-path or get a suffix (documented).
      else await enqueueItemsBatch(target, id, tenant, { ...body, source }, batchItemOutputNames(source.items));
    } catch (e) {
      // Nothing half-made stays visible: the key is freed for the retry.
      if (idempotencyKey) await this.idempotency.release(tenant, 'batches', idempotencyKey, id);
      throw e;
    }
    return { id, ...total };
  }

  async get(tenant: string, id: string): Promise<BatchView> {
    assertIdShape(id, 'batch');
    const found = await this.records.getBatch(id);
    if (!found || found.record.tenant !== tenant) throw ApiError.notFound('batch');
    await this.ensureCompletedEvent(found);
    const { record, counts } = found;
    const started = record.status === 'active' || counts.active + counts.completed + counts.failed + counts.canceled > 0;
    // The worker marks the batch completed when its flow parent runs; before that, the counts tell the phase.
    const status: BatchStatus = record.status === 'completed' ? 'completed' : started ? 'active' : 'queued';
    // A prefix whose listing failed for good completes with what was listed, and says why.
    const error = (record as BatchRecord & { error?: { code: string; message: string } }).error;
    const failed = found.failures.length ? await this.records.getConversions(found.failures) : [];
    const failures = failed
      .filter((r) => r !== undefined)
      .map((r) => ({ id: r.id, source: r.request.source, ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}) }));
    return {
      id: record.id,
      status,
      total: record.total,
      counts,
      ...(failures.length ? { failures } : {}),
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
      createdAt: record.createdAt,
      finishedAt: record.finishedAt ?? null,
    };
  }

  /**
   * A completed batch that asked for a webhook but has no `batch.completed` delivery record lost its event (the
   * worker could not emit it, even from its failed handler): emit it now, idempotently (deterministic event id;
   * WebhookDeliveries.emit enqueues it at most once). Best effort: the GET answers regardless.
   */
  private async ensureCompletedEvent(batch: StoredBatch): Promise<void> {
    if (batch.record.status !== 'completed' || !batch.record.webhook?.url) return;
    try {
      this.deliveries ??= new WebhookDeliveries(this.redis, this.records.prefix, this.records.ttlSeconds);
      const eventId = await ensureBatchCompletedEvent(this.deliveries, this.queues.webhooks, webhookJobOptions(this.config), batch, (ids) =>
        this.records.getConversions(ids),
      );
      if (eventId) this.log.warn(`queued the missing batch webhook ${eventId}`);
    } catch (e) {
      this.log.warn(`could not check the batch webhook of ${batch.record.id}: ${(e as Error).message}`);
    }
  }
}
