import { randomBytes } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type Redis from 'ioredis';
import {
  redisKeys,
  webhookEventId,
  type WebhookDeliveryJobData,
  type WebhookDeliveryRecord,
  type WebhookEventType,
} from './index';
import { BATCH_COUNT_FIELDS, JOB_NAMES, RECORD_CAS_LUA, conversionView, type BatchRecord, type ConversionRecord } from './records';

/**
 * The one owner of webhook delivery records (`redisKeys.webhookDelivery`) and of the per-tenant delivery index
 * (`redisKeys.webhookDeliveriesByTenant`), used by the worker (emit, delivery attempts) and the API (replay, and
 * emitting a terminal event that is missing).
 *
 * - Every key it writes has a TTL (RECORD_TTL_SECONDS, like the conversion records): `noeviction` never fills up
 *   with deliveries. The index is trimmed of entries older than the TTL each time it grows.
 * - Emitting is idempotent: the event id is derived from the subject and the type (`webhookEventId`) and is the
 *   BullMQ job id of the first delivery, so any number of emitters (the processor, the worker's failed/completed
 *   handlers, the API when it sees a terminal record) send one event.
 * - Updates are compare-and-set (RECORD_CAS_LUA): a replay job and an in-flight retry of the same event both
 *   update the record without losing the other's attempt. Each delivery job (the first one, and each replay: a new
 *   job id, same `webhook-id`) keeps its own state in `jobs`; the record's `state` is derived from them
 *   (`delivered` once any job delivered, else `pending` while any job has attempts left, else `failed`).
 */

/** The narrow part of a BullMQ Queue the emitter needs (the api's and the worker's `webhooks` queue). */
export interface WebhookQueue {
  add(name: string, data: WebhookDeliveryJobData, opts: JobsOptions): Promise<unknown>;
}

export type DeliveryJobState = 'pending' | 'delivered' | 'failed';

/** A delivery record with the per-job states (absent in records written before they existed). */
export type StoredDelivery = WebhookDeliveryRecord & { jobs?: Record<string, DeliveryJobState> };

/** How many job entries a record keeps (the first job and the latest replays); older settled ones are dropped. */
const MAX_JOB_ENTRIES = 20;

type CasRedis = Redis & {
  v2lCas(key: string, countsKey: string, expected: string, next: string, from: string, to: string): Promise<number>;
};

export class DeliveryConflictError extends Error {
  readonly code = 'DELIVERY_RECORD_CONFLICT';
  readonly retryable = true;
}

/** Derives the record's `state` from its jobs; `delivered` is sticky (a replay that fails does not undo it). */
export function deliveryState(r: Pick<StoredDelivery, 'deliveredAt' | 'state' | 'jobs'>): DeliveryJobState {
  if (r.deliveredAt) return 'delivered';
  const states = Object.values(r.jobs ?? {});
  if (!states.length) return r.state;
  if (states.includes('delivered')) return 'delivered';
  return states.includes('pending') ? 'pending' : 'failed';
}

function withJob(r: StoredDelivery, jobId: string, state: DeliveryJobState): StoredDelivery {
  const jobs = { ...(r.jobs ?? {}), [jobId]: state };
  const ids = Object.keys(jobs);
  // Bounded: drop the oldest settled entries (insertion order), never a pending one or this job's.
  for (const id of ids) {
    if (Object.keys(jobs).length <= MAX_JOB_ENTRIES) break;
    if (id !== jobId && jobs[id] !== 'pending') delete jobs[id];
  }
  const next = { ...r, jobs };
  return { ...next, state: deliveryState(next) };
}

export interface DeliveryAttemptOutcome {
  /** the BullMQ job id of the attempt (the event id for the first delivery, `<event>.replay.<…>` for replays) */
  jobId: string;
  result: 'delivered' | 'retry' | 'failed';
  lastStatus: number | null;
  lastError?: string;
}

export class WebhookDeliveries {
  private readonly redis: CasRedis;

  constructor(
    redis: Redis,
    readonly prefix: string,
    /** TTL of every key written here (RECORD_TTL_SECONDS) */
    readonly ttlSeconds: number,
  ) {
    if (!(redis as unknown as Partial<CasRedis>).v2lCas) redis.defineCommand('v2lCas', { numberOfKeys: 2, lua: RECORD_CAS_LUA });
    this.redis = redis as CasRedis;
  }

  key(eventId: string): string {
    return redisKeys.webhookDelivery(this.prefix, eventId);
  }

  async get(eventId: string): Promise<StoredDelivery | undefined> {
    const raw = await this.redis.get(this.key(eventId));
    return raw ? (JSON.parse(raw) as StoredDelivery) : undefined;
  }

