import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { configSecrets, scrubSecrets, type AppConfig } from '@vid2live/config';
import {
  QUEUES,
  batchExpandJobOptions,
  conversionJobOptions,
  isLastAttempt,
  type BatchExpandJobData,
  type BatchJobData,
  type ConversionJobData,
} from '@vid2live/jobs';
import { BATCH_COUNT_FIELDS, JOB_NAMES, type ConversionRecord } from '@vid2live/jobs/records';
import { batchParentJobOptions } from '@vid2live/jobs/submit';
import { batchCompletedEventData } from '@vid2live/jobs/webhook-deliveries';
import type { ObjectStorage } from '@vid2live/storage';
import { prefixItemOutputCandidates } from '@vid2live/storage/output-names';
import { pairListedKeys } from '@vid2live/storage/live-photo-pairs';
import { StorageScopePolicy } from '@vid2live/storage/scope';
import { classifyError, scrubbedError } from './errors';
import { RecordStore } from './record-store';
import { STORAGE, APP_CONFIG } from './tokens';
import { WebhookEvents } from './webhook-events';
import { WorkerQueues } from './queues';

export const LIST_PAGE_SIZE = 1000;

function withoutCarry(source: BatchExpandJobData['source']): BatchExpandJobData['source'] {
  const { carry: _carried, ...rest } = source;
  return rest;
}

/** `cnv_` + 26 base32 characters derived from (batch, key): a retried page re-adds the same ids, not new ones. */
export function childConversionId(batchId: string, key: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const h = createHash('sha256').update(`${batchId}\0${key}`).digest();
  let s = '';
  for (let i = 0; i < 26; i++) s += alphabet[h[i] & 31];
  return `cnv_${s}`;
}

/**
 * Prefix batches as a BullMQ flow that is built page by page:
 *
 *   batch (parent, QUEUES.batches, jobId = batchId)
 *     ├─ batch-expand page 0 ── lists ≤ 1000 keys, adds them as children of the parent, then adds page 1 as a child
 *     ├─ convert × 1000                 (ignoreDependencyOnFailure: a failed child does not fail the batch)
 *     ├─ batch-expand page 1 ── …
 *     └─ …
 *
 * The parent stays in waiting-children while any page or conversion is pending, because each page adds the next
 * page before it completes. The API enqueues a root `batch-expand` job (no parent); it only creates the parent
 * with page 0 as its first child. Nothing ever holds more than one page of keys.
 */
