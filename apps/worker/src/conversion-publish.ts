import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@nestjs/common';
import type { ConversionJobData } from '@vid2live/jobs';
import type { ConversionRecord, ObjectRef } from '@vid2live/jobs/records';
import { LivePhotoError } from '@vid2live/errors';
import type { ObjectStorage } from '@vid2live/storage';
import { outputTempKey } from '@vid2live/storage/output-names';
import type { LivePhotoPairResult } from '@vid2live/livephoto/sources/live-photo-pair';
import type { EngineResult } from './conversion-engine';
import { localName, outputBaseName } from './conversion-names';
import type { ProgressWriter } from './conversion-progress';

export type PublishedResult = NonNullable<ConversionRecord['result']>;

export interface PublishContext {
  signal: AbortSignal;
  progress: ProgressWriter;
  beforePublish: () => Promise<void>;
}

type ShareRole = keyof NonNullable<PublishedResult['share']>;
type Role = 'video' | 'still' | 'motionPhoto' | `share.${ShareRole}`;

const CONTENT_TYPES: Record<string, string> = {
  '.JPG': 'image/jpeg',
  '.HEIC': 'image/heic',
  '.MOV': 'video/quicktime',
  '.MP.jpg': 'image/jpeg',
  '.MP.HEIC': 'image/heic',
  '.zip': 'application/zip',
  '.pvt.zip': 'application/zip',
  '.preview.MOV': 'video/quicktime',
  '.still-preview.jpg': 'image/jpeg',
};

/**
 * The outputs' way into object storage: every file up under a temporary key, then all published together by
 * server-side copy, the temporaries always removed; and the published pair removed again (a late cancel).
 */
export class OutputPublisher {
  constructor(
    private readonly storage: ObjectStorage,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /**
   * Uploads and publishes the engine's files under the job's final keys. `beforePublish` runs once all temporaries
   * are up and before the first copy (the processor's last look for a cancel: it may abort `signal`); an aborted
   * signal then throws CANCELED and nothing is published.
   */
  async publish(data: ConversionJobData, result: EngineResult, ctx: PublishContext): Promise<PublishedResult> {
    const refs = await this.publishFiles(
      data,
      [
        [result.moviePath, 'video'],
        [result.stillPath, 'still'],
        ...(result.motionPhotoPath ? [[result.motionPhotoPath, 'motionPhoto'] as [string, 'motionPhoto']] : []),
        ...Object.entries(result.share ?? {}).map(([role, file]) => [file, `share.${role}`] as [string, Role]),
      ],
      ctx,
    );
    const share: NonNullable<PublishedResult['share']> = {};
    for (const [role, ref] of Object.entries(refs)) {
      if (role.startsWith('share.')) share[role.slice('share.'.length) as ShareRole] = ref;
    }
    return {
      contentIdentifier: result.contentIdentifier,
      stillTime: result.stillTime,
      still: refs.still!,
      video: refs.video!,
      ...(refs.motionPhoto ? { motionPhoto: refs.motionPhoto } : {}),
      warnings: result.warnings,
      clip: result.clip,
      width: result.width,
      height: result.height,
      reasons: result.reasons,
      ...(Object.keys(share).length ? { share } : {}),
    };
  }

  /** A Live Photo pair item's Motion Photo, published like a pair (temporary key first); its result names only it. */
  async publishMotionPhoto(data: ConversionJobData, result: LivePhotoPairResult, ctx: PublishContext): Promise<PublishedResult> {
    const refs = await this.publishFiles(data, [[result.motionPhotoPath, 'motionPhoto']], ctx);
    return {
      ...(result.sourceContentIdentifier ? { contentIdentifier: result.sourceContentIdentifier } : {}),
      ...(result.presentationTimestampUs >= 0 ? { stillTime: result.presentationTimestampUs / 1e6 } : {}),
      motionPhoto: refs.motionPhoto!,
      warnings: result.warnings,
    };
  }

  private async publishFiles(data: ConversionJobData, files: Array<[string, Role]>, ctx: PublishContext): Promise<Partial<Record<Role, ObjectRef>>> {
    const { signal, progress } = ctx;
    const base = outputBaseName(data);
    const local = localName(base);

    // Every file is complete on disk before the first byte goes up; each upload is atomic (single PUT or a
    // multipart upload that is aborted on failure), and the keys are deterministic so a retry overwrites.
    const sizes = await Promise.all(files.map(([f]) => fs.stat(f).then((s) => s.size)));
    const total = sizes.reduce((a, b) => a + b, 0) || 1;
    let done = 0;
    progress.report({ stage: 'upload', percent: 0 });
    const bucket = data.output.bucket;
    const outputs = files.map(([file, role]) => {
      const suffix = path.basename(file).slice(local.length);
      return { file, role, suffix, key: `${data.output.prefix}${base}${suffix}`, temp: outputTempKey(data.output.prefix, data.conversionId, suffix) };
    });
    const refs: Partial<Record<Role, ObjectRef>> = {};
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
      await ctx.beforePublish();
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
    return refs;
  }

  /** Removes a published pair again (a cancel accepted after the uploads). Best effort: logged, never thrown. */
  async unpublish(result: PublishedResult): Promise<void> {
    const refs = [result.still, result.video, result.motionPhoto, ...Object.values(result.share ?? {})].filter((r) => r !== undefined);
    await Promise.all(
      refs.map((r) =>
        this.storage.deleteObject(r.bucket, r.key).catch((e) => this.log.warn(`removing s3://${r.bucket}/${r.key}: ${(e as Error).message}`)),
      ),
    );
  }
}
