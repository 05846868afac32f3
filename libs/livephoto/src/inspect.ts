import { isLivePhotoError, LivePhotoError, LivePhotoErrorCode } from '@vid2live/errors';
import { isContentIdentifier, jpegMarkerAt, readJpegExif, readJpegHeader } from './exif';
import { readHeicExifFromHandle } from './heif';
import { readMotionPhoto } from './motion-photo';
import { readLivePhotoMov } from './quicktime';
import { openRegularFile, readAt } from './quicktime/regular-file';
import { wallpaperReport, type WallpaperReport } from './wallpaper-check';

/**
 * The validator: is this pair a Live Photo, and if not, why not (spec §5 checklist). Errors are what stops a
 * consumer (Photos, PhotoKit, immich) from pairing; warnings are deviations from what an iPhone writes.
 */
export type InspectCode =
  | 'STILL_UNREADABLE'
  | 'STILL_NOT_JPEG_OR_HEIC'
  | 'STILL_NO_EXIF'
  | 'MAKERNOTE_MISSING'
  | 'STILL_NO_CONTENT_ID'
  | 'CONTENT_ID_NOT_UUID'
  | 'CONTENT_ID_LOWER_CASE'
  | 'MULTIPLE_EXIF_APP1'
  | 'MAKE_NOT_APPLE_WITH_LONG8'
  | 'MOVIE_UNREADABLE'
  | 'MOVIE_NO_FTYP'
  | 'MOVIE_BRAND_NOT_QT'
  | 'MOVIE_META_IN_UDTA'
  | 'MOVIE_META_FULLBOX'
  | 'MOVIE_NO_CONTENT_ID'
  | 'CONTENT_ID_MISMATCH'
  | 'NO_STILL_IMAGE_TIME_TRACK'
  | 'STILL_IMAGE_TIME_VALUE_ZERO'
  | 'STILL_IMAGE_TIME_BAD_VALUE'
  | 'STILL_TIME_AT_ZERO'
  | 'STILL_TIME_OUTSIDE_MOVIE'
  | 'NO_TREF_CDSC'
  | 'NO_VIDEO_TRACK'
  | 'VIDEO_CODEC_UNUSUAL'
  | 'MOVIE_TOO_LONG'
  | 'VIDEO_MATRIX_UNUSUAL'
  | 'ASPECT_MISMATCH'
  | 'NOT_MOTION_PHOTO'
  | 'MOTION_PHOTO_PROBLEM'
  | 'PVT_PACKAGE_INVALID'
  | 'PVT_NAME_UNUSUAL';

export interface InspectIssue {
  code: InspectCode;
  message: string;
  /** for STILL_UNREADABLE / MOVIE_UNREADABLE / NOT_MOTION_PHOTO: the typed error that made the file unreadable */
  errorCode?: LivePhotoErrorCode;
}

export interface InspectOptions {
  /**
   * a still larger than this is refused (STILL_UNREADABLE, INVALID_CONTAINER) from its size alone, never read;
   * default DEFAULT_MAX_STILL_BYTES
   */
  maxStillBytes?: number;
  /** also check the lock-screen Live Wallpaper requirements (report.wallpaper; see wallpaper-check.ts) */
  wallpaper?: boolean;
}

/** A still photo over this is no phone's (a 48 MP HEIC is ~10 MB, a 48 MP JPEG ~25 MB). */
export const DEFAULT_MAX_STILL_BYTES = 64 * 1024 * 1024;

/** The issue for a file that could not be read at all, keeping the typed error's code. */
function unreadable(code: InspectCode, file: string, e: unknown): InspectIssue {
  return { code, message: `${file}: ${(e as Error).message}`, ...(isLivePhotoError(e) ? { errorCode: e.code } : {}) };
}

export interface InspectReport {
  kind: 'live-photo' | 'motion-photo';
  valid: boolean;
  contentIdentifier: string | null;
  /** seconds into the movie where the still sits */
  stillTime: number | null;
  /** human-readable facts for the report */
  facts: Record<string, string>;
  errors: InspectIssue[];
  warnings: InspectIssue[];
  /** with `wallpaper: true`: each wallpaper requirement, met / not-met / unknown */
  wallpaper?: WallpaperReport;
}

const UUID_ANY_CASE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

interface StillFacts {
  format: 'jpeg' | 'heic';
  contentIdentifier: string | null;
  width?: number;
  height?: number;
}