@Injectable()
export class BatchProcessor {
  private readonly log = new Logger('batch');
  /** keys per listing page (and per expand job); tests lower it to exercise paging */
  pageSize = LIST_PAGE_SIZE;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
    private readonly records: RecordStore,
    private readonly queues: WorkerQueues,
    private readonly webhooks: WebhookEvents,
  ) {}

  async process(job: Job<BatchExpandJobData | BatchJobData>): Promise<unknown> {
    if (job.name === JOB_NAMES.expand) return this.expand(job as Job<BatchExpandJobData>);
    if (job.name === JOB_NAMES.batch) return this.complete(job as Job<BatchJobData>);
    throw new UnrecoverableError(`unknown job ${job.name} on ${QUEUES.batches}`);
  }

  private parentRef(batchId: string) {
    return { id: batchId, queue: `${this.queues.prefix}:${QUEUES.batches}` };
  }

  private async expand(job: Job<BatchExpandJobData>): Promise<unknown> {
    const data = job.data;
    const { batchId } = data;
    if (!job.parentKey) {
      // The root job from the API: create the flow parent with page 0 as its first child (idempotent by job ids).
      const record = await this.records.updateBatch(batchId, (r) => (r.status === 'queued' ? { ...r, status: 'active' } : undefined));
      // No record: the API rolled the batch back (its enqueue looked failed) or it expired; never list a prefix for it.
      if (!record) throw new UnrecoverableError(`BATCH_RECORD_MISSING: no record for ${batchId}`);
      await this.queues.flows.add({
        name: JOB_NAMES.batch,
        queueName: QUEUES.batches,
        data: { batchId, tenant: data.tenant, ...(data.webhook ? { webhook: data.webhook } : {}) } satisfies BatchJobData,
        opts: { ...batchParentJobOptions, jobId: batchId },
        children: [
          {
            name: JOB_NAMES.expand,
            queueName: QUEUES.batches,
            data: { ...data, page: 0 },
            opts: { ...batchExpandJobOptions, jobId: `${batchId}.page.0`, ignoreDependencyOnFailure: true },
          },
        ],
      });
      return { started: true };
    }

    const page = data.page ?? 0;
    try {
      // Defence in depth (the api checked at submit): the tenant may list this prefix and write to the output
      // prefix. Each listed key is checked again by its conversion (a `..` key fails alone, as INVALID_KEY).
      const scopes = new StorageScopePolicy(this.config.TENANT_STORAGE ?? new Map());
      scopes.assertAccess(data.tenant, 'read', { bucket: data.source.bucket, prefix: data.source.prefix }, 'source.prefix');
      scopes.assertAccess(data.tenant, 'write', { bucket: data.output.bucket, prefix: data.output.prefix }, 'output.prefix');
      const listing = await this.storage.listPage(data.source.bucket, data.source.prefix, data.source.continuationToken, this.pageSize);
      const parent = this.parentRef(batchId);
      const now = new Date().toISOString();
      const children: Array<{ name: string; data: ConversionJobData; opts: object }> = [];
      const add = async (key: string, extra: Pick<ConversionJobData, 'livePhotoPair'> = {}, named = true): Promise<void> => {
        const id = childConversionId(batchId, key);
        const rel = key.slice(data.source.prefix.length).replace(/^\/+/, '');
        // Distinct across pages: `x.mp4` listed after `x.mov` keeps its extension (claimed per batch in Redis).
        const outputBaseName = named ? await this.records.claimOutputName(batchId, key, prefixItemOutputCandidates(rel)) : undefined;
        const jobData: ConversionJobData = {
          conversionId: id,
          tenant: data.tenant,
          source: { bucket: data.source.bucket, key },
          output: data.output,
          options: data.options ?? {},
          ...(data.webhook ? { webhook: data.webhook } : {}),
          batchId,
          ...(outputBaseName ? { outputBaseName } : {}),
          ...extra,
        };
        const record: ConversionRecord & { batchId: string } = {
          id,
          tenant: data.tenant,
          status: 'queued',
          progress: { stage: 'queued', percent: 0 },
          request: {
            source: jobData.source,
            output: data.output,
            options: data.options,
            ...(data.webhook ? { webhook: data.webhook } : {}),
            ...extra,
          },
          batchId,
          createdAt: now,
        };
        await this.records.createChildConversion(record);
        children.push({
          name: JOB_NAMES.convert,
          data: jobData,
          opts: { ...conversionJobOptions, jobId: id, parent, ignoreDependencyOnFailure: true },
        });
      };
      // Outputs written under the source prefix must not become inputs of the same batch.
      const isOwnOutput = (key: string) => data.output.bucket === data.source.bucket && Boolean(data.output.prefix) && key.startsWith(data.output.prefix);
      const listed = listing.objects.map((o) => o.key).filter((key) => !key.endsWith('/') && !isOwnOutput(key));
      let carry: string[] | undefined;
      if (data.source.livePhotoPairs) {
        // Each Live Photo pair is one item (its still's key names it); a pair straddling two pages is carried over.
        const paired = pairListedKeys(data.source.carry ?? [], listed, Boolean(listing.continuationToken));
        carry = paired.carry;
        for (const item of paired.items) {
          if (item.kind === 'pair') await add(item.still, { livePhotoPair: { movieKey: item.movie } });
          else await add(item.key, { livePhotoPair: { incomplete: item.reason } }, false);
        }
      } else {
        for (const key of listed) await add(key);
      }
      if (children.length) await this.queues.conversions.addBulk(children);

      if (listing.continuationToken) {
        // Added before this page completes: the parent always has a pending child until the listing ends.
        const next: BatchExpandJobData = {
          ...data,
          source: { ...withoutCarry(data.source), continuationToken: listing.continuationToken, ...(carry?.length ? { carry } : {}) },
          page: page + 1,
        };
        await this.queues.batches.add(JOB_NAMES.expand, next, {
          ...batchExpandJobOptions,
          jobId: `${batchId}.page.${page + 1}`,
          parent,
          ignoreDependencyOnFailure: true,
        });
      } else {
        const total = await this.records.getBatchCounter(batchId, 'listed');
        await this.records.updateBatch(batchId, (r) => ({ ...r, total }));
      }
      this.log.log(`batch ${batchId} page ${page}: ${children.length} conversions${listing.continuationToken ? ', more to list' : ', listing done'}`);
      return { page, added: children.length, more: Boolean(listing.continuationToken) };
    } catch (e) {
      const info = classifyError(e);
      info.message = scrubSecrets(info.message, configSecrets(this.config));
      const final = !info.retryable || isLastAttempt(job.attemptsMade, job.opts.attempts, info.code);
      if (!final) throw scrubbedError(e, info.message, configSecrets(this.config));
      // The listing cannot go on: the batch completes with what was listed so far, and says why.
      const total = await this.records.getBatchCounter(batchId, 'listed');
      await this.records.updateBatch(batchId, (r) => ({
        ...r,
        total,
        error: { code: info.code, message: `listing page ${page} failed: ${info.message}` },
      }));
      throw new UnrecoverableError(`${info.code}: ${info.message}`);
    }
  }

  /** The flow parent runs once every child has ended: mark the batch completed and send `batch.completed`. */
  private async complete(job: Job<BatchJobData>): Promise<unknown> {
    const { batchId } = job.data;
    const found = await this.records.getBatch(batchId);
    if (!found) throw new UnrecoverableError(`BATCH_RECORD_MISSING: no record for ${batchId}`);
    const counts = Object.fromEntries(BATCH_COUNT_FIELDS.map((f) => [f, Math.max(0, found.counts[f] ?? 0)]));
    const finishedAt = new Date().toISOString();
    let changed = false;
    const record = await this.records.updateBatch(batchId, (r) => {
      if (r.status === 'completed') return undefined;
      changed = true;
      return {
        ...r,
        status: 'completed',
        // An items batch knows its total from the start; a prefix batch's is set by its last page.
        total: r.total ?? (found.counts['listed'] ?? 0),
        finishedAt,
      };
    });
    if (!record) throw new UnrecoverableError(`BATCH_RECORD_MISSING: no record for ${batchId}`);
    const webhookUrl = job.data.webhook?.url ?? record.webhook?.url;
    if (webhookUrl && (changed || record.status === 'completed')) {
      // The same body the API's GET (and its make-up emit of a lost event) builds: batchCompletedEventData.
      const failed = found.failures.length ? await Promise.all(found.failures.map((id) => this.records.getConversion(id))) : [];
      await this.webhooks.emit({
        subjectId: batchId,
        tenant: record.tenant,
        url: webhookUrl,
        type: 'batch.completed',
        data: batchCompletedEventData({ ...found, record: { ...record, finishedAt: record.finishedAt ?? finishedAt } }, failed),
      });
    }
    this.log.log(`batch ${batchId} completed: ${JSON.stringify(counts)}`);
    return { counts };
  }
}
