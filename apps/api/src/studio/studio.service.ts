import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { Job } from 'bullmq';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import { STUDIO_FILES, type StudioJobData, type StudioJobResult } from '@vid2live/jobs';
import type { ConversionRecord, ObjectRef } from '@vid2live/jobs/records';
import { enqueueConversion, newConversionRecord } from '@vid2live/jobs/submit';
import type { ConvertOptions } from '@vid2live/livephoto/types';
import { StorageScopeError, StorageScopePolicy } from '@vid2live/storage/scope';
import { StudioError } from '@vid2live/studio/http';
import { safeName, stemOf } from '@vid2live/studio/page';
import { Queues } from '../infra.module';
import { RecordStore, assertIdShape } from '../records.store';
import { StorageGateway } from '../storage.gateway';
import { StoragePolicy } from '../storage-policy';
import { APP_CONFIG, REDIS } from '../tokens';
import { StudioStore, type StudioVideo } from './studio-store';

/** the folder under a tenant's storage scope where its studio uploads, previews and outputs live */
export const STUDIO_FOLDER = 'vid2live-studio/';
/** how long a request waits for a worker's analysis before answering 202 (the page asks again) */
const ANALYSIS_WAIT_MS = 15_000;
/** how long a frame request waits for its worker (an <img> cannot ask again) */
const FRAME_WAIT_MS = 30_000;
const UPLOAD_CONTENT_TYPE = 'application/octet-stream';

/**
 * The service backend of the studio page (docs/studio.md), for one signed-in tenant: uploads by presigned PUT
 * into the tenant's studio area, previews made by workers (queue `studio`), conversions as ordinary conversion
 * jobs with the share files. Every object it names is inside the tenant's TENANT_STORAGE scope.
 */
@Injectable()
export class StudioService {
  readonly store: StudioStore;
  private readonly scopes: StorageScopePolicy;

  constructor(
    @Inject(APP_CONFIG) readonly config: AppConfig,
    @Inject(REDIS) redis: Redis,
    private readonly queues: Queues,
    private readonly records: RecordStore,
    readonly storage: StorageGateway,
    private readonly policy: StoragePolicy,
  ) {
    this.store = new StudioStore(redis, config.QUEUE_PREFIX, config.RECORD_TTL_SECONDS);
    this.scopes = new StorageScopePolicy(config.TENANT_STORAGE ?? new Map());
  }

  /** The tenant's studio area: `vid2live-studio/<tenant>/` in its first scope it may both write and read. */
  area(tenant: string): { bucket: string; prefix: string } {
    const scope = this.config.TENANT_STORAGE?.get(tenant);
    const s = scope?.write.find((w) => this.scopes.allows(tenant, 'read', w.bucket, w.prefix));
    if (!s) {
      throw new StudioError(403, 'STUDIO_STORAGE_MISSING', `tenant ${tenant} has no storage it may both write and read (TENANT_STORAGE); the studio needs one`);
    }
    return { bucket: s.bucket, prefix: `${s.prefix}${STUDIO_FOLDER}${encodeURIComponent(tenant)}/` };
  }

  async createUpload(tenant: string, body: unknown): Promise<{ video: StudioVideo; url: string; headers: Record<string, string> }> {
    const b = (body ?? {}) as { name?: unknown; size?: unknown };
    const name = safeName(typeof b.name === 'string' ? b.name : '');
    const size = Number(b.size);
    const max = this.config.STUDIO_MAX_UPLOAD_BYTES;
    if (!Number.isInteger(size) || size <= 0) throw new StudioError(400, 'UPLOAD_EMPTY', `${name}: send the file's size in bytes (it must not be empty)`);
    if (size > max) throw new StudioError(413, 'UPLOAD_TOO_LARGE', `${name} is ${size} bytes; the studio takes at most ${max}`);
    const { bucket, prefix } = this.area(tenant);
    const id = randomBytes(10).toString('hex');
    const key = `${prefix}uploads/${id}/${name}`;
    this.check(() => this.scopes.assertAccess(tenant, 'write', { bucket, key }, 'name'));
    const video: StudioVideo = { id, name, size, bucket, key, dir: `${prefix}videos/${id}/`, state: 'uploading', createdAt: new Date().toISOString() };
    await this.store.putVideo(tenant, video);
    const url = await this.storage.presignBrowserPut(bucket, key, UPLOAD_CONTENT_TYPE);
    return { video, url, headers: { 'content-type': UPLOAD_CONTENT_TYPE } };
  }

