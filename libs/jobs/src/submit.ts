import { randomBytes } from 'node:crypto';
import type { FlowJobNode, FlowProducer, Queue } from 'bullmq';
import type Redis from 'ioredis';
import {
  QUEUES,
  batchExpandJobOptions,
  conversionJobOptions,
  redisKeys,
  type BatchExpandJobData,
  type BatchJobData,
  type ConversionJobData,
  type ConversionOptions,
  type ConversionSource,
  type OutputTarget,
} from './index';
import { JOB_NAMES, batchKeys, type BatchRecord, type ConversionRecord, type ConversionRequest } from './records';

/**
 * The one submit path: what the API does after it has validated and authorised a request, and what tests that
 * stand in for the API call. Record first (a worker that picks the job up must find it), then the job; when the
 * job cannot be added, the records written are deleted again, so nothing half-made stays visible. The caller
 * frees its Idempotency-Key after that (the error is rethrown).
 */
export interface SubmitTarget {
  /** the connection the records are written with (may be the one the queues share) */
  redis: Redis;
  /** QUEUE_PREFIX */
  prefix: string;
  /** RECORD_TTL_SECONDS: every record written here expires */
  ttlSeconds: number;
  conversions: Queue;
  batches: Queue;
  /** needed by items batches only (a BullMQ flow) */
  flows?: FlowProducer;
}

/** `cnv_…` / `bat_…`: 26 base32 characters of randomness; never an integer and never a ':' (BullMQ job ids). */
export function newId(kind: 'cnv' | 'bat'): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(26);
  let s = '';
  for (const b of bytes) s += alphabet[b & 31];
  return `${kind}_${s}`;
}

/** A fresh `queued` record; `outputBaseName` when the output is not named after the source (batch items). */
export function newConversionRecord(
  tenant: string,
  request: ConversionRequest,
  batchId?: string,
  outputBaseName?: string,
): ConversionRecord {
  return {
    id: newId('cnv'),
    tenant,
    status: 'queued',
    progress: { stage: 'queued', percent: 0 },
    request,
    ...(batchId ? { batchId } : {}),
    createdAt: new Date().toISOString(),
    ...(outputBaseName ? { outputBaseName } : {}),
  };
}

/** The payload of a conversion's job, derived from its record (the two never disagree). */
export function conversionJobData(record: ConversionRecord): ConversionJobData {
  const { source, output, options, webhook, share } = record.request;
  return {
    conversionId: record.id,
    tenant: record.tenant,
    source,
    output,
    options: options ?? {},
    ...(webhook ? { webhook } : {}),
    ...(record.batchId ? { batchId: record.batchId } : {}),
    ...(record.outputBaseName ? { outputBaseName: record.outputBaseName } : {}),
    ...(share ? { share: true } : {}),
  };
}

/** Writes the record (with its TTL) and enqueues its job (`jobId` = the conversion id); rolls back on failure. */
export async function enqueueConversion(target: SubmitTarget, record: ConversionRecord): Promise<void> {
  const key = redisKeys.conversion(target.prefix, record.id);
  try {
    await target.redis.set(key, JSON.stringify(record), 'EX', target.ttlSeconds);
    await target.conversions.add(JOB_NAMES.convert, conversionJobData(record), { ...conversionJobOptions, jobId: record.id });
  } catch (e) {
    // An add whose reply was lost may have enqueued the job: remove it too (best effort), or a worker would run a
    // conversion the API reported as failed (it would stop at the missing record, but not waste a slot on it).
    await target.conversions.remove(record.id).catch(() => undefined);
    await target.redis.del(key).catch(() => undefined);
    throw e;
  }
}

export interface BatchRequest<S> {
  source: S;
  output: OutputTarget;
  options?: ConversionOptions;
  webhook?: { url: string };
}
export type PrefixSource = { bucket: string; prefix: string; livePhotoPairs?: boolean };
export type ItemsSource = { items: ConversionSource[] };

/** Job options of the flow parent of an items batch. */
export const batchParentJobOptions = { removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 30 * 24 * 3600 } };

function batchBase(id: string, tenant: string, request: BatchRequest<unknown>) {
  return {
    id,
    tenant,
    status: 'queued' as const,
    output: request.output,
    ...(request.options ? { options: request.options } : {}),
    ...(request.webhook ? { webhook: request.webhook } : {}),
    createdAt: new Date().toISOString(),
    finishedAt: null,
  };
}