export async function inspectLivePhoto(stillPath: string, moviePath: string, options: InspectOptions = {}): Promise<InspectReport> {
  const errors: InspectIssue[] = [];
  const warnings: InspectIssue[] = [];
  const facts: Record<string, string> = {};
  const err = (code: InspectCode, message: string) => errors.push({ code, message });
  const warn = (code: InspectCode, message: string) => warnings.push({ code, message });

  const still = await inspectStill(stillPath, err, warn, options.maxStillBytes ?? DEFAULT_MAX_STILL_BYTES).catch((e: unknown) => {
    errors.push(unreadable('STILL_UNREADABLE', stillPath, e));
    return undefined;
  });
  if (still) {
    facts.still = `${stillPath} (${still.format.toUpperCase()}${still.width ? `, ${still.width}×${still.height}` : ''})`;
    facts['still content identifier'] = still.contentIdentifier ?? '(none)';
  }

  let movieId: string | null = null;
  let stillTime: number | null = null;
  try {
    const mov = await readLivePhotoMov(moviePath);
    movieId = mov.contentIdentifier;
    facts.movie = `${moviePath} (${mov.videoTrack ? `${mov.videoTrack.codec} ${mov.videoTrack.width}×${mov.videoTrack.height}, ` : ''}${mov.movieDuration.toFixed(2)} s)`;
    facts['movie content identifier'] = movieId ?? '(none)';

    // 4. ftyp
    if (mov.ftypMajorBrand === null) warn('MOVIE_NO_FTYP', 'the MOV has no ftyp box (AFC exports look like this; writers should emit `qt  `)');
    else if (mov.ftypMajorBrand !== 'qt  ') warn('MOVIE_BRAND_NOT_QT', `the MOV's major brand is '${mov.ftypMajorBrand}', not 'qt  '`);

    // 5. moov/meta content identifier (metaLocation says which meta box the reader took it from)
    if (mov.metaLocation === 'udta') {
      err('MOVIE_META_IN_UDTA', 'the content identifier key is in moov/udta/meta (ffmpeg use_metadata_tags); Apple reads moov/meta only');
    } else if (mov.metaLocation === 'moov' && mov.metaIsFullBox) {
      err('MOVIE_META_FULLBOX', 'moov/meta is an ISO FullBox (version/flags); AVFoundation drops it — it must be QuickTime-style');
    } else if (movieId === null) {
      err('MOVIE_NO_CONTENT_ID', 'the MOV has no com.apple.quicktime.content.identifier in moov/meta');
    }
    if (movieId !== null) checkIdentifierShape('movie', movieId, err);

    // 6. still-image-time track
    const track = mov.stillImageTrack;
    if (!track) {
      err('NO_STILL_IMAGE_TIME_TRACK', 'no still-image-time timed-metadata track (PhotoKit refuses the pair; no key frame)');
    } else {
      stillTime = track.stillTime;
      facts['still time'] = `${track.stillTime.toFixed(3)} s of ${mov.movieDuration.toFixed(3)} s (track ${track.trackId}, value ${track.value})`;
      if (track.value === 0) warn('STILL_IMAGE_TIME_VALUE_ZERO', 'still-image-time value is 0 (AVAssetWriter recipe); iPhones write -1');
      else if (track.value !== -1) err('STILL_IMAGE_TIME_BAD_VALUE', `still-image-time value is ${track.value}, expected -1`);
      if (track.stillTime <= 0) warn('STILL_TIME_AT_ZERO', 'the still sits at 0 s: the key frame is the first frame (no swipe preview)');
      else if (track.stillTime >= mov.movieDuration) {
        err('STILL_TIME_OUTSIDE_MOVIE', `the still time ${track.stillTime.toFixed(3)} s is not inside the ${mov.movieDuration.toFixed(3)} s movie`);
      }
      if (!track.hasCdsc) warn('NO_TREF_CDSC', 'the still-image-time track has no tref/cdsc to the video track');
    }

    // 7. the video itself
    const v = mov.videoTrack;
    if (!v) {
      err('NO_VIDEO_TRACK', 'the MOV has no video track');
    } else {
      if (v.codec !== 'hvc1' && v.codec !== 'avc1') warn('VIDEO_CODEC_UNUSUAL', `video sample entry '${v.codec}' (iPhones use hvc1; avc1 works)`);
      if (mov.movieDuration > 5.5) warn('MOVIE_TOO_LONG', `the movie is ${mov.movieDuration.toFixed(1)} s; Live Photos are ~1.5–3 s`);
      const rotation = matrixRotation(v.matrix);
      if (rotation === null) warn('VIDEO_MATRIX_UNUSUAL', 'the video track matrix is not a multiple of 90°');
      if (still?.width && still.height && v.width && v.height) {
        const [w, h] = rotation === 90 || rotation === 270 ? [v.height, v.width] : [v.width, v.height];
        const a = still.width / still.height;
        const b = w / h;
        if (Math.abs(a - b) / b > 0.02) {
          warn('ASPECT_MISMATCH', `still aspect ${still.width}×${still.height} differs from the video's ${w}×${h}`);
        }
      }
    }
  } catch (e) {
    errors.push(unreadable('MOVIE_UNREADABLE', moviePath, e));
  }

  const stillId = still?.contentIdentifier ?? null;
  if (stillId !== null && movieId !== null && stillId !== movieId) {
    // Byte compare: immich and Photos match exactly, case included.
    err('CONTENT_ID_MISMATCH', `the still says ${stillId} but the movie says ${movieId}`);
  }
  const report: InspectReport = {
    kind: 'live-photo',
    valid: errors.length === 0,
    contentIdentifier: errors.length === 0 ? stillId : stillId ?? movieId,
    stillTime,
    facts,
    errors,
    warnings,
  };
  if (options.wallpaper) report.wallpaper = await wallpaperReport(stillPath, moviePath, report);
  return report;
}