  /** After the browser's PUT: the object must be there, non-empty and within the limit (else it is removed). */
  async completeUpload(tenant: string, id: string): Promise<StudioVideo> {
    const v = await this.video(tenant, id, true);
    if (v.state === 'ready') return v;
    const head = await this.storage.head(v.bucket, v.key);
    if (!head) throw new StudioError(409, 'UPLOAD_INCOMPLETE', `${v.name} has not arrived in storage; upload it again`);
    const max = this.config.STUDIO_MAX_UPLOAD_BYTES;
    if (head.size === 0 || head.size > max) {
      await this.storage.delete(v.bucket, v.key);
      if (head.size === 0) throw new StudioError(400, 'UPLOAD_EMPTY', `${v.name} is empty`);
      throw new StudioError(413, 'UPLOAD_TOO_LARGE', `${v.name} is ${head.size} bytes; the studio takes at most ${max}`);
    }
    const ready: StudioVideo = { ...v, size: head.size, state: 'ready' };
    await this.store.putVideo(tenant, ready);
    return ready;
  }

  async video(tenant: string, id: string, evenUploading = false): Promise<StudioVideo> {
    const v = await this.store.getVideo(tenant, id);
    // another tenant's video is indistinguishable from a missing one
    if (!v || (!evenUploading && v.state !== 'ready')) throw new StudioError(404, 'NOT_FOUND', 'no such video');
    return v;
  }

  /** The analysis JSON, or `pending` while a worker makes it (the page asks again). */
  async analysis(tenant: string, id: string): Promise<{ pending: true } | Record<string, unknown>> {
    const v = await this.video(tenant, id);
    const done = await this.storage.readJson(v.bucket, v.dir + STUDIO_FILES.analysis);
    if (done) return { video: { id: v.id, name: v.name }, ...done };
    const outcome = await this.runStudioJob(
      `sa_${v.id}`,
      { kind: 'analyse', tenant, videoId: v.id, source: { bucket: v.bucket, key: v.key }, dir: v.dir },
      Math.min(ANALYSIS_WAIT_MS, this.config.STUDIO_PREVIEW_WAIT_MS),
    );
    if (outcome === 'pending') return { pending: true };
    const made = await this.storage.readJson(v.bucket, v.dir + STUDIO_FILES.analysis);
    if (!made) {
      // done, yet its file is gone (removed from the bucket): the next request analyses again
      await (await Job.fromId(this.queues.studio, `sa_${v.id}`))?.remove().catch(() => undefined);
      throw new StudioError(503, 'STUDIO_PREVIEW_FAILED', `the analysis of ${v.name} is missing; try again`);
    }
    return { video: { id: v.id, name: v.name }, ...made };
  }

  /** The key of an analysis file (thumbnails, proxy) once the analysis exists. */
  async analysedFile(tenant: string, id: string, file: string): Promise<{ bucket: string; key: string }> {
    const v = await this.video(tenant, id);
    if (!(await this.storage.head(v.bucket, v.dir + STUDIO_FILES.analysis))) {
      throw new StudioError(409, 'NOT_ANALYSED', `${v.name} has not been analysed yet`);
    }
    return { bucket: v.bucket, key: v.dir + file };
  }

