import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Job } from 'bullmq';
import { configSecrets, scrubSecrets, type AppConfig } from '@vid2live/config';
import { LivePhotoError } from '@vid2live/errors';
import { STUDIO_FILES, type StudioJobData, type StudioJobResult } from '@vid2live/jobs';
import { analyseMoment, extractPreviewFrame, makePlaybackProxy, makeThumbnailStrip } from '@vid2live/livephoto/preview';
import type { SourceInfo } from '@vid2live/livephoto/types';
import type { ObjectStorage } from '@vid2live/storage';
import { StorageScopeError, StorageScopePolicy } from '@vid2live/storage/scope';
import { APP_CONFIG, STORAGE } from './tokens';

/** Sources kept on local disk for the frame previews that follow an analysis (a person stepping through frames). */
const CACHE_ENTRIES = 4;
/** Uploads the studio accepts are bounded by the API (STUDIO_MAX_UPLOAD_BYTES); the cache never holds more than this. */
const CACHE_MAX_BYTES = 4 * 1024 ** 3;

interface CachedSource {
  file: string;
  size: number;
  info?: SourceInfo;
  used: number;
}

/**
 * The studio's preview jobs (queue `studio`, libs/jobs StudioJobData): the analysis of an uploaded video (the
 * engine's own curves and suggestion, a thumbnail strip, an H.264 playback proxy) and single frames as the still
 * would show them. Both read the upload from the tenant's studio area (scope-checked like a conversion) and write
 * their results beside it; a bad input is an answer (`{ ok: false, error }`), not a failed job.
 */
