import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { configSecrets, scrubSecrets, type AppConfig } from '@vid2live/config';
import { isLastAttempt, type ConversionJobData, type WebhookEventType } from '@vid2live/jobs';
import { conversionsTotal, stageDuration } from '@vid2live/jobs/metrics';
import type { ConversionRecord, ObjectRef } from '@vid2live/jobs/records';
import { convertToLivePhoto } from '@vid2live/livephoto';
import { LivePhotoError, outputWriteError } from '@vid2live/errors';
import type { StageProgress } from '@vid2live/livephoto/types';
import type { ObjectStorage } from '@vid2live/storage';
import { outputTempKey } from '@vid2live/storage/output-names';
import { StorageScopePolicy, assertOutputName, defaultOutputName } from '@vid2live/storage/scope';
import { SourceReader } from '@vid2live/sources/source-reader';
import { classifyError, scrubbedError, type ErrorInfo } from './errors';
import { ENDED, RecordStore } from './record-store';
import { RunningConversions } from './running-conversions';
import { makeConversionTempDir } from './temp-dirs';
import { APP_CONFIG, STORAGE } from './tokens';
import { WebhookEvents } from './webhook-events';

/** A string to replace in error messages before they are stored or logged (presigned URL, temp path). */
interface Scrub {
  secret?: string;
  replacement?: string;
}

export type ConversionOutcome = { status: 'completed' | 'failed' | 'canceled' | 'skipped'; code?: string };

/** How often progress goes to Redis at most (the engine reports many times a second). */
const PROGRESS_WRITE_INTERVAL_MS = 500;

const CONTENT_TYPES: Record<string, string> = {
  '.JPG': 'image/jpeg',
  '.HEIC': 'image/heic',
  '.MOV': 'video/quicktime',
  '.MP.jpg': 'image/jpeg',
};