  /** The frame at `t` as the still would show it, made by a worker once and then kept beside the video. */
  async frame(tenant: string, id: string, time: number, requestedWidth: number): Promise<{ bucket: string; key: string }> {
    const v = await this.video(tenant, id);
    // On the engine's 30 fps grid (where key photos are) and in steps of 160 px: a video has a bounded number of
    // frame previews, however many different values a client sends.
    const t = Math.round(time * 30) / 30;
    const width = Math.min(1920, Math.ceil(requestedWidth / 160) * 160);
    const key = `${v.dir}frames/${t.toFixed(4)}-${width}.jpg`;
    if (await this.storage.head(v.bucket, key)) return { bucket: v.bucket, key };
    if (!(await this.storage.head(v.bucket, v.dir + STUDIO_FILES.info))) await this.analysis(tenant, id);
    const jobId = `sf_${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
    const outcome = await this.runStudioJob(
      jobId,
      { kind: 'frame', tenant, videoId: v.id, source: { bucket: v.bucket, key: v.key }, dir: v.dir, t, width, key },
      Math.min(FRAME_WAIT_MS, this.config.STUDIO_PREVIEW_WAIT_MS),
    );
    if (outcome === 'pending') throw new StudioError(503, 'STUDIO_BUSY', 'the workers are busy; the frame is on its way — try again in a moment');
    return { bucket: v.bucket, key };
  }

  /**
   * Adds a studio job (once: the id dedupes) and waits up to `waitMs` for it. A bad input is the job's answer
   * (thrown here as that error); a job that failed is removed, so the next request tries again.
   */
  private async runStudioJob(jobId: string, data: StudioJobData, waitMs: number): Promise<'done' | 'pending'> {
    const q = this.queues.studio;
    let job = await Job.fromId<StudioJobData, StudioJobResult>(q, jobId);
    if (!job) {
      // A new preview counts against its tenant's pending previews (a job already there, asked again, does not).
      const pending = async (id: string) => {
        const state = await (await Job.fromId(q, id))?.getState();
        return state !== undefined && state !== 'completed' && state !== 'failed' && state !== 'unknown';
      };
      if (!(await this.store.admitPreview(data.tenant, jobId, this.config.STUDIO_MAX_PENDING_PREVIEWS, pending))) {
        throw new StudioError(
          429,
          'STUDIO_TOO_MANY_PREVIEWS',
          `${this.config.STUDIO_MAX_PENDING_PREVIEWS} previews of yours are being made already; ask again when they are done`,
        );
      }
      job = await q.add(data.kind, data, { jobId, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 60 } });
    }
    const until = Date.now() + waitMs;
    for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        const fresh = (await Job.fromId<StudioJobData, StudioJobResult>(q, jobId)) ?? job;
        if (state === 'failed') {
          await fresh.remove().catch(() => undefined);
          throw new StudioError(503, 'STUDIO_PREVIEW_FAILED', 'a worker could not make the preview; try again');
        }
        const r = fresh.returnvalue;
        if (!r) {
          await fresh.remove().catch(() => undefined);
          throw new StudioError(503, 'STUDIO_PREVIEW_FAILED', 'a worker could not make the preview; try again');
        }
        if (!r.ok) {
          throw new StudioError(r.error.code === 'STORAGE_SCOPE_DENIED' ? 403 : 422, r.error.code, r.error.message);
        }
        return 'done';
      }
      if (Date.now() + delay > until) return 'pending';
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** An ordinary conversion job of the uploaded video (with the share files), in the tenant's studio outputs. */
  async convert(tenant: string, id: string, options: ConvertOptions): Promise<{ id: string }> {
    const v = await this.video(tenant, id);
    const { prefix } = this.area(tenant);
    const output = { bucket: v.bucket, prefix: `${prefix}outputs/${randomBytes(8).toString('hex')}/` };
    const source = { bucket: v.bucket, key: v.key };
    const { start, duration, keyFrame, still, codec, motionPhoto, profile } = options;
    const opts = Object.fromEntries(Object.entries({ start, duration, keyFrame, still, codec, motionPhoto, profile }).filter(([, x]) => x !== undefined));
    this.policy.checkConversion(tenant, { source, output });
    const record = newConversionRecord(tenant, { source, output, options: opts, share: true });
    await enqueueConversion(this.queues.submitTarget, record);
    return { id: record.id };
  }

  async conversion(tenant: string, id: string): Promise<ConversionRecord> {
    assertIdShape(id, 'conversion');
    const r = await this.records.getConversion(id);
    if (!r || r.tenant !== tenant) throw new StudioError(404, 'NOT_FOUND', 'no such conversion');
    return r;
  }

  /** The page's view of a conversion record (docs/studio.md "conversion"). */
  conversionView(r: ConversionRecord): Record<string, unknown> {
    const failed = r.status === 'failed' || r.status === 'canceled';
    const res = r.result;
    const files = res ? outputFiles(res) : undefined;
    return {
      id: r.id,
      status: failed ? 'failed' : r.status,
      progress: r.progress,
      ...(r.error ? { error: r.error } : failed ? { error: { code: 'CANCELED', message: 'the conversion was canceled' } } : {}),
      ...(res && files
        ? {
            result: {
              name: stemOf(path.posix.basename(files.still.key)),
              contentIdentifier: res.contentIdentifier,
              stillTime: res.stillTime,
              clip: res.clip,
              width: res.width,
              height: res.height,
              reasons: res.reasons ?? [],
              warnings: res.warnings ?? [],
              files: Object.fromEntries(Object.entries(files).map(([role, ref]) => [role, path.posix.basename(ref.key)])),
            },
          }
        : {}),
    };
  }

  /** An output of the conversion by its file name (looked up among its own outputs, never joined from the URL). */
  async conversionFile(tenant: string, id: string, name: string): Promise<ObjectRef> {
    const r = await this.conversion(tenant, id);
    const files = (r.result ? outputFiles(r.result) : undefined) ?? {};
    const ref = Object.values(files).find((o) => path.posix.basename(o.key) === name);
    if (!ref) throw new StudioError(404, 'NOT_FOUND', `${name} is not an output of this conversion`);
    return ref;
  }

  private check(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof StorageScopeError) throw new StudioError(e.code === 'INVALID_KEY' ? 400 : 403, e.code, e.message);
      throw e;
    }
  }
}

/**
 * role → object of a conversion's result; `preview` is the MOV itself when no H.264 copy was needed. Undefined for
 * a result without a Live Photo (a `/v1` pair batch item's Motion Photo): the page shows Live Photos only.
 */
function outputFiles(res: NonNullable<ConversionRecord['result']>): Record<string, ObjectRef> | undefined {
  if (!res.still || !res.video) return undefined;
  return {
    still: res.still,
    video: res.video,
    preview: res.share?.preview ?? res.video,
    ...(res.motionPhoto ? { motionPhoto: res.motionPhoto } : {}),
    ...(res.share?.zip ? { zip: res.share.zip } : {}),
    ...(res.share?.pvt ? { pvt: res.share.pvt } : {}),
    ...(res.share?.stillPreview ? { stillPreview: res.share.stillPreview } : {}),
  };
}
