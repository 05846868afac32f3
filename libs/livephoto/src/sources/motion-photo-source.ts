import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ConvertRequest } from '../types';
import { isLivePhotoError, LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { buildAppleMakerNote, buildExifTiff, findJpegEnd, gpsPositionOf, isXmpApp1, listJpegSegments, readJpegExif, writeJpegExif } from '../exif';
import { ExifTag, parseExifTiff } from '../exif/tiff';
import { addExifToHeic, heicExifTiffBytes } from '../heif/heic-exif';
import { serializeHeif } from '../heif/layout';
import { parseHeif } from '../heif/parse';
import { withoutMotionPhotoParts } from '../motion-photo/heic-motion-photo';
import { setExifMakerNote } from '../exif/add-maker-note';
import { injectLivePhotoMetadata } from '../quicktime';
import { openRegularFile, readAt } from '../quicktime/regular-file';
import { captureTimeWarnings, resolveCaptureTime, toISO6709 } from '../stages/capture-time';
import { newContentIdentifier } from '../stages/pair';
import { planClip } from '../stages/plan';
import { probeSource } from '../stages/probe';
import { renderClip } from '../stages/render';
import { MAX_CLIP_SECONDS, MIN_CLIP_SECONDS, type LivePhotoResult, type SourceInfo, type StageContext } from '../types';
import type { MotionPhotoSourceLayout } from './motion-photo-layout';

/** The photo part of a Motion Photo is read whole (its Exif is rewritten in memory); larger is refused. */
export const MAX_MOTION_PHOTO_STILL_BYTES = 256 * 1024 * 1024;

/**
 * A Motion Photo (Google or Samsung JPEG, or a HEIC with its video in an `mpvd` box) → Live Photo pair. The still is the original photo with only its
 * metadata changed: its own Exif (camera, GPS, dates, orientation) kept byte for byte with the Apple MakerNote
 * (the pair's ContentIdentifier) added, the Motion Photo XMP flag turned off (same length: nothing moves), and the
 * embedded video and any Samsung trailer left out; the image data is not decoded or re-encoded. The MOV is
 * rendered from the embedded video (one ffmpeg pass like any source) with the still-image-time at the Motion
 * Photo's presentation timestamp (the middle of the video when it has none).
 */
export async function convertMotionPhotoSource(
  req: ConvertRequest,
  layout: MotionPhotoSourceLayout,
  out: { still: string; movie: string },
  ctx: StageContext,
): Promise<LivePhotoResult> {
  const options = req.options ?? {};
  if (layout.stillLength > MAX_MOTION_PHOTO_STILL_BYTES) {
    throw new LivePhotoError('INPUT_UNSUPPORTED', `${req.source}: its photo is ${layout.stillLength} B; at most ${MAX_MOTION_PHOTO_STILL_BYTES} B are read`, {
      file: req.source,
    });
  }
  ctx.onProgress?.({ stage: 'probe', percent: 0 });
  const workDir = await fs.mkdtemp(path.join(req.workDir ?? os.tmpdir(), 'vid2live-mp-'));
  try {
    const { handle } = await openRegularFile(req.source);
    let photo: Buffer;
    try {
      photo = await readAt(handle, layout.stillLength, 0);
    } finally {
      await handle.close();
    }
    if (photo.length !== layout.stillLength) throw new LivePhotoError('INPUT_TRUNCATED', `${req.source} changed while it was being read`, { file: req.source });
    const video = path.join(workDir, 'embedded.mp4');
    await pipeline(
      createReadStream(req.source, { start: layout.videoOffset, end: layout.videoOffset + layout.videoLength - 1 }),
      createWriteStream(video),
      { signal: ctx.signal },
    );
    if ((await fs.stat(video)).size !== layout.videoLength) {
      throw new LivePhotoError('INPUT_TRUNCATED', `${req.source} ends inside its Motion Photo video`, { file: req.source });
    }

    const heic = layout.kind === 'google-heic';
    const photoExif = heic ? readHeicPhotoExif(photo, req.source) : readPhotoExif(photo, req.source);
    const embedded = await probeEmbedded(video, req.source, ctx);
    // Capture time: the photo's own local time when it states its offset; else the video's (UTC) creation time,
    // put in the zone of the photo's GPS position by the pair's usual rules.
    const source: SourceInfo = {
      ...embedded,
      path: req.source,
      ...(photoExif.captureTime ?? embedded.captureTime ? { captureTime: photoExif.captureTime ?? embedded.captureTime } : {}),
      ...(photoExif.gps ?? embedded.gps ? { gps: photoExif.gps ?? embedded.gps } : {}),
      ...(photoExif.make ? { make: photoExif.make } : {}),
      ...(photoExif.model ? { model: photoExif.model } : {}),
    };

    const pts = layout.presentationTimestampUs;
    const lastFrame = Math.max(0, embedded.duration - 1 / Math.max(1, embedded.fps || 30));
    const keyFrame = Math.min(lastFrame, pts !== null ? pts / 1e6 : embedded.duration / 2);
    const duration = Math.min(MAX_CLIP_SECONDS, Math.max(MIN_CLIP_SECONDS, embedded.duration));
    const start = Math.max(0, Math.min(embedded.duration - duration, keyFrame - duration / 2));
    const plan = await planClip(embedded, { start, duration, keyFrame }, ctx);
    plan.reasons.push(
      pts !== null
        ? `Motion Photo (${layout.kind}): the still is the original photo, at ${fmt(pts / 1e6)} s of its video (its presentation timestamp)`
        : `Motion Photo (${layout.kind}) without a presentation timestamp: the still is the original photo, placed at the middle of its video`,
    );
    throwIfAborted(ctx.signal);

    const rendered = await renderClip(video, embedded, plan, {
      workDir,
      codec: options.codec ?? 'h264',
      stillFormat: 'jpeg',
      signal: ctx.signal,
      onProgress: ctx.onProgress,
      media: ctx.media,
    });
    throwIfAborted(ctx.signal);

    ctx.onProgress?.({ stage: 'pair', percent: 0 });
    const contentIdentifier = req.contentIdentifier ?? newContentIdentifier();
    const still = heic ? livePhotoHeicStill(photo, photoExif, contentIdentifier) : livePhotoStill(photo, photoExif, contentIdentifier);
    const capture = resolveCaptureTime(source);
    const stillTmp = `${out.still}.tmp-${process.pid}`;
    try {
      await fs.writeFile(stillTmp, still);
      await injectLivePhotoMetadata(rendered.moviePath, out.movie, {
        contentIdentifier,
        stillTime: rendered.stillTime,
        creationDate: capture?.quickTimeCreationDate,
        creationTime: capture?.instant,
        locationISO6709: source.gps ? toISO6709(source.gps) : undefined,
        make: 'Apple',
        software: 'vid2live',
        liveAuto: true,
        fingerprint: req.fingerprint,
      });
      await fs.rename(stillTmp, out.still);
    } catch (e) {
      await fs.rm(stillTmp, { force: true });
      if (isLivePhotoError(e)) throw e;
      throw new LivePhotoError('METADATA_WRITE_FAILED', `writing the Live Photo pair failed: ${(e as Error).message}`, { still: out.still, movie: out.movie }, { cause: e });
    }
    ctx.onProgress?.({ stage: 'pair', percent: 100 });

    return {
      contentIdentifier,
      stillPath: out.still,
      moviePath: out.movie,
      stillTime: rendered.stillTime,
      clip: { start: plan.start, duration: plan.duration },
      width: rendered.width,
      height: rendered.height,
      warnings: [...plan.warnings, ...captureTimeWarnings(source)],
      reasons: plan.reasons,
    };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

interface PhotoExif {
  tiff: Buffer | null;
  make?: string;
  model?: string;
  captureTime?: string;
  gps?: { latitude: number; longitude: number; altitude?: number };
}

function readPhotoExif(photo: Buffer, file: string): PhotoExif {
  let exif;
  try {
    findJpegEnd(photo);
    exif = readJpegExif(photo);
  } catch (e) {
    throw new LivePhotoError('INPUT_TRUNCATED', `the photo of the Motion Photo ${file} is damaged: ${(e as Error).message}`, { file }, { cause: e });
  }
  return photoExifOf(exif.tiff, exif.tiffBytes);
}

/** The Exif of a HEIC Motion Photo's still (its Exif item). */
function readHeicPhotoExif(photo: Buffer, file: string): PhotoExif {
  let tiffBytes;
  try {
    tiffBytes = heicExifTiffBytes(photo);
  } catch (e) {
    throw new LivePhotoError('INPUT_TRUNCATED', `the photo of the Motion Photo ${file} is damaged: ${(e as Error).message}`, { file }, { cause: e });
  }
  let parsed = null;
  try {
    parsed = tiffBytes ? parseExifTiff(tiffBytes) : null;
  } catch {
    // an Exif block we cannot read is replaced by a minimal one, as for a photo without Exif
    tiffBytes = null;
  }
  return photoExifOf(parsed, tiffBytes);
}

function photoExifOf(tiff: ReturnType<typeof parseExifTiff> | null, tiffBytes: Buffer | null): PhotoExif {
  const exif = { tiff, tiffBytes };
  if (!exif.tiff || !exif.tiffBytes) return { tiff: null };
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const when = text(exif.tiff.exif.get(ExifTag.DateTimeOriginal));
  const offset = text(exif.tiff.exif.get(ExifTag.OffsetTimeOriginal));
  const m = when ? /^(\d{4}):(\d{2}):(\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(when) : null;
  const gps = gpsPositionOf(exif.tiff);
  return {
    tiff: exif.tiffBytes,
    make: text(exif.tiff.ifd0.get(ExifTag.Make)),
    model: text(exif.tiff.ifd0.get(ExifTag.Model)),
    // Exif wall time without an offset names no instant: only a time with its offset is used.
    ...(m && offset && /^[+-]\d{2}:\d{2}$/.test(offset) ? { captureTime: `${m[1]}-${m[2]}-${m[3]}T${m[4]}${offset}` } : {}),
    ...(gps ? { gps } : {}),
  };
}

/**
 * The original photo with the Apple MakerNote added to its own Exif (a minimal Exif when it has none) and its
 * Motion Photo XMP flag set to 0 in place (`"1"` → `"0"`: the packet keeps its length, so no byte moves); the
 * video it described is not appended any more. Every byte from the first SOS on is the original's.
 */
export function livePhotoStill(photo: Buffer, exif: Pick<PhotoExif, 'tiff' | 'make'>, contentIdentifier: string): Buffer {
  // LivePhotoVideoIndex is a type-16 entry ExifTool only accepts under Make "Apple" (spec pitfall P5).
  const makerNote = buildAppleMakerNote(contentIdentifier, exif.make === 'Apple' ? {} : { livePhotoVideoIndex: null });
  const tiff = exif.tiff ? setExifMakerNote(exif.tiff, makerNote) : buildExifTiff({ make: 'Apple', software: 'vid2live', makerNote: buildAppleMakerNote(contentIdentifier) });
  const still = writeJpegExif(photo, tiff);
  for (const s of listJpegSegments(still)) {
    if (!isXmpApp1(still, s)) continue;
    const payload = still.subarray(s.payloadOffset, s.payloadOffset + s.payloadLength);
    const text = payload.toString('latin1');
    const flags = /(\b(?:G?Camera):(?:MotionPhoto|MicroVideo)\s*=\s*["']\s*)1(\s*["'])/g;
    for (const m of text.matchAll(flags)) payload[m.index! + m[1].length] = 0x30; // '0'
  }
  return still;
}

/**
 * The HEIC still of a HEIC Motion Photo as the pair's still: its coded image items untouched, its Exif item replaced
 * by its own Exif with the Apple MakerNote added, the Motion Photo XMP item dropped (the video stays behind).
 */
export function livePhotoHeicStill(photo: Buffer, exif: Pick<PhotoExif, 'tiff' | 'make'>, contentIdentifier: string): Buffer {
  const makerNote = buildAppleMakerNote(contentIdentifier, exif.make === 'Apple' ? {} : { livePhotoVideoIndex: null });
  const tiff = exif.tiff ? setExifMakerNote(exif.tiff, makerNote) : buildExifTiff({ make: 'Apple', software: 'vid2live', makerNote: buildAppleMakerNote(contentIdentifier) });
  const file = parseHeif(photo);
  withoutMotionPhotoParts(file);
  return addExifToHeic(serializeHeif(file), tiff);
}

/** probe of the extracted video; its failures name the Motion Photo, not the temporary file. */
async function probeEmbedded(video: string, file: string, ctx: StageContext): Promise<SourceInfo> {
  try {
    return await probeSource(video, ctx);
  } catch (e) {
    if (!isLivePhotoError(e) || e.code === 'CANCELED') throw e;
    const message = e.message.split(video).join('its video');
    throw new LivePhotoError(e.code, `the video embedded in the Motion Photo ${file}: ${message}`, { ...e.details, file, embeddedVideo: true }, { cause: e });
  }
}

function fmt(s: number): string {
  return (Math.round(s * 1000) / 1000).toString();
}