function checkIdentifierShape(where: string, id: string, err: (c: InspectCode, m: string) => void): void {
  if (!UUID_ANY_CASE.test(id)) err('CONTENT_ID_NOT_UUID', `the ${where}'s content identifier '${id}' is not a UUID`);
  else if (!isContentIdentifier(id)) {
    err('CONTENT_ID_LOWER_CASE', `the ${where}'s content identifier '${id}' is not upper-case (iPhones write upper case; matching is exact)`);
  }
}

async function inspectStill(
  stillPath: string,
  err: (c: InspectCode, m: string) => void,
  warn: (c: InspectCode, m: string) => void,
  maxStillBytes: number,
): Promise<StillFacts> {
  // Read by offset from a regular file of bounded size: a FIFO, a device or a directory is refused before any
  // read, and neither a JPEG's image data nor a HEIC's media data is ever loaded.
  const { handle, size: fileSize } = await openRegularFile(stillPath);
  let format: StillFacts['format'];
  let parsed;
  let size: { width: number; height: number } | undefined;
  try {
    if (fileSize > maxStillBytes) {
      throw new LivePhotoError('INVALID_CONTAINER', `the still is ${fileSize} B; a still may be at most ${maxStillBytes} B`, {
        path: stillPath,
        size: fileSize,
        maxBytes: maxStillBytes,
        reason: 'too-large',
      });
    }
    const magic = await readAt(handle, Math.min(12, fileSize), 0);
    if (magic[0] === 0xff && magic[1] === 0xd8) {
      format = 'jpeg';
      const header = await readJpegHeader(handle, fileSize);
      const exif = readJpegExif(header);
      if (exif.exifApp1Count > 1) warn('MULTIPLE_EXIF_APP1', `the JPEG has ${exif.exifApp1Count} Exif APP1 segments; readers may pick the wrong one`);
      parsed = exif.tiff;
      size = jpegSize(header);
    } else if (magic.length >= 8 && magic.toString('latin1', 4, 8) === 'ftyp') {
      format = 'heic';
      const heic = await readHeicExifFromHandle(handle, fileSize);
      parsed = heic.tiff;
    } else {
      throw new LivePhotoError('INVALID_CONTAINER', 'the still is neither a JPEG nor a HEIF file');
    }
  } finally {
    await handle.close();
  }

  if (!parsed) {
    err('STILL_NO_EXIF', 'the still has no Exif block, so no Apple MakerNote');
    return { format, contentIdentifier: null, ...size };
  }
  const exifSize = exifDimensions(parsed);
  size ??= exifSize;
  const makerNote = parsed.makerNote;
  if (!makerNote) {
    err('MAKERNOTE_MISSING', 'the Exif block has no Apple MakerNote ("Apple iOS"), so no ContentIdentifier');
    return { format, contentIdentifier: null, ...size };
  }
  const id = makerNote.contentIdentifier;
  if (!id) {
    err('STILL_NO_CONTENT_ID', 'the Apple MakerNote has no ContentIdentifier (tag 0x0011)');
    return { format, contentIdentifier: null, ...size };
  }
  checkIdentifierShape('still', id, err);
  const make = parsed.ifd0.get(0x010f);
  const hasLong8 = makerNote.entries.some((e: { type: number }) => e.type === 16);
  if (hasLong8 && String(make ?? '').replace(/\0+$/, '') !== 'Apple') {
    warn('MAKE_NOT_APPLE_WITH_LONG8', 'the MakerNote has a type-16 entry but IFD0 Make is not "Apple": ExifTool edits will drop it (P5)');
  }
  return { format, contentIdentifier: id, ...size };
}

