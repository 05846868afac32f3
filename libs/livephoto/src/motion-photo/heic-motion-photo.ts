import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { addExifToHeic } from '../heif/heic-exif';
import { removeItems, usedItemIds } from '../heif/items';
import { serializeHeif } from '../heif/layout';
import type { HeifFile } from '../heif/model';
import { parseHeif } from '../heif/parse';
import { motionPhotoVideoLength, type MotionPhotoLayout } from './motion-photo';
import { buildMotionPhotoXmp } from './motion-photo-xmp';

export const XMP_CONTENT_TYPE = 'application/rdf+xml';
const MPVD_HEADER = 8;

export interface WriteHeicMotionPhotoInput {
  /** the HEIC still; its coded image items are kept byte for byte */
  heic: Buffer;
  /** a new Exif block for the still (`null`: keep the HEIC's own) */
  exifTiff: Buffer | null;
  /** an MP4 (`ftyp` isom/mp42); streamed, never loaded whole */
  mp4Path: string;
  outputPath: string;
  /** still time in µs of the video, or -1 for unspecified */
  presentationTimestampUs: number;
  signal?: AbortSignal;
}

/**
 * A Google Motion Photo v1 HEIC (live-photo-format.md §6.2): the still's items untouched, the Motion Photo XMP as a
 * hidden `mime` item (`application/rdf+xml`) described `cdsc` → the primary (as Samsung writes it), any earlier XMP
 * item or `mpvd` dropped, and the MP4 as the payload of a top-level `mpvd` box after everything else (the XMP's
 * primary item has Padding 8: that box's header). Written to a temporary file and renamed.
 */
export async function writeHeicMotionPhoto(input: WriteHeicMotionPhotoInput): Promise<MotionPhotoLayout> {
  const { mp4Path, outputPath, presentationTimestampUs, signal } = input;
  throwIfAborted(signal);
  const videoLength = await motionPhotoVideoLength(mp4Path);
  if (MPVD_HEADER + videoLength > 0xffffffff) throw new LivePhotoError('INVALID_OPTIONS', `${mp4Path} is too large for an mpvd box`);

  const base = input.exifTiff ? addExifToHeic(input.heic, input.exifTiff) : input.heic;
  const file = parseHeif(base);
  withoutMotionPhotoParts(file);
  const meta = file.meta;
  const primaryId = meta.primaryItem?.itemId;
  if (primaryId === undefined || !meta.itemInfo || !meta.itemLocation) throw new LivePhotoError('INVALID_CONTAINER', 'the HEIC has no pitm, iinf or iloc');
  const xmpId = Math.max(0, ...usedItemIds(meta)) + 1;
  meta.itemInfo.entries.push({ itemId: xmpId, itemType: 'mime', name: '', contentType: XMP_CONTENT_TYPE, version: xmpId > 0xffff ? 3 : 2, flags: 1 });
  meta.itemLocation.items.push({ itemId: xmpId, constructionMethod: 0, dataReferenceIndex: 0, baseOffset: 0, extents: [] });
  meta.itemReference ??= { version: 0, flags: 0, references: [] };
  meta.itemReference.references.push({ type: 'cdsc', fromItemId: xmpId, toItemIds: [primaryId] });
  file.appendedItemData.set(xmpId, Buffer.from(buildMotionPhotoXmp({ videoLength, presentationTimestampUs, primaryMime: 'image/heic' }), 'utf8'));
  const still = serializeHeif(file);

  const mpvd = Buffer.alloc(MPVD_HEADER);
  mpvd.writeUInt32BE(MPVD_HEADER + videoLength, 0);
  mpvd.write('mpvd', 4, 'latin1');
  const tmp = path.join(path.dirname(outputPath), `.${path.basename(outputPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fsp.writeFile(tmp, Buffer.concat([still, mpvd]));
    await pipeline(createReadStream(mp4Path), createWriteStream(tmp, { flags: 'a' }), { signal });
    const fileSize = (await fsp.stat(tmp)).size;
    if (fileSize !== still.length + MPVD_HEADER + videoLength) throw new LivePhotoError('OUTPUT_WRITE_FAILED', `${mp4Path} changed size while it was being appended`);
    await fsp.rename(tmp, outputPath);
    return { videoOffset: still.length + MPVD_HEADER, videoLength, fileSize };
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    if (signal?.aborted) throw new LivePhotoError('CANCELED', undefined, undefined, { cause: e });
    if (e instanceof LivePhotoError) throw e;
    throw new LivePhotoError('OUTPUT_WRITE_FAILED', `writing the Motion Photo ${outputPath} failed: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/** Drops XMP `mime` items (their bytes stay behind, unreferenced) and top-level `mpvd` boxes: the HEIC as a plain still. */
export function withoutMotionPhotoParts(file: HeifFile): void {
  const meta = file.meta;
  removeItems(meta, new Set((meta.itemInfo?.entries ?? []).filter((e) => e.itemType === 'mime' && e.contentType === XMP_CONTENT_TYPE).map((e) => e.itemId)));
  file.topLevel = file.topLevel.filter((b) => b.type !== 'mpvd');
}