@Injectable()
export class StudioProcessor implements OnModuleDestroy {
  private readonly log = new Logger('studio');
  private readonly scopes: StorageScopePolicy;
  private readonly cacheDir = path.join(os.tmpdir(), `vid2live-studio-cache-${process.pid}`);
  private readonly cache = new Map<string, Promise<CachedSource>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
  ) {
    this.scopes = new StorageScopePolicy(config.TENANT_STORAGE ?? new Map());
  }

  async process(job: Job<StudioJobData>): Promise<StudioJobResult> {
    const d = job.data;
    const name = path.posix.basename(d.source.key);
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'vid2live-studio-job-'));
    let local: string | undefined;
    try {
      // Defence in depth: the API derived both from the tenant's own studio area; nothing is read or written unless
      // the tenant's TENANT_STORAGE still allows it.
      this.scopes.assertAccess(d.tenant, 'read', d.source, 'source.key');
      this.scopes.assertAccess(d.tenant, 'write', { bucket: d.source.bucket, prefix: d.dir }, 'dir');
      const src = await this.source(d);
      local = src.file;
      if (d.kind === 'analyse') await this.analyse(d, src, work);
      else await this.frame(d, src, work);
      return { ok: true };
    } catch (e) {
      if (e instanceof LivePhotoError || e instanceof StorageScopeError) {
        // Engine messages name the worker's local copy: the user knows the file by its own name.
        let message = (e as Error).message;
        if (local) message = message.split(local).join(name);
        message = scrubSecrets(message.split(this.cacheDir).join('studio'), configSecrets(this.config));
        return { ok: false, error: { code: (e as { code: string }).code, message } };
      }
      this.log.warn(`${d.kind} of ${d.videoId} failed: ${scrubSecrets((e as Error).message, configSecrets(this.config))}`);
      throw e;
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  private async analyse(d: StudioJobData, src: CachedSource, work: string): Promise<void> {
    const { info, analysis } = await analyseMoment(src.file);
    src.info = info;
    const strip = path.join(work, STUDIO_FILES.thumbnails);
    const thumbnails = await makeThumbnailStrip(info, strip, 12, 90);
    const proxy = path.join(work, STUDIO_FILES.proxy);
    await makePlaybackProxy(info, proxy);
    const json = path.join(work, STUDIO_FILES.analysis);
    await fs.writeFile(json, JSON.stringify({ ...analysis, thumbnails }));
    const infoJson = path.join(work, STUDIO_FILES.info);
    // the probe, for frame jobs on another worker (its path is this worker's copy: replaced there)
    await fs.writeFile(infoJson, JSON.stringify(info));
    const b = d.source.bucket;
    await this.storage.putObjectFromFile(b, d.dir + STUDIO_FILES.thumbnails, strip, { contentType: 'image/jpeg' });
    await this.storage.putObjectFromFile(b, d.dir + STUDIO_FILES.proxy, proxy, { contentType: 'video/mp4' });
    await this.storage.putObjectFromFile(b, d.dir + STUDIO_FILES.info, infoJson, { contentType: 'application/json' });
    // last: its presence is what "analysed" means to the API
    await this.storage.putObjectFromFile(b, d.dir + STUDIO_FILES.analysis, json, { contentType: 'application/json' });
  }

  private async frame(d: Extract<StudioJobData, { kind: 'frame' }>, src: CachedSource, work: string): Promise<void> {
    if (!d.key.startsWith(d.dir)) throw new Error(`frame key outside the video's folder`);
    src.info ??= { ...(await this.readJson<SourceInfo>(d.source.bucket, d.dir + STUDIO_FILES.info)), path: src.file };
    const out = path.join(work, 'frame.jpg');
    await extractPreviewFrame(src.info, d.t, d.width, out);
    await this.storage.putObjectFromFile(d.source.bucket, d.key, out, { contentType: 'image/jpeg' });
  }

  private async readJson<T>(bucket: string, key: string): Promise<T> {
    const chunks: Buffer[] = [];
    for await (const c of await this.storage.getObjectStream(bucket, key)) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  }

  /** The upload on local disk: downloaded once, kept for the next jobs of the same video (least recently used go). */
  private source(d: StudioJobData): Promise<CachedSource> {
    const id = createHash('sha256').update(`${d.source.bucket}\0${d.source.key}`).digest('hex').slice(0, 32);
    let entry = this.cache.get(id);
    if (!entry) {
      entry = this.download(d, id);
      this.cache.set(id, entry);
      entry.catch(() => this.cache.delete(id));
    }
    return entry.then((e) => {
      e.used = Date.now();
      void this.evict(id);
      return e;
    });
  }

  private async download(d: StudioJobData, id: string): Promise<CachedSource> {
    const dir = path.join(this.cacheDir, id);
    await fs.mkdir(dir, { recursive: true });
    const file = path.join(dir, path.posix.basename(d.source.key).replace(/[^\p{L}\p{N}._ -]/gu, '_').replace(/^\.+/, '') || 'video');
    // The API checked the upload's size, but its signed PUT URL stays valid a while: the object may have been
    // replaced since. Never more than the studio's limit reaches this disk.
    const max = this.config.STUDIO_MAX_UPLOAD_BYTES;
    const tooLarge = () => new LivePhotoError('SOURCE_TOO_LARGE', `${path.posix.basename(d.source.key)} is over the studio's ${max} bytes`);
    const head = await this.storage.headObject(d.source.bucket, d.source.key);
    if (head && head.size > max) throw tooLarge();
    let bytes = 0;
    try {
      await pipeline(
        await this.storage.getObjectStream(d.source.bucket, d.source.key),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > max) throw tooLarge();
            yield chunk;
          }
        },
        createWriteStream(file),
      );
    } catch (e) {
      await fs.rm(dir, { recursive: true, force: true });
      throw e;
    }
    return { file, size: bytes, used: Date.now() };
  }

  private async evict(keep: string): Promise<void> {
    const settled: Array<[string, CachedSource]> = [];
    for (const [id, p] of this.cache) {
      const e = await p.catch(() => undefined);
      if (e) settled.push([id, e]);
    }
    settled.sort((a, b) => a[1].used - b[1].used);
    let bytes = settled.reduce((n, [, e]) => n + e.size, 0);
    let count = settled.length;
    for (const [id, e] of settled) {
      if (count <= CACHE_ENTRIES && bytes <= CACHE_MAX_BYTES) break;
      if (id === keep) continue;
      this.cache.delete(id);
      count--;
      bytes -= e.size;
      await fs.rm(path.dirname(e.file), { recursive: true, force: true });
    }
  }

  async onModuleDestroy(): Promise<void> {
    await fs.rm(this.cacheDir, { recursive: true, force: true });
  }
}