/** A stable upper-case UUID per conversion: a retried job writes the same Content Identifier into its pair. */
export function contentIdentifierFor(conversionId: string): string {
  const h = createHash('sha1').update(`vid2live:${conversionId}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex').toUpperCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * `<prefix><name>` of the outputs, without extension: what the job says (a batch item, a prefix batch's sub-path),
 * else the source's base name by the api's own rule (`defaultOutputName`, libs/storage).
 */
export function outputBaseName(data: ConversionJobData): string {
  return data.outputBaseName || defaultOutputName(data.source);
}

/** A file name safe for the local temp dir (the object key keeps the real name). */
function localName(base: string): string {
  return path.posix.basename(base).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '') || 'livephoto';
}

@Injectable()
export class ConversionProcessor {
  private readonly log = new Logger('conversion');
  /** Every network read of a source (S3 or URL) goes through it; ffmpeg gets a local file or its loopback proxy. */
  private readonly sources: SourceReader;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
    private readonly records: RecordStore,
    private readonly running: RunningConversions,
    private readonly webhooks: WebhookEvents,
  ) {
    this.sources = sourceReaderFor(config, storage);
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
    if (ENDED.has(found.status)) {
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
    const scrub: Scrub = {};
    try {
      const claimed = await this.records.updateConversion(id, (r) => {
        if (ENDED.has(r.status) || r.cancelRequestedAt) return undefined;
        return {
          ...r,
          status: 'active',
          progress: { stage: 'probe', percent: 0 },
          startedAt: r.startedAt ?? new Date().toISOString(),
        };
      });
      const rec = claimed?.record;
      if (!rec) return { status: 'skipped' };
      if (rec.status === 'canceled' || (!ENDED.has(rec.status) && rec.cancelRequestedAt)) {
        return await this.finishCanceled(id);
      }
      if (ENDED.has(rec.status)) return { status: 'skipped' };

      const result = await this.convertAndUpload(job.data, tmp, run.signal, progress, scrub);
      await progress.flush();
      // The outputs are published; completing is a compare-and-set that a cancel accepted in the meantime wins.
      let canceledLate = false;
      const done = await this.records.updateConversion(id, (r) => {
        canceledLate = !ENDED.has(r.status) && !!r.cancelRequestedAt;
        return ENDED.has(r.status) || canceledLate
          ? undefined
          : {
              ...r,
              status: 'completed',
              progress: { stage: 'done', percent: 100 },
              result,
              error: undefined,
              finishedAt: new Date().toISOString(),
            };
      });
      if (canceledLate || (done && !done.changed && done.record.status === 'canceled')) {
        // Canceled after the uploads: the pair must not stay behind a `canceled` record.
        await this.unpublish(result);
        return await this.finishCanceled(id);
      }
      if (done?.changed) {
        conversionsTotal.inc({ result: 'completed', code: '' });
        await this.webhooks.emitConversion(done.record, 'conversion.completed');
      }
      this.log.log(`completed ${id} → s3://${result.still.bucket}/${result.still.key} + ${result.video.key}`);
      return { status: 'completed' };
    } catch (e) {
      await progress.flush().catch(() => undefined);
      const reason = run.reason();
      if (reason === 'cancel') return await this.finishCanceled(id);
      if (reason === 'shutdown') {
        // Past the shutdown deadline: nothing was uploaded under a final key (uploads are aborted too). Put the
        // job back without spending an attempt; another worker (or this one, restarted) picks it up.
        await this.records
          .updateConversion(id, (r) => (r.status === 'active' ? { ...r, status: 'queued', progress: { stage: 'queued', percent: 0 } } : undefined))
          .catch(() => undefined);
        if (token) {
          await job.moveToDelayed(Date.now() + 1_000, token);
          throw new DelayedError(`${id} interrupted by shutdown`);
        }
        throw e;
      }
      const info = classifyError(e);
      if (scrub.secret) info.message = info.message.split(scrub.secret).join(scrub.replacement ?? '');
      // Presigned URLs, credentials in URLs and configured secrets never reach the record, a log or BullMQ.
      info.message = scrubSecrets(info.message, configSecrets(this.config));
      return await this.handleFailure(job, info, e);
    } finally {
      this.running.end(id);
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  private async convertAndUpload(
    data: ConversionJobData,
    tmp: string,
    signal: AbortSignal,
    progress: ProgressWriter,
    scrub: Scrub,
  ): Promise<NonNullable<ConversionRecord['result']>> {
    // Defence in depth: the api checked this at submit; nothing is read or written before it holds here too.
    this.assertStorageScope(data);
    // The source reader owns every network read of the source: S3 (one GET for a small object, ranged GETs
    // through a loopback proxy for a large one) and URLs (pinned DNS, each redirect hop re-checked, timeouts,
    // typed HTTP errors). ffmpeg only ever sees a local file or that proxy's 127.0.0.1 URL.
    const opened = await this.sources.open(data.source, {
      workDir: tmp,
      signal,
      onDownload: (percent) => progress.report({ stage: 'download', percent }),
    });
    // Errors name the source (s3://bucket/key, https://host/path), never the proxy URL or a worker's temp file.
    scrub.secret = opened.input;
    scrub.replacement = opened.name;
    let result: Awaited<ReturnType<typeof convertToLivePhoto>>;
    try {
      result = await this.convertSource(data, opened.input, tmp, signal, progress);
    } catch (e) {
      // ffmpeg saw a 503 or a cut connection from the proxy: report what the upstream really said.
      if (!signal.aborted && opened.failure()) throw opened.failure();
      throw e;
    } finally {
      await opened.close();
    }
    // ffmpeg may finish a clip from a source cut short: an upstream failure during the run is never a success.
    if (opened.failure()) throw opened.failure();
    return this.upload(data, result, signal, progress);
  }

  private convertSource(data: ConversionJobData, source: string, tmp: string, signal: AbortSignal, progress: ProgressWriter) {
    const base = outputBaseName(data);
    const local = localName(base);
    const outDir = path.join(tmp, 'out');
    return convertToLivePhoto(
      {
        source,
        outputDir: outDir,
        baseName: local,
        options: data.options,
        contentIdentifier: contentIdentifierFor(data.conversionId),
        workDir: tmp,
      },
      { signal, onProgress: (p) => progress.report(p) },
    );
  }

  private async upload(
    data: ConversionJobData,
    result: Awaited<ReturnType<typeof convertToLivePhoto>>,
    signal: AbortSignal,
    progress: ProgressWriter,
  ): Promise<NonNullable<ConversionRecord['result']>> {
    const base = outputBaseName(data);
    const local = localName(base);

    // Both files are complete on disk before the first byte goes up; each upload is atomic (single PUT or a
    // multipart upload that is aborted on failure), and the keys are deterministic so a retry overwrites.
    const files: Array<[string, 'video' | 'still' | 'motionPhoto']> = [
      [result.moviePath, 'video'],
      [result.stillPath, 'still'],
      ...(result.motionPhotoPath ? [[result.motionPhotoPath, 'motionPhoto'] as [string, 'motionPhoto']] : []),
    ];
    const sizes = await Promise.all(files.map(([f]) => fs.stat(f).then((s) => s.size)));
    const total = sizes.reduce((a, b) => a + b, 0) || 1;
    let done = 0;
    progress.report({ stage: 'upload', percent: 0 });
    const bucket = data.output.bucket;
    const outputs = files.map(([file, role]) => {
      const suffix = path.basename(file).slice(local.length);
      return { file, role, suffix, key: `${data.output.prefix}${base}${suffix}`, temp: outputTempKey(data.output.prefix, data.conversionId, suffix) };
    });
    const refs: Partial<Record<'video' | 'still' | 'motionPhoto', ObjectRef>> = {};
    // Every output goes up under a temporary key first; the final keys are written only once all of them are up
    // (a cancel or a failure between two uploads leaves no MOV without its still). Temporaries always go.
    const uploaded: string[] = [];
    try {
      for (const [i, o] of outputs.entries()) {
        uploaded.push(o.temp);
        await this.storage.putObjectFromFile(bucket, o.temp, o.file, {
          contentType: CONTENT_TYPES[o.suffix] ?? 'application/octet-stream',
          signal,
          onProgress: (n) => progress.report({ stage: 'upload', percent: Math.min(99, ((done + n) / total) * 100) }),
        });
        done += sizes[i];
      }
      // Last look before publishing: a cancel whose message this worker missed is still in the record.
      if (!signal.aborted && (await this.records.getConversion(data.conversionId))?.cancelRequestedAt) {
        this.running.abort(data.conversionId, 'cancel');
      }
      if (signal.aborted) throw new LivePhotoError('CANCELED');
      // Publish: server-side copies, all at once and not interrupted (a cancel from now on is settled by the
      // compare-and-set that completes the record, which then removes the published pair).
      const copied = await Promise.allSettled(outputs.map((o) => this.storage.copyObject(bucket, o.temp, o.key)));
      const failed = copied.find((c): c is PromiseRejectedResult => c.status === 'rejected');
      if (failed) {
        await Promise.all(outputs.map((o) => this.storage.deleteObject(bucket, o.key).catch(() => undefined)));
        throw failed.reason;
      }
      for (const o of outputs) refs[o.role] = { bucket, key: o.key };
    } finally {
      await Promise.all(uploaded.map((k) => this.storage.deleteObject(bucket, k).catch(() => undefined)));
    }
    progress.report({ stage: 'upload', percent: 100 });
    progress.endStage();

    return {
      contentIdentifier: result.contentIdentifier,
      stillTime: result.stillTime,
      still: refs.still!,
      video: refs.video!,
      ...(refs.motionPhoto ? { motionPhoto: refs.motionPhoto } : {}),
      warnings: result.warnings,
    };
  }

  /** Removes a published pair again (a cancel accepted after the uploads). Best effort: logged, never thrown. */
  private async unpublish(result: NonNullable<ConversionRecord['result']>): Promise<void> {
    const refs = [result.still, result.video, ...(result.motionPhoto ? [result.motionPhoto] : [])];
    await Promise.all(
      refs.map((r) =>
        this.storage.deleteObject(r.bucket, r.key).catch((e) => this.log.warn(`removing s3://${r.bucket}/${r.key}: ${(e as Error).message}`)),
      ),
    );
  }

  private async finishCanceled(id: string): Promise<ConversionOutcome> {
    const r = await this.records.updateConversion(id, (rec) =>
      ENDED.has(rec.status)
        ? undefined
        : {
            ...rec,
            status: 'canceled',
            error: { code: 'CANCELED', message: 'the conversion was canceled' },
            finishedAt: new Date().toISOString(),
          },
    );
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
      await this.records
        .updateConversion(id, (r) =>
          r.status === 'active'
            ? { ...r, status: 'queued', progress: { stage: 'queued', percent: 0 }, lastError: { code: info.code, message: info.message } } as ConversionRecord
            : undefined,
        )
        .catch(() => undefined);
      // BullMQ stores the thrown message and stack (failedReason, stacktrace): scrubbed, never the original.
      throw scrubbedError(original, info.message, configSecrets(this.config));
    }
    await this.markFailed(id, info);
    throw new UnrecoverableError(`${info.code}: ${info.message}`);
  }

  /**
   * The tenant's TENANT_STORAGE scope and the key rules, before any read or write: the source readable, the output
   * prefix writable, every output key valid and ≤ 1 024 bytes. A StorageScopeError is final (not retryable).
   */
  private assertStorageScope(data: ConversionJobData): void {
    const scopes = new StorageScopePolicy(this.config.TENANT_STORAGE ?? new Map());
    if ('key' in data.source) scopes.assertAccess(data.tenant, 'read', data.source, 'source.key');
    scopes.assertAccess(data.tenant, 'write', { bucket: data.output.bucket, prefix: data.output.prefix }, 'output.prefix');
    assertOutputName(data.output.prefix, outputBaseName(data), 'key' in data.source ? 'source.key' : 'source.url');
  }

  /** Also used by the worker host for jobs that fail outside `process` (stalled too often). */
  async markFailed(id: string, info: { code: string; message: string }): Promise<void> {
    const r = await this.records.updateConversion(id, (rec) =>
      ENDED.has(rec.status)
        ? undefined
        : { ...rec, status: 'failed', error: { code: info.code, message: info.message }, finishedAt: new Date().toISOString() },
    );
    if (r?.changed) {
      conversionsTotal.inc({ result: 'failed', code: info.code });
      if (r.record.batchId) await this.records.recordBatchFailure(r.record.batchId, id);
      await this.webhooks.emitConversion(r.record, 'conversion.failed' satisfies WebhookEventType);
    }
  }
}

