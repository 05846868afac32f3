import { LivePhotoError } from '@vid2live/errors';
import { MOVIE_TIMESCALE } from '../types';
import type { Box } from './boxes';
import type { PresentationTimes } from './sample-tables';
import { APPLE_KEYS, QT_DATA_TYPE } from './quicktime-meta';
import { containerBox, fullBox, leafBox, u32s, u32Type } from './writer';

/** The local key id of still-image-time inside our `mebx` sample entry and sample. */
export const STILL_IMAGE_TIME_LOCAL_KEY_ID = 1;
/** Genuine iPhones write −1 ("this tag always has a value of -1", ExifTool QuickTime.pm). */
export const STILL_IMAGE_TIME_VALUE = -1;
export const STILL_IMAGE_TIME_SAMPLE_SIZE = 9;

export interface StillImageTimeTrackParams {
  trackId: number;
  /** the video track the marker describes (`tref/cdsc`) */
  videoTrackId: number;
  /** S: still time in movie timescale units (length of the empty edit) */
  stillTimeUnits: number;
  /** T: `mvhd.timescale` */
  timescale: number;
  /** absolute file offset of the 9-byte sample */
  sampleOffset: number;
  /**
   * also declare local key 2 `live-photo-still-image-transform` (dtyp 83) and carry an identity matrix in the
   * sample (89 bytes): what the wallpaper recipes' template track has (TouSC metadata.mov, ChasonJiang boxes.py)
   */
  withTransform?: boolean;
}

/** Local key id of the still-image transform in the wallpaper form of the track. */
export const STILL_IMAGE_TRANSFORM_LOCAL_KEY_ID = 2;
/** QuickTime well-known type 83: 3×3 matrix of float64, big-endian (72 bytes). */
export const STILL_IMAGE_TRANSFORM_DATA_TYPE = 83;
/** 9-byte still-image-time item + 80-byte transform item. */
export const STILL_IMAGE_TIME_WITH_TRANSFORM_SAMPLE_SIZE = STILL_IMAGE_TIME_SAMPLE_SIZE + 8 + 72;

/** The wallpaper form of the sample: still-image-time −1, then an identity still-image transform. */
export function buildStillImageTimeSampleWithTransform(): Buffer {
  const transform = Buffer.alloc(8 + 72);
  transform.writeUInt32BE(transform.length, 0);
  transform.writeUInt32BE(STILL_IMAGE_TRANSFORM_LOCAL_KEY_ID, 4);
  [1, 0, 0, 0, 1, 0, 0, 0, 1].forEach((v, i) => transform.writeDoubleBE(v, 8 + i * 8));
  return Buffer.concat([buildStillImageTimeSample(), transform]);
}

/** The 9-byte sample: item size, local key id, int8 −1 (spec Appendix A.4). */
export function buildStillImageTimeSample(): Buffer {
  const sample = Buffer.alloc(STILL_IMAGE_TIME_SAMPLE_SIZE);
  sample.writeUInt32BE(STILL_IMAGE_TIME_SAMPLE_SIZE, 0);
  sample.writeUInt32BE(STILL_IMAGE_TIME_LOCAL_KEY_ID, 4);
  sample.writeInt8(STILL_IMAGE_TIME_VALUE, 8);
  return sample;
}

/** D: the marker's own duration, one 1/600 s tick expressed in the movie timescale (spec §3.3). */
export function markerDuration(timescale: number): number {
  return Math.max(1, Math.round(timescale / MOVIE_TIMESCALE));
}

const IDENTITY_MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];
/** enabled | in movie | in preview | in poster — what Apple sets on every track. */
export const APPLE_TRACK_FLAGS = 0xf;

function pascalString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function fitsU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/**
 * The timed-metadata `trak` carrying `com.apple.quicktime.still-image-time` (spec §3.3, Appendix A.3):
 * an empty edit of S puts the single sample at the still's movie time; the media timescale equals the
 * movie timescale so the sample lasts exactly the marker duration D.
 */