function exifDimensions(parsed: { exif: Map<number, unknown> }): { width: number; height: number } | undefined {
  const w = Number(parsed.exif.get(0xa002));
  const h = Number(parsed.exif.get(0xa003));
  return w > 0 && h > 0 ? { width: w, height: h } : undefined;
}

/** Frame size from the first SOFn marker (walked with the one JPEG marker walk, `jpegMarkerAt`). */
function jpegSize(buf: Buffer): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < buf.length) {
    const step = jpegMarkerAt(buf, i);
    if (step.kind !== 'marker' || step.problem !== null || !step.segment) return undefined;
    const { marker, offset, segment } = step;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return offset + 9 <= buf.length ? { height: buf.readUInt16BE(offset + 5), width: buf.readUInt16BE(offset + 7) } : undefined;
    if (marker === 0xda || marker === 0xd9) return undefined;
    i = offset + segment.length;
  }
  return undefined;
}

/** 0/90/180/270 for a rotation matrix, null for anything else (16.16 fixed point a,b,c,d in [0,1,3,4]). */
function matrixRotation(m: number[]): 0 | 90 | 180 | 270 | null {
  if (!m || m.length < 5) return 0;
  const [a, b, , c, d] = m.map((v) => Math.round(v / 65536));
  if (a === 1 && b === 0 && c === 0 && d === 1) return 0;
  if (a === 0 && b === 1 && c === -1 && d === 0) return 90;
  if (a === -1 && b === 0 && c === 0 && d === -1) return 180;
  if (a === 0 && b === -1 && c === 1 && d === 0) return 270;
  return null;
}

/** A Google Motion Photo v1 (one JPEG with an MP4 appended), and the Apple MakerNote if it carries one. */
export async function inspectMotionPhoto(filePath: string): Promise<InspectReport> {
  const errors: InspectIssue[] = [];
  const warnings: InspectIssue[] = [];
  const facts: Record<string, string> = {};
  let contentIdentifier: string | null = null;
  let stillTime: number | null = null;
  try {
    const mp = await readMotionPhoto(filePath);
    if (!mp.isMotionPhoto) {
      errors.push({ code: 'NOT_MOTION_PHOTO', message: 'no GCamera:MotionPhoto XMP with a Container:Directory' });
    }
    for (const p of mp.problems) errors.push({ code: 'MOTION_PHOTO_PROBLEM', message: p });
    if (mp.presentationTimestampUs !== undefined && mp.presentationTimestampUs !== null && mp.presentationTimestampUs >= 0) {
      stillTime = mp.presentationTimestampUs / 1e6;
    }
    facts['motion photo'] = `${filePath}: version ${mp.version ?? '?'}, video ${mp.videoLength ?? '?'} B at ${mp.videoOffset ?? '?'} (${mp.videoMime ?? '?'}, brand ${mp.videoBrand ?? '?'})`;
    if (stillTime !== null) facts['presentation time'] = `${stillTime.toFixed(3)} s`;
    const exif = readJpegExif(await readJpegHeaderOf(filePath));
    contentIdentifier = exif.tiff?.makerNote?.contentIdentifier ?? null;
    if (contentIdentifier) facts['content identifier'] = contentIdentifier;
  } catch (e) {
    errors.push(unreadable('NOT_MOTION_PHOTO', filePath, e));
  }
  return { kind: 'motion-photo', valid: errors.length === 0, contentIdentifier, stillTime, facts, errors, warnings };
}

/** The header segments of a JPEG file, read by offset (a Motion Photo's video is never loaded). */
async function readJpegHeaderOf(filePath: string): Promise<Buffer> {
  const { handle, size } = await openRegularFile(filePath);
  try {
    return await readJpegHeader(handle, size);
  } finally {
    await handle.close();
  }
}
