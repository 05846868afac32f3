import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { buildAppleMakerNote, buildExifTiff, writeJpegExif } from '../exif';
import { writeHeicStill } from '../heif';
import { mediaToolsOf } from '../ports/default-media-tools';
import { injectLivePhotoMetadata } from '../quicktime';
import type { SourceInfo, StageContext, StillFormat } from '../types';
import { resolveCaptureTime, toISO6709 } from './capture-time';

export interface PairInput {
  /** the MOV as ffmpeg rendered it (no Live Photo metadata yet) */
  renderedMovie: string;
  /** the still as rendered: a JPEG for `jpeg`, a PNG for `heic` */
  renderedStill: string;
  stillFormat: StillFormat;
  source: SourceInfo;
  /** seconds from the start of the MOV */
  stillTime: number;
  width: number;
  height: number;
  outStill: string;
  outMovie: string;
  /** a fresh upper-case UUID is made when absent */
  contentIdentifier?: string;
  /** recorded in the MOV as `com.vid2live.fingerprint` (see fingerprint.ts); nothing is written when absent */
  fingerprint?: string;
  heicQuality?: number;
  /** write the lock-screen Live Wallpaper structure into the MOV (see quicktime/inject.ts `wallpaper`) */
  wallpaper?: boolean;
}

export interface PairResult {
  contentIdentifier: string;
  /** the TIFF/Exif block written into the still */
  exifTiff: Buffer;
  /**
   * the same Exif without the Apple MakerNote, for the Google Motion Photo: a second image carrying the pair's
   * ContentIdentifier makes galleries (Immich) see two photos claiming one MOV
   */
  motionPhotoExifTiff: Buffer;
}

/** A canonical upper-case UUID: the form every genuine iPhone writes (spec §1). */
export function newContentIdentifier(): string {
  return randomUUID().toUpperCase();
}

/**
 * The pair stage: one content identifier written into both halves — an Apple MakerNote (tag 0x0011) in the
 * still's Exif, and `moov/meta` content.identifier + the still-image-time track in the MOV. Outputs appear
 * only when complete (written to temporary names, then renamed).
 */
export async function pairLivePhoto(input: PairInput, ctx: StageContext = {}): Promise<PairResult> {
  const report = (percent: number) => ctx.onProgress?.({ stage: 'pair', percent });
  const contentIdentifier = input.contentIdentifier ?? newContentIdentifier();
  // Local time with its offset: the source's own, else the zone at its GPS position, else UTC.
  const capture = resolveCaptureTime(input.source);
  report(0);

  const exifFields = {
    make: 'Apple',
    model: input.source.model,
    software: 'vid2live',
    orientation: 1, // pixels are rendered upright
    dateTimeOriginal: capture?.exifDateTime,
    offsetTimeOriginal: capture?.exifOffset,
    gps: input.source.gps,
    imageWidth: input.width,
    imageHeight: input.height,
  };
  const exifTiff = buildExifTiff({ ...exifFields, makerNote: buildAppleMakerNote(contentIdentifier) });
  const motionPhotoExifTiff = buildExifTiff(exifFields);

  const stillTmp = `${input.outStill}.tmp-${process.pid}`;
  try {
    throwIfAborted(ctx.signal);
    if (input.stillFormat === 'jpeg') {
      const jpeg = await fs.readFile(input.renderedStill);
      await fs.writeFile(stillTmp, writeJpegExif(jpeg, exifTiff));
    } else {
      await writeHeicStill(input.renderedStill, stillTmp, exifTiff, {
        quality: input.heicQuality, // absent: DEFAULT_HEIC_QUALITY of media/src/heif-enc.ts (measured there)
        signal: ctx.signal,
        encodeHeic: (input, output, options) => mediaToolsOf(ctx).encodeHeic(input, output, options),
      });
    }
    report(30);
    throwIfAborted(ctx.signal);
    // The MOV injection streams the media data and renames into place itself.
    await injectLivePhotoMetadata(input.renderedMovie, input.outMovie, {
      contentIdentifier,
      stillTime: input.stillTime,
      creationDate: capture?.quickTimeCreationDate,
      creationTime: capture?.instant,
      locationISO6709: input.source.gps ? toISO6709(input.source.gps) : undefined,
      make: 'Apple',
      software: 'vid2live',
      liveAuto: true,
      fingerprint: input.fingerprint,
      ...(input.wallpaper ? { wallpaper: true } : {}),
    });
    report(90);
    await fs.rename(stillTmp, input.outStill);
    report(100);
    return { contentIdentifier, exifTiff, motionPhotoExifTiff };
  } catch (e) {
    await fs.rm(stillTmp, { force: true });
    if (e instanceof LivePhotoError) throw e;
    throw new LivePhotoError('METADATA_WRITE_FAILED', `writing the Live Photo pair failed: ${(e as Error).message}`, {
      still: input.outStill,
      movie: input.outMovie,
    }, { cause: e });
  }
}