export function buildStillImageTimeTrack(p: StillImageTimeTrackParams): Box {
  const S = p.stillTimeUnits;
  const T = p.timescale;
  const D = markerDuration(T);
  if (!fitsU32(S + D) || !fitsU32(T) || T === 0 || !fitsU32(p.trackId) || p.trackId === 0 || !fitsU32(p.videoTrackId)) {
    throw new LivePhotoError('METADATA_WRITE_FAILED', 'still-image-time track parameters out of range', { ...p });
  }
  if (!Number.isInteger(p.sampleOffset) || p.sampleOffset < 0) {
    throw new LivePhotoError('METADATA_WRITE_FAILED', `bad sample offset ${p.sampleOffset}`);
  }

  const tkhd = fullBox(
    'tkhd',
    0,
    APPLE_TRACK_FLAGS,
    Buffer.concat([
      u32s(0, 0, p.trackId, 0, S + D), // creation, modification, track_ID, reserved, duration
      Buffer.alloc(8), // reserved
      Buffer.alloc(8), // layer, alternate group, volume, reserved
      u32s(...IDENTITY_MATRIX),
      u32s(0, 0), // width, height
    ]),
  );
  // Empty edit (media_time −1) of S, then the marker itself at media time 0.
  const elst = fullBox('elst', 0, 0, u32s(2, S, 0xffffffff, 0x00010000, D, 0, 0x00010000));
  const tref = containerBox('tref', [leafBox('cdsc', u32s(p.videoTrackId))]);

  const mdhd = fullBox('mdhd', 0, 0, Buffer.concat([u32s(0, 0, T, D), Buffer.from([0x55, 0xc4, 0, 0])]));
  const mediaHandler = fullBox(
    'hdlr',
    0,
    0,
    Buffer.concat([Buffer.from('mhlrmetaappl', 'latin1'), u32s(1, 0), pascalString('Core Media Metadata')]),
  );
  const gmhd = containerBox('gmhd', [
    fullBox('gmin', 0, 0, Buffer.from([0x00, 0x40, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0, 0, 0, 0])),
  ]);
  const dataHandler = fullBox(
    'hdlr',
    0,
    0,
    Buffer.concat([Buffer.from('dhlralisappl', 'latin1'), u32s(0, 0), pascalString('Core Media Data Handler')]),
  );
  // `alis` with flags 1 = "data is in this file".
  const dinf = containerBox('dinf', [containerBox('dref', [fullBox('alis', 0, 1, Buffer.alloc(0))], u32s(0, 1))]);

  const keyd = leafBox('keyd', Buffer.concat([Buffer.from('mdta', 'latin1'), Buffer.from(APPLE_KEYS.stillImageTime, 'utf8')]));
  const dtyp = leafBox('dtyp', u32s(0, QT_DATA_TYPE.int8)); // well-known namespace, signed int8
  const keyBoxes = [containerBox(u32Type(STILL_IMAGE_TIME_LOCAL_KEY_ID), [keyd, dtyp])];
  if (p.withTransform) {
    keyBoxes.push(
      containerBox(u32Type(STILL_IMAGE_TRANSFORM_LOCAL_KEY_ID), [
        leafBox('keyd', Buffer.concat([Buffer.from('mdta', 'latin1'), Buffer.from(APPLE_KEYS.stillImageTransform, 'utf8')])),
        leafBox('dtyp', u32s(0, STILL_IMAGE_TRANSFORM_DATA_TYPE)),
      ]),
    );
  }
  const mebxKeys = containerBox('keys', keyBoxes);
  const mebx = containerBox('mebx', [mebxKeys], Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]));
  const stsd = containerBox('stsd', [mebx], u32s(0, 1));
  const stts = fullBox('stts', 0, 0, u32s(1, 1, D));
  const stsc = fullBox('stsc', 0, 0, u32s(1, 1, 1, 1));
  const stsz = fullBox('stsz', 0, 0, u32s(p.withTransform ? STILL_IMAGE_TIME_WITH_TRANSFORM_SAMPLE_SIZE : STILL_IMAGE_TIME_SAMPLE_SIZE, 1));
  const chunkOffset = fitsU32(p.sampleOffset)
    ? fullBox('stco', 0, 0, u32s(1, p.sampleOffset))
    : fullBox('co64', 0, 0, Buffer.concat([u32s(1), bigU64(p.sampleOffset)]));
  const stbl = containerBox('stbl', [stsd, stts, stsc, stsz, chunkOffset]);

  const minf = containerBox('minf', [gmhd, dataHandler, dinf, stbl]);
  const mdia = containerBox('mdia', [mdhd, mediaHandler, minf]);
  return containerBox('trak', [tkhd, containerBox('edts', [elst]), tref, mdia]);
}

function bigU64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}

/** Still times this close to a frame's start (float error of n/30 and the like) mean that frame. */
const FRAME_START_TOLERANCE_SECONDS = 1e-6;

/**
 * S: the still time in movie timescale units, never before the start of the video frame shown at `stillTime`.
 * Plain rounding lands one tick early whenever the frame starts between ticks — frame n of a 30 fps clip starts
 * at n/30 s, 33.33… ms in ffmpeg's default timescale 1000, so round() picks tick 33 in frame 0 for frame 1, one
 * key frame in three — and a reader then shows the previous frame. So: find the frame that contains the still
 * time (from the video's own sample table and edit list) and keep round(stillTime × T) only if it falls inside
 * that frame, else take the first tick at or after the frame's start. Without usable timing, or outside every
 * frame (a still at the very end), plain rounding.
 */
export function stillTimeUnits(stillTime: number, T: number, video: PresentationTimes | null): number {
  const rounded = Math.round(stillTime * T);
  if (!video || video.frames.length === 0) return rounded;
  const at = (stillTime + FRAME_START_TOLERANCE_SECONDS) * video.unitsPerSecond;
  // Frames are sorted by start: binary search for the last one starting at or before `at`.
  let lo = 0;
  let hi = video.frames.length - 1;
  if (video.frames[0].start > at) return rounded;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (video.frames[mid].start <= at) lo = mid;
    else hi = mid - 1;
  }
  const frame = video.frames[lo];
  if (at >= frame.end) return rounded;
  const roundedUnits = rounded * video.unitsPerMovieTick;
  if (roundedUnits >= frame.start && roundedUnits < frame.end) return rounded;
  return Math.ceil(frame.start / video.unitsPerMovieTick);
}
