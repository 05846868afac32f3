import { Inject, Injectable, Logger } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { configSecrets, scrubSecrets, type AppConfig } from '@vid2live/config';
import { createRedis, watchRedisErrors } from '@vid2live/jobs/redis';
import { CONVERSION_BACKOFF_TYPE, QUEUES, WEBHOOK_BACKOFF_TYPE, conversionRetryDelay, webhookRetryDelay, type BatchJobData, type ConversionJobData } from '@vid2live/jobs';
import { JOB_NAMES } from '@vid2live/jobs/records';
import { BatchProcessor } from './batch.processor';
import { CancelListener } from './cancel-listener';
import { ConversionProcessor } from './conversion.processor';
import { classifyError } from './errors';
import { WorkerQueues } from './queues';
import { RecordStore } from './record-store';
import { RunningConversions } from './running-conversions';
import { StudioProcessor } from './studio.processor';
import { reapStaleTempDirs } from './temp-dirs';
import { APP_CONFIG } from './tokens';
import { WebhookEvents } from './webhook-events';
import { WebhookProcessor } from './webhook.processor';

/** What a deployment may tune beyond the validated env (tests shorten the stall timings). */
export interface WorkerTuning {
  /** how often workers look for jobs whose lock expired (a worker died); default WORKER_STALLED_INTERVAL_MS */
  stalledIntervalMs?: number;
  /** after a forced abort at the deadline, how long to wait for processors to put their jobs back */
  abortGraceMs?: number;
}

/**
 * Owns the three BullMQ workers. Plain `Worker`s rather than `@Processor` classes: their options (concurrency,
 * lockDuration) come from the validated config at start, and shutdown needs a deadline the Nest explorer lacks.
 */