/** Runs `write` (which lists every key it writes in `written` before writing it); deletes them if it throws. */
async function withRollback(redis: Redis, write: (written: string[]) => Promise<void>): Promise<void> {
  const written: string[] = [];
  try {
    await write(written);
  } catch (e) {
    if (written.length) await redis.del(...written).catch(() => undefined);
    throw e;
  }
}

/**
 * A prefix batch: its record and zeroed counters, then one root `batch-expand` job that lists the first page (the
 * worker enqueues the next page itself, so 100 000 keys are never held in memory or in one job payload at once).
 */
export async function enqueuePrefixBatch(target: SubmitTarget, id: string, tenant: string, request: BatchRequest<PrefixSource>): Promise<void> {
  const { prefix, ttlSeconds: ttl, redis } = target;
  await withRollback(redis, async (written) => {
    const record: BatchRecord = { ...batchBase(id, tenant, request), kind: 'prefix', total: null, source: request.source };
    written.push(redisKeys.batch(prefix, id), batchKeys.counts(prefix, id));
    await redis
      .multi()
      .set(redisKeys.batch(prefix, id), JSON.stringify(record), 'EX', ttl)
      .hset(batchKeys.counts(prefix, id), { queued: 0, active: 0, completed: 0, failed: 0, canceled: 0 })
      .expire(batchKeys.counts(prefix, id), ttl)
      .exec();
    const data: BatchExpandJobData = {
      batchId: id,
      tenant,
      source: {
        bucket: request.source.bucket,
        prefix: request.source.prefix,
        ...(request.source.livePhotoPairs ? { livePhotoPairs: true } : {}),
      },
      output: request.output,
      options: request.options ?? {},
      ...(request.webhook ? { webhook: request.webhook } : {}),
    };
    try {
      await target.batches.add(JOB_NAMES.expand, data, { ...batchExpandJobOptions, jobId: `${id}.expand.0` });
    } catch (e) {
      // a lost reply may hide an enqueued job; the worker also refuses to expand a batch without its record
      await target.batches.remove(`${id}.expand.0`).catch(() => undefined);
      throw e;
    }
  });
}

/**
 * An items batch: its record, counters (`queued` = total) and every child's record, then one BullMQ flow (the
 * parent completes when every child has ended). `outputNames[i]` is item i's output name: distinct per item
 * (`batchItemOutputNames` of libs/storage; libs/jobs does not depend on it). Returns the children's records.
 */
export async function enqueueItemsBatch(
  target: SubmitTarget,
  id: string,
  tenant: string,
  request: BatchRequest<ItemsSource>,
  outputNames: readonly string[],
): Promise<ConversionRecord[]> {
  const { prefix, ttlSeconds: ttl, redis } = target;
  if (!target.flows) throw new Error('enqueueItemsBatch needs a FlowProducer (SubmitTarget.flows)');
  const flows = target.flows;
  const items = request.source.items;
  if (outputNames.length !== items.length) throw new Error(`${outputNames.length} output names for ${items.length} items`);
  const names = outputNames;
  const base = batchBase(id, tenant, request);
  const children = items.map((source, i) =>
    newConversionRecord(tenant, { source, output: request.output, options: request.options, webhook: request.webhook }, id, names[i]),
  );
  await withRollback(redis, async (written) => {
    const record: BatchRecord = { ...base, kind: 'items', total: items.length, source: { items: items.length } };
    written.push(redisKeys.batch(prefix, id), batchKeys.counts(prefix, id), ...children.map((c) => redisKeys.conversion(prefix, c.id)));
    const multi = redis
      .multi()
      .set(redisKeys.batch(prefix, id), JSON.stringify(record), 'EX', ttl)
      .hset(batchKeys.counts(prefix, id), { queued: items.length, active: 0, completed: 0, failed: 0, canceled: 0 })
      .expire(batchKeys.counts(prefix, id), ttl);
    for (const c of children) multi.set(redisKeys.conversion(prefix, c.id), JSON.stringify(c), 'EX', ttl);
    await multi.exec();

    // A failed child must not hold the parent in waiting-children forever, hence ignoreDependencyOnFailure.
    const parent: BatchJobData = { batchId: id, tenant, ...(request.webhook ? { webhook: request.webhook } : {}) };
    await flows.add({
      name: JOB_NAMES.batch,
      queueName: QUEUES.batches,
      data: parent,
      opts: { jobId: id, ...batchParentJobOptions },
      children: children.map(
        (c): FlowJobNode => ({
          name: JOB_NAMES.convert,
          queueName: QUEUES.conversions,
          data: conversionJobData(c),
          opts: { ...conversionJobOptions, jobId: c.id, ignoreDependencyOnFailure: true },
        }),
      ),
    });
  });
  return children;
}
