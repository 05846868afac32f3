import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { setExifMakerNote } from '../exif/add-maker-note';
import { readJpegExif, writeJpegExif } from '../exif/jpeg';
import { inspectLivePhoto } from '../inspect';
import { isHeifStillHead } from '../heif/brands';
import { heicExifTiffBytes } from '../heif/heic-exif';
import { motionPhotoFileName, writeMotionPhoto } from '../motion-photo';
import { writeHeicMotionPhoto } from '../motion-photo/heic-motion-photo';
import { mediaToolsOf } from '../ports/default-media-tools';
import type { PlanWarning, StageContext } from '../types';
import { MAX_MOTION_PHOTO_STILL_BYTES } from './motion-photo-source';

/**
 * A Live Photo pair (JPEG or HEIC still + MOV) → a Google Motion Photo (the iPhone → Android direction): NAME.MP.jpg
 * or NAME.MP.HEIC. The still's image data is kept byte for byte (only its metadata changes: the Motion Photo XMP is added, the Apple MakerNote — whose
 * ContentIdentifier would make the Motion Photo a second claimant of the pair's MOV — is removed, the rest of the
 * Exif, GPS included, stays); the MOV's video is re-muxed, not re-encoded, into the MP4 the Motion Photo carries
 * (audio to AAC, which MP4 needs), and the presentation timestamp is the pair's still-image time.
 */
export interface LivePhotoPairRequest {
  still: string;
  movie: string;
  outputDir: string;
  /** output name without extension: the Motion Photo is `<baseName>.MP.jpg` (`.MP.HEIC` for a HEIC still) */
  baseName: string;
  /** scratch folder (the MP4 re-mux) */
  workDir: string;
  /** how messages name the halves (default: their file names); the worker names the S3 keys */
  names?: { still: string; movie: string };
}

export interface LivePhotoPairResult {
  motionPhotoPath: string;
  /** µs of the video where the still sits; -1 when the pair does not say (then no key frame is marked) */
  presentationTimestampUs: number;
  /** the pair's own identifier (not written into the Motion Photo) */
  sourceContentIdentifier: string | null;
  warnings: PlanWarning[];
}


export async function convertLivePhotoPair(req: LivePhotoPairRequest, ctx: Pick<StageContext, 'signal' | 'media'> = {}): Promise<LivePhotoPairResult> {
  throwIfAborted(ctx.signal);
  const stillName = req.names?.still ?? path.basename(req.still);
  const movieName = req.names?.movie ?? path.basename(req.movie);
  const photo = await readStill(req.still);
  const report = await inspectLivePhoto(req.still, req.movie);
  // A half that cannot be read fails the pair with that half's own code (a text file named .MOV is not a movie).
  const unreadable = report.errors.find((e) => e.code === 'MOVIE_UNREADABLE' || e.code === 'STILL_UNREADABLE');
  if (unreadable) throw new LivePhotoError(unreadable.errorCode ?? 'INVALID_CONTAINER', unreadable.message);
  const noVideo = report.errors.find((e) => e.code === 'NO_VIDEO_TRACK');
  if (noVideo) throw new LivePhotoError('INPUT_NO_VIDEO', `${movieName}: ${noVideo.message}`);
  const mismatch = report.errors.find((e) => e.code === 'CONTENT_ID_MISMATCH');
  if (mismatch) throw new LivePhotoError('PAIR_MISMATCH', `${stillName} + ${movieName}: ${mismatch.message}`);
  const warnings: PlanWarning[] = [];
  let presentationTimestampUs = -1;
  if (report.stillTime !== null && report.stillTime >= 0) {
    presentationTimestampUs = Math.round(report.stillTime * 1e6);
  } else {
    warnings.push({
      code: 'STILL_TIME_UNKNOWN',
      message: `${movieName} has no still-image time: the Motion Photo marks no key frame (-1)`,
    });
  }


  // The movie: video stream copied, audio to AAC, into an isom MP4 (what Motion Photo readers accept).
  await fs.mkdir(req.workDir, { recursive: true });
  const mp4 = path.join(req.workDir, `${req.baseName.replace(/[^\w.-]/g, '_')}.motion.mp4`);
  await mediaToolsOf(ctx).runFfmpeg(
    ['-i', req.movie, '-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '128k', '-map_metadata', '-1', '-movflags', '+faststart', '-f', 'mp4', '-y', mp4],
    { signal: ctx.signal, subject: req.movie },
  );
  // The still: its image data untouched, its Exif kept minus the Apple MakerNote; a HEIC stays a HEIC (§6.2).
  const motionPhotoPath = path.join(
    req.outputDir,
    photo.format === 'heic' ? motionPhotoFileName(req.baseName).replace(/\.jpg$/, '.HEIC') : motionPhotoFileName(req.baseName),
  );
  await fs.mkdir(path.dirname(motionPhotoPath), { recursive: true });
  try {
    if (photo.format === 'heic') {
      const tiff = heicExifTiffBytes(photo.bytes);
      await writeHeicMotionPhoto({
        heic: photo.bytes,
        exifTiff: tiff ? setExifMakerNote(tiff, null) : null,
        mp4Path: mp4,
        outputPath: motionPhotoPath,
        presentationTimestampUs,
        signal: ctx.signal,
      });
    } else {
      const exif = readJpegExif(photo.bytes);
      const still = exif.tiffBytes && exif.tiff?.exif.has(0x927c) ? writeJpegExif(photo.bytes, setExifMakerNote(exif.tiffBytes, null)) : photo.bytes;
      await writeMotionPhoto({ jpeg: still, mp4Path: mp4, outputPath: motionPhotoPath, presentationTimestampUs, signal: ctx.signal });
    }
  } finally {
    await fs.rm(mp4, { force: true });
  }
  return { motionPhotoPath, presentationTimestampUs, sourceContentIdentifier: report.contentIdentifier, warnings };
}

/** The still's bytes (bounded) and its kind: JPEG, or HEIC (HEIF with an HEVC-coded primary). */
async function readStill(file: string): Promise<{ format: 'jpeg' | 'heic'; bytes: Buffer }> {
  const st = await fs.stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new LivePhotoError('SOURCE_NOT_FOUND', `${file} does not exist or is not a file`);
  if (st.size === 0) throw new LivePhotoError('SOURCE_EMPTY', `${file} is empty`);
  if (st.size > MAX_MOTION_PHOTO_STILL_BYTES) throw new LivePhotoError('INPUT_UNSUPPORTED', `${file} is ${st.size} bytes: no phone's still is that large`);
  const bytes = await fs.readFile(file);
  if (isHeifStillHead(bytes)) return { format: 'heic', bytes };
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return { format: 'jpeg', bytes };
  throw new LivePhotoError('INPUT_NOT_MEDIA', `${path.basename(file)} is neither a JPEG nor a HEIC still`);
}