  async exists(eventId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(eventId))) === 1;
  }

  /**
   * Writes the record unless one exists (NX, with the TTL) and indexes it for the tenant (the index's TTL is
   * pushed out, entries older than the TTL dropped). Returns the record as stored: the new one or the earlier one.
   */
  async create(record: StoredDelivery, now = Date.now()): Promise<{ record: StoredDelivery; created: boolean }> {
    const index = redisKeys.webhookDeliveriesByTenant(this.prefix, record.tenant);
    const res = await this.redis
      .multi()
      .set(this.key(record.eventId), JSON.stringify(record), 'EX', this.ttlSeconds, 'NX')
      .get(this.key(record.eventId))
      .zadd(index, 'NX', now, record.eventId)
      .zremrangebyscore(index, '-inf', now - this.ttlSeconds * 1000)
      .expire(index, this.ttlSeconds)
      .exec();
    if (!res) throw new Error('webhook delivery: transaction aborted');
    for (const [err] of res) if (err) throw err;
    const created = res[0][1] === 'OK';
    const raw = res[1][1] as string | null;
    return { record: raw ? (JSON.parse(raw) as StoredDelivery) : record, created };
  }

  /** Compare-and-set update; `mutate` returns undefined for "no change". KEEPTTL: the creation TTL holds. */
  async update(eventId: string, mutate: (r: StoredDelivery) => StoredDelivery | undefined): Promise<StoredDelivery | undefined> {
    const key = this.key(eventId);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const next = mutate(JSON.parse(raw) as StoredDelivery);
      if (!next) return JSON.parse(raw) as StoredDelivery;
      if ((await this.redis.v2lCas(key, key, raw, JSON.stringify(next), '', '')) === 1) return next;
    }
    throw new DeliveryConflictError(`webhook delivery ${eventId} changed too often while updating it`);
  }

  /**
   * One attempt's result, merged into whatever the record holds now (another job of the same event may have
   * written since this one read it). A record that expired or was never written is created from the job.
   */
  async recordAttempt(d: WebhookDeliveryJobData, o: DeliveryAttemptOutcome, at = new Date()): Promise<StoredDelivery> {
    const iso = at.toISOString();
    const apply = (prev: StoredDelivery): StoredDelivery => {
      const jobState: DeliveryJobState = o.result === 'retry' ? 'pending' : o.result;
      const next: StoredDelivery = {
        ...prev,
        attempts: prev.attempts + 1,
        lastStatus: o.lastStatus,
        lastAttemptAt: iso,
        // A replay after a success must not erase when it was first delivered.
        deliveredAt: prev.deliveredAt ?? (o.result === 'delivered' ? iso : null),
      };
      if (o.result === 'delivered') delete next.lastError;
      else if (o.lastError !== undefined) next.lastError = o.lastError;
      return withJob(next, o.jobId, jobState);
    };
    for (let i = 0; i < 3; i++) {
      const updated = await this.update(d.eventId, apply);
      if (updated) return updated;
      const fresh: StoredDelivery = { ...d, attempts: 0, lastStatus: null, deliveredAt: null, state: 'pending', createdAt: iso, jobs: {} };
      const { created } = await this.create(fresh, at.getTime());
      if (created) continue; // now it exists: apply the attempt to it
    }
    throw new DeliveryConflictError(`webhook delivery ${d.eventId}: the record could not be written`);
  }

  /**
   * Emits an event at most once: creates its record (NX) and enqueues its first delivery under the event id.
   * When a record exists already, the job is (re-)added only while the record says it was never attempted — the
   * emitter that created the record may have died between the two writes; BullMQ ignores an add whose job id
   * exists, so this never sends twice.
   */
  async emit(
    queue: WebhookQueue,
    jobOptions: JobsOptions,
    e: { subjectId: string; tenant: string; url: string; type: WebhookEventType; data: unknown },
    now = new Date(),
  ): Promise<{ eventId: string; enqueued: boolean }> {
    const eventId = webhookEventId(e.subjectId, e.type);
    const job: WebhookDeliveryJobData = {
      eventId,
      tenant: e.tenant,
      url: e.url,
      type: e.type,
      timestamp: String(Math.floor(now.getTime() / 1000)),
      data: e.data,
    };
    const fresh: StoredDelivery = {
      ...job,
      attempts: 0,
      lastStatus: null,
      deliveredAt: null,
      state: 'pending',
      createdAt: now.toISOString(),
      jobs: { [eventId]: 'pending' },
    };
    const { record, created } = await this.create(fresh, now.getTime());
    if (!created && (record.attempts > 0 || record.state !== 'pending')) return { eventId, enqueued: false };
    // The stored job data (its timestamp, its data) is what goes out, whoever wrote the record first.
    const stored: WebhookDeliveryJobData = {
      eventId,
      tenant: record.tenant,
      url: record.url,
      type: record.type,
      timestamp: record.timestamp,
      data: record.data,
    };
    await queue.add(JOB_NAMES.deliver, stored, { ...jobOptions, jobId: eventId });
    return { eventId, enqueued: true };
  }

  /**
   * Replays an event: a new delivery job (a new job id, the same `webhook-id`) registered in the record as
   * pending. The job is added first; the registration does not overwrite what the job may already have written.
   */
  async replay(queue: WebhookQueue, jobOptions: JobsOptions, record: StoredDelivery): Promise<string> {
    const jobId = `${record.eventId}.replay.${Date.now()}.${randomBytes(3).toString('hex')}`;
    const data: WebhookDeliveryJobData = {
      eventId: record.eventId,
      tenant: record.tenant,
      url: record.url,
      type: record.type,
      timestamp: record.timestamp,
      data: record.data,
    };
    await queue.add(JOB_NAMES.deliver, data, { ...jobOptions, jobId });
    await this.update(record.eventId, (r) => (r.jobs?.[jobId] ? undefined : withJob(r, jobId, 'pending')));
    return jobId;
  }
}