@Injectable()
export class WorkerHost {
  private readonly log = new Logger('worker');
  private workers: Worker[] = [];
  private connection?: Redis;
  private shuttingDown?: Promise<void>;
  tuning: WorkerTuning = {};

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly conversions: ConversionProcessor,
    private readonly batches: BatchProcessor,
    private readonly webhooks: WebhookProcessor,
    private readonly running: RunningConversions,
    private readonly cancel: CancelListener,
    private readonly queues: WorkerQueues,
    private readonly records: RecordStore,
    private readonly events: WebhookEvents,
    private readonly studio: StudioProcessor,
  ) {}

  get conversionWorker(): Worker | undefined {
    return this.workers.find((w) => w.name === QUEUES.conversions);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    // What a killed predecessor on this host left: its temp dirs and the ffmpeg still writing into them.
    await reapStaleTempDirs({ log: (m) => this.log.warn(m) }).catch((e) => this.log.warn(`temp dir reaper: ${(e as Error).message}`));
    await this.cancel.start();
    // Workers need maxRetriesPerRequest: null (blocking commands); BullMQ duplicates this for its blocking client.
    const secrets = configSecrets(cfg);
    this.connection = createRedis(cfg.REDIS_URL, { maxRetriesPerRequest: null }, (m) => this.log.warn(m), 'redis', secrets);
    const base = { connection: this.connection, prefix: cfg.QUEUE_PREFIX };
    const stalledInterval = this.tuning.stalledIntervalMs ?? cfg.WORKER_STALLED_INTERVAL_MS;
    const outage = { baseMs: cfg.CONVERSION_OUTAGE_BACKOFF_MS, maxMs: cfg.CONVERSION_OUTAGE_BACKOFF_MAX_MS };

    const conversions = new Worker<ConversionJobData>(QUEUES.conversions, (job, token) => this.conversions.process(job, token), {
      ...base,
      concurrency: cfg.WORKER_CONCURRENCY,
      // CPU-heavy: the lock is renewed every lockDuration/2 by a timer, which a busy event loop may delay; a long
      // lock keeps a healthy job from being declared stalled, at the price of slower recovery from a dead worker.
      lockDuration: cfg.WORKER_LOCK_DURATION_MS,
      stalledInterval,
      // A job whose worker died is recovered (moved back to wait) this many times before it is failed.
      maxStalledCount: 2,
      settings: {
        // Minutes for an unreachable source/storage (SOURCE_UNAVAILABLE…), seconds for other transient faults.
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          conversionRetryDelay(attemptsMade, err ? classifyError(err).code : undefined, Math.random, outage),
      },
    });
    // Jobs that fail without our processor reporting it (stalled past maxStalledCount) still end in the record.
    conversions.on('failed', (job, err) => void this.onConversionFailed(job, err));
    // Whenever a job ends and its record is terminal, its terminal webhook exists (idempotent: the event id is
    // deterministic). Covers an emit that failed on the last attempt, after the record was written.
    conversions.on('completed', (job) => void this.ensureTerminalEvent(job));

    const batches = new Worker(QUEUES.batches, (job) => this.batches.process(job), {
      ...base,
      concurrency: 4,
      lockDuration: 60_000,
      stalledInterval,
      maxStalledCount: 2,
      settings: {
        // Listing pages are S3 I/O: an S3 outage is waited out like a conversion's (batchExpandJobOptions).
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) =>
          type === CONVERSION_BACKOFF_TYPE || type === undefined
            ? conversionRetryDelay(attemptsMade, err ? classifyError(err).code : undefined, Math.random, outage)
            : 2_000 * 2 ** Math.max(0, attemptsMade - 1),
      },
    });

    const webhooks = new Worker(QUEUES.webhooks, (job) => this.webhooks.process(job), {
      ...base,
      concurrency: 8,
      lockDuration: 60_000,
      stalledInterval,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string) => {
          if (type === WEBHOOK_BACKOFF_TYPE) return webhookRetryDelay(attemptsMade, cfg.WEBHOOK_BACKOFF_MS, cfg.WEBHOOK_BACKOFF_MAX_MS);
          return cfg.WEBHOOK_BACKOFF_MS;
        },
      },
    });

    // A batch parent that failed after its record was completed (sending batch.completed failed): run the
    // idempotent completion once more so the event is emitted.
    batches.on('failed', (job) => void this.onBatchFailed(job));

    // The studio's previews: short jobs a person waits for (one at a time per worker: its source cache is in use).
    const studio = new Worker(QUEUES.studio, (job) => this.studio.process(job), {
      ...base,
      concurrency: 1,
      lockDuration: 120_000,
      stalledInterval,
      maxStalledCount: 1,
    });

    this.workers = [conversions, batches, webhooks, studio];
    // BullMQ's own connections (the blocking one is a duplicate, without our client's listener) report here.
    for (const w of this.workers) watchRedisErrors(w, (m) => this.log.error(m), w.name, secrets);
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.log.log(
      `processing ${this.workers.map((w) => w.name).join(', ')} (concurrency ${cfg.WORKER_CONCURRENCY}, lock ${cfg.WORKER_LOCK_DURATION_MS} ms)`,
    );
  }

  private async onConversionFailed(job: Job<ConversionJobData> | undefined, err: Error): Promise<void> {
    if (!job) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) return;
    const stalled = /stalled/i.test(err.message);
    try {
      // No-op when the processor already recorded the failure (the record has ended).
      await this.conversions.markFailed(job.data.conversionId, {
        code: stalled ? 'JOB_STALLED' : 'INTERNAL',
        message: scrubSecrets(err.message, configSecrets(this.config)),
      });
    } catch (e) {
      this.log.error(`recording the failure of ${job.id}: ${(e as Error).message}`);
    }
    await this.ensureTerminalEvent(job);
  }

  private async ensureTerminalEvent(job: Job<ConversionJobData> | undefined): Promise<void> {
    if (!job?.data?.conversionId || !job.data.webhook) return;
    try {
      const record = await this.records.getConversion(job.data.conversionId);
      if (record) await this.events.ensureTerminal(record);
    } catch (e) {
      this.log.error(`making sure ${job.data.conversionId} has its terminal webhook: ${scrubSecrets((e as Error).message, configSecrets(this.config))}`);
    }
  }

  private async onBatchFailed(job: Job | undefined): Promise<void> {
    if (!job || job.name !== JOB_NAMES.batch || !(job.data as BatchJobData)?.batchId) return;
    try {
      await this.batches.process(job as Job<BatchJobData>);
    } catch (e) {
      this.log.error(`completing batch ${(job.data as BatchJobData).batchId} after its job failed: ${scrubSecrets((e as Error).message, configSecrets(this.config))}`);
    }
  }

  /**
   * Graceful stop: no new jobs; running ones get until the deadline to finish. Past it, running conversions are
   * aborted (ffmpeg killed, uploads aborted) and put back in the queue as delayed jobs without spending an
   * attempt, so no half-written output is left and another worker redoes them. Then connections close.
   */
  shutdown(deadlineMs = this.config.WORKER_SHUTDOWN_TIMEOUT_MS): Promise<void> {
    this.shuttingDown ??= this.doShutdown(deadlineMs);
    return this.shuttingDown;
  }

  private async doShutdown(deadlineMs: number): Promise<void> {
    const started = Date.now();
    this.log.log(`shutting down: waiting up to ${deadlineMs} ms for ${this.running.size} running conversion(s)`);
    const closing = Promise.allSettled(this.workers.map((w) => w.close()));
    if (!(await settlesWithin(closing, deadlineMs))) {
      const n = this.running.abortAll('shutdown');
      this.log.warn(`deadline reached: aborted ${n} conversion(s); they go back to the queue`);
      if (!(await settlesWithin(closing, this.tuning.abortGraceMs ?? 10_000))) {
        this.log.error('workers did not stop after the abort; forcing close (their jobs will be recovered as stalled)');
        await Promise.allSettled(this.workers.map((w) => w.close(true)));
      }
    }
    await this.cancel.stop();
    await this.queues.close();
    const conn = this.connection;
    this.connection = undefined;
    if (conn) await conn.quit().catch(() => conn.disconnect());
    this.log.log(`stopped in ${Date.now() - started} ms`);
  }
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