/**
 * Progress to the record and to `job.updateProgress`, at most every PROGRESS_WRITE_INTERVAL_MS and on every stage
 * change; also times stages for the duration histogram. Writes are chained, never concurrent, never awaited by
 * the engine.
 */
class ProgressWriter {
  private chain: Promise<unknown> = Promise.resolve();
  private lastWrite = 0;
  private stage?: string;
  private stageStart = 0;

  constructor(
    private readonly job: Job,
    private readonly records: RecordStore,
    private readonly id: string,
  ) {}

  report(p: StageProgress | { stage: string; percent: number }): void {
    const now = Date.now();
    const stageChanged = p.stage !== this.stage;
    if (stageChanged) {
      this.endStage(now);
      this.stage = p.stage;
      this.stageStart = now;
    }
    if (!stageChanged && now - this.lastWrite < PROGRESS_WRITE_INTERVAL_MS) return;
    this.lastWrite = now;
    const progress = { stage: p.stage, percent: Math.round(Math.max(0, Math.min(100, p.percent))) };
    this.chain = this.chain
      .then(() =>
        Promise.all([
          this.job.updateProgress(progress),
          this.records.updateConversion(this.id, (r) => (r.status === 'active' ? { ...r, progress } : undefined)),
        ]),
      )
      // Progress is best effort: a failed write must not fail the conversion.
      .catch(() => undefined);
  }

  endStage(now = Date.now()): void {
    if (this.stage) stageDuration.observe({ stage: this.stage }, (now - this.stageStart) / 1000);
    this.stage = undefined;
  }

  flush(): Promise<unknown> {
    return this.chain;
  }
}

/** The worker's source reader, from the validated config (timeouts, sizes, the SSRF policy). */
export function sourceReaderFor(config: AppConfig, storage: ObjectStorage): SourceReader {
  return new SourceReader(storage, {
    allowPrivate: config.SOURCE_ALLOW_PRIVATE_TARGETS,
    testPublicHosts: config.SOURCE_TEST_PUBLIC_HOSTS,
    connectTimeoutMs: config.SOURCE_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: config.SOURCE_IDLE_TIMEOUT_MS,
    requestTimeoutMs: config.SOURCE_REQUEST_TIMEOUT_MS,
    downloadTimeoutMs: config.SOURCE_DOWNLOAD_TIMEOUT_MS,
    downloadMaxBytes: config.SOURCE_DOWNLOAD_MAX_BYTES,
    urlMaxBytes: config.SOURCE_URL_MAX_BYTES,
  });
}