/** The terminal event type of a conversion record, or undefined while it has not ended. */
export function terminalConversionEvent(r: Pick<ConversionRecord, 'status'>): WebhookEventType | undefined {
  if (r.status === 'completed' || r.status === 'failed' || r.status === 'canceled') return `conversion.${r.status}`;
  return undefined;
}

/** `data` of a conversion event: the GET body with result objects as `{ bucket, key }` (presigned at send time). */
export async function conversionEventData(record: ConversionRecord): Promise<unknown> {
  return withoutResultUrls(await conversionView(record, async () => ''));
}

/** The view with `result.{still,video,motionPhoto}` reduced to `{ bucket, key }`: what an event stores. */
export function withoutResultUrls<T extends { result?: object }>(view: T): T {
  if (!view.result) return view;
  const result: Record<string, unknown> = { ...view.result };
  for (const role of ['still', 'video', 'motionPhoto'] as const) {
    const o = result[role] as { bucket: string; key: string } | undefined;
    if (o) result[role] = { bucket: o.bucket, key: o.key };
  }
  return { ...view, result };
}

/**
 * Makes sure a terminal conversion has its terminal webhook: emits it (idempotently) when the record has ended,
 * asks for a webhook, and no delivery record exists. Returns the event id when it enqueued one.
 */
export async function ensureTerminalConversionEvent(
  deliveries: WebhookDeliveries,
  queue: WebhookQueue,
  jobOptions: JobsOptions,
  record: ConversionRecord,
): Promise<string | undefined> {
  const type = terminalConversionEvent(record);
  const url = record.request?.webhook?.url;
  if (!type || !url) return undefined;
  const r = await deliveries.emit(queue, jobOptions, {
    subjectId: record.id,
    tenant: record.tenant,
    url,
    type,
    data: await conversionEventData(record),
  });
  return r.enqueued ? r.eventId : undefined;
}

/** A batch as `readBatch` returns it (record, raw counters, newest failure ids). */
export interface StoredBatch {
  record: BatchRecord;
  counts: Record<string, number>;
  failures: string[];
}

/**
 * `data` of `batch.completed`: the batch GET body (counts never negative; failures with `{ code, message }`).
 * `failed` are the records of `batch.failures` that still exist, in that order.
 */
export function batchCompletedEventData(batch: StoredBatch, failed: ReadonlyArray<ConversionRecord | undefined>): unknown {
  const { record } = batch;
  const counts = Object.fromEntries(BATCH_COUNT_FIELDS.map((f) => [f, Math.max(0, batch.counts[f] ?? 0)]));
  const failures = failed
    .filter((r): r is ConversionRecord => r !== undefined)
    .map((r) => ({ id: r.id, source: r.request.source, ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}) }));
  const error = (record as BatchRecord & { error?: { code: string; message: string } }).error;
  return {
    id: record.id,
    status: 'completed',
    total: record.total ?? (batch.counts['listed'] ?? 0),
    counts,
    ...(failures.length ? { failures } : {}),
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
    createdAt: record.createdAt,
    finishedAt: record.finishedAt ?? null,
  };
}

/**
 * Makes sure a completed batch that asked for a webhook has its `batch.completed` event: emits it (idempotently:
 * the event id is `msg_<batch id>.completed`, the first delivery's job id) unless a delivery record exists.
 * `loadFailures` reads the failed children's records (only called when an event is actually emitted).
 * Returns the event id when it enqueued one.
 */
export async function ensureBatchCompletedEvent(
  deliveries: WebhookDeliveries,
  queue: WebhookQueue,
  jobOptions: JobsOptions,
  batch: StoredBatch,
  loadFailures: (ids: string[]) => Promise<ReadonlyArray<ConversionRecord | undefined>>,
): Promise<string | undefined> {
  const { record } = batch;
  const url = record.webhook?.url;
  if (record.status !== 'completed' || !url) return undefined;
  if (await deliveries.exists(webhookEventId(record.id, 'batch.completed'))) return undefined;
  const failed = batch.failures.length ? await loadFailures(batch.failures) : [];
  const r = await deliveries.emit(queue, jobOptions, {
    subjectId: record.id,
    tenant: record.tenant,
    url,
    type: 'batch.completed',
    data: batchCompletedEventData(batch, failed),
  });
  return r.enqueued ? r.eventId : undefined;
}
