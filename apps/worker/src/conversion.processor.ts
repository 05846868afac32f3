import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { configSecrets, scrubSecrets, type AppConfig } from '@vid2live/config';
import { isLastAttempt, type ConversionJobData, type WebhookEventType } from '@vid2live/jobs';
import { cancel, claim, complete, fail, isEnded, requeue } from '@vid2live/jobs/lifecycle';
import { conversionsTotal } from '@vid2live/jobs/metrics';
import { LivePhotoError, outputWriteError } from '@vid2live/errors';
import type { ObjectStorage } from '@vid2live/storage';
import type { SourceReader } from '@vid2live/sources/source-reader';
import { runEngine, runPairEngine } from './conversion-engine';
import { applyScrub, sourceReaderFor, withSource, type Scrub } from './conversion-fetch';
import { assertStorageScope } from './conversion-names';
import { ProgressWriter } from './conversion-progress';
import { OutputPublisher, type PublishedResult } from './conversion-publish';
import { classifyError, scrubbedError, type ErrorInfo } from './errors';
import { RecordStore } from './record-store';
import { RunningConversions } from './running-conversions';
import { makeConversionTempDir } from './temp-dirs';
import { APP_CONFIG, STORAGE } from './tokens';
import { WebhookEvents } from './webhook-events';

export type ConversionOutcome = { status: 'completed' | 'failed' | 'canceled' | 'skipped'; code?: string };

/**
 * One conversion job through its lifecycle (libs/jobs/src/lifecycle.ts): claim → fetch (conversion-fetch.ts) →
 * engine (conversion-engine.ts) → publish (conversion-publish.ts) → complete, with progress (conversion-progress.ts)
 * on the way; a cancel, a failure or a shutdown at any point ends in `canceled`, `failed` or back in `queued`.
 * Every record write is a lifecycle transition by compare-and-set.
 */
@Injectable()
export class ConversionProcessor {
  private readonly log = new Logger('conversion');
  /** Every network read of a source (S3 or URL) goes through it; ffmpeg gets a local file or its loopback proxy. */
  private readonly sources: SourceReader;
  private readonly outputs: OutputPublisher;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORAGE) storage: ObjectStorage,
    private readonly records: RecordStore,
    private readonly running: RunningConversions,
    private readonly webhooks: WebhookEvents,
  ) {
    this.sources = sourceReaderFor(config, storage);
    this.outputs = new OutputPublisher(storage, this.log);
    if (config.SOURCE_TEST_PUBLIC_HOSTS.size) {
      this.log.warn(`SOURCE_TEST_PUBLIC_HOSTS is set (${[...config.SOURCE_TEST_PUBLIC_HOSTS].join(',')}): a test-only SSRF exemption`);
    }
  }

  async process(job: Job<ConversionJobData>, token?: string): Promise<ConversionOutcome> {
    const id = job.data.conversionId;
    const found = await this.records.getConversion(id);
    if (!found) {
      // The API writes the record before it enqueues; without it there is nothing to report to.
      throw new UnrecoverableError(`CONVERSION_RECORD_MISSING: no record for ${id}`);
    }
    if (found.status === 'canceled') {
      // Canceled while queued: the API wrote the state; the worker sends the event (once: the event id dedupes).
      await this.webhooks.emitConversion(found, 'conversion.canceled');
      return { status: 'canceled' };
    }
    if (isEnded(found.status)) {
      // A re-run of a job that already ended (it stalled, or sending its event failed): make sure the event went out;
      // the event id is the job id, so this never sends it twice.
      await this.webhooks.emitConversion(found, `conversion.${found.status as 'completed' | 'failed'}`);
      return { status: 'skipped' };
    }

    // Registered before we claim the job, so a cancel published from now on is seen; one published earlier
    // left `cancelRequestedAt` in the record, which the claim below reads.
    const run = this.running.start(id);
    let tmp: string;
    try {
      // Named after its owner (pid + start time): a later worker reaps it if this process dies (temp-dirs.ts).
      tmp = await makeConversionTempDir(id);
    } catch (e) {
      // Nothing claimed yet: forget the entry, and let BullMQ retry (a full disk is the host's fault, not the job's).
      this.running.end(id);
      throw outputWriteError(e, `cannot create a temp dir in ${os.tmpdir()}`) ?? e;
    }
    const progress = new ProgressWriter(job, this.records, id);
    // The presigned URL is a bearer credential: engine messages that quote it are rewritten to s3://bucket/key.
    const scrub: Scrub = new Map();
    try {
      const claimed = await this.records.transition(id, (r) => claim(r));
      const rec = claimed?.record;
      if (!rec) return { status: 'skipped' };
      if (rec.status === 'canceled' || (!isEnded(rec.status) && rec.cancelRequestedAt)) {
        return await this.finishCanceled(id);
      }
      if (isEnded(rec.status)) return { status: 'skipped' };

      const result = await this.convertAndPublish(job.data, tmp, run.signal, progress, scrub);
      await progress.flush();
      // The outputs are published; completing is a compare-and-set that a cancel accepted in the meantime wins.
      const done = await this.records.transition(id, (r) => complete(r, result));
      if (done?.refused?.reason === 'cancel-pending' || (done && !done.changed && done.record.status === 'canceled')) {
        // Canceled after the uploads: the pair must not stay behind a `canceled` record.
        await this.outputs.unpublish(result);
        return await this.finishCanceled(id);
      }
      if (!done || (!done.changed && done.record.status !== 'completed')) {
        // The record ended another way meanwhile (a stalled copy of this job failed it) or expired: a published pair
        // must not outlive a record that says it does not exist. (Already `completed` by a twin run: same keys, keep.)
        await this.outputs.unpublish(result);
        this.log.warn(`${id} ended as ${done?.record.status ?? 'missing'} while this run published; its outputs were removed`);
        return { status: 'skipped' };
      }
      if (done.changed) {
        conversionsTotal.inc({ result: 'completed', code: '' });
        await this.webhooks.emitConversion(done.record, 'conversion.completed');
      }
      const keys = [result.still, result.video, result.motionPhoto].filter((o) => o !== undefined).map((o) => o.key);
      this.log.log(`completed ${id} → s3://${job.data.output.bucket}/ ${keys.join(' + ')}`);
      return { status: 'completed' };
    } catch (e) {
      await progress.flush().catch(() => undefined);
      const reason = run.reason();
      if (reason === 'cancel') return await this.finishCanceled(id);
      if (reason === 'shutdown') {
        // Past the shutdown deadline: nothing was uploaded under a final key (uploads are aborted too). Put the
        // job back without spending an attempt; another worker (or this one, restarted) picks it up.
        await this.records.transition(id, (r) => requeue(r)).catch(() => undefined);
        if (token) {
          await job.moveToDelayed(Date.now() + 1_000, token);
          throw new DelayedError(`${id} interrupted by shutdown`);
        }
        throw e;
      }
      const info = classifyError(e);
      info.message = applyScrub(scrub, info.message);
      // Presigned URLs, credentials in URLs and configured secrets never reach the record, a log or BullMQ.
      info.message = scrubSecrets(info.message, configSecrets(this.config));
      return await this.handleFailure(job, info, e);
    } finally {
      this.running.end(id);
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** fetch → engine → publish; the cancel is looked up once more right before publishing. */
  private async convertAndPublish(
    data: ConversionJobData,
    tmp: string,
    signal: AbortSignal,
    progress: ProgressWriter,
    scrub: Scrub,
  ): Promise<PublishedResult> {
    // Defence in depth: the api checked this at submit; nothing is read or written before it holds here too.
    assertStorageScope(this.config, data);
    const publishing = {
      signal,
      progress,
      // Last look before publishing: a cancel whose message this worker missed is still in the record.
      beforePublish: async () => {
        if (!signal.aborted && (await this.records.getConversion(data.conversionId))?.cancelRequestedAt) {
          this.running.abort(data.conversionId, 'cancel');
        }
      },
    };
    if (data.livePhotoPair) {
      const pair = data.livePhotoPair;
      // a pair item's source is always an S3 key (the batch listed it)
      if (!('key' in data.source)) throw new LivePhotoError('PAIR_INCOMPLETE');
      if ('incomplete' in pair) throw new LivePhotoError('PAIR_INCOMPLETE', `s3://${data.source.bucket}/${data.source.key}: ${pair.incomplete}`);
      // Both halves are read whole (the engine takes the still's boxes and the MOV's tracks apart itself); the
      // engine's messages name them as the source reader does.
      const movie = { bucket: data.source.bucket, key: pair.movieKey };
      const opening = { signal, progress, scrub, whole: true };
      const result = await withSource(this.sources, data.source, { ...opening, workDir: path.join(tmp, 'still') }, (still, stillName) =>
        withSource(this.sources, movie, { ...opening, workDir: path.join(tmp, 'movie') }, (mov, movieName) =>
          runPairEngine(data, { still, movie: mov, names: { still: stillName, movie: movieName } }, tmp, signal),
        ),
      );
      return this.outputs.publishMotionPhoto(data, result, publishing);
    }
    const result = await withSource(this.sources, data.source, { workDir: tmp, signal, progress, scrub }, (input) =>
      runEngine(data, input, tmp, signal, progress),
    );
    return this.outputs.publish(data, result, publishing);
  }

  private async finishCanceled(id: string): Promise<ConversionOutcome> {
    const r = await this.records.transition(id, (rec) => cancel(rec));
    if (r?.record.status === 'canceled') {
      if (r.changed) conversionsTotal.inc({ result: 'canceled', code: 'CANCELED' });
      await this.webhooks.emitConversion(r.record, 'conversion.canceled');
    }
    this.log.log(`canceled ${id}`);
    return { status: 'canceled' };
  }

  /**
   * Final (bad input, or the last attempt): record `failed` + the event, then UnrecoverableError so BullMQ does not
   * retry. Transient with attempts left: rethrow, BullMQ retries with backoff; the record goes back to `queued`.
   */
  private async handleFailure(job: Job<ConversionJobData>, info: ErrorInfo, original: unknown): Promise<never> {
    const id = job.data.conversionId;
    const attempts = job.opts.attempts ?? 1;
    // An outage (SOURCE_/STORAGE_UNAVAILABLE) gets every attempt of the job; other transient faults fewer.
    const final = !info.retryable || isLastAttempt(job.attemptsMade, attempts, info.code);
    this.log.warn(`${id} attempt ${job.attemptsMade + 1}/${attempts} failed: ${info.code} ${info.message}${final ? ' (final)' : ''}`);
    if (!final) {
      await this.records.transition(id, (r) => requeue(r, info)).catch(() => undefined);
      // BullMQ stores the thrown message and stack (failedReason, stacktrace): scrubbed, never the original.
      throw scrubbedError(original, info.message, configSecrets(this.config));
    }
    await this.markFailed(id, info);
    throw new UnrecoverableError(`${info.code}: ${info.message}`);
  }

  /** Also used by the worker host for jobs that fail outside `process` (stalled too often). */
  async markFailed(id: string, info: { code: string; message: string }): Promise<void> {
    const r = await this.records.transition(id, (rec) => fail(rec, info));
    if (r?.changed && r.record.status === 'canceled') {
      // a cancel was pending: it wins (lifecycle `fail`), the failure stays as lastError
      conversionsTotal.inc({ result: 'canceled', code: 'CANCELED' });
      await this.webhooks.emitConversion(r.record, 'conversion.canceled');
      return;
    }
    if (r?.changed) {
      conversionsTotal.inc({ result: 'failed', code: info.code });
      if (r.record.batchId) await this.records.recordBatchFailure(r.record.batchId, id);
      await this.webhooks.emitConversion(r.record, 'conversion.failed' satisfies WebhookEventType);
    }
  }
}
