import { demuxerKind } from '@vid2live/media/demuxers';
import type { FfprobeData, FfprobeStream } from '@vid2live/media/ffprobe-data';
import { LivePhotoError } from '@vid2live/errors';
import { GpsPosition, SourceInfo } from '../types';
import { chooseCaptureTime } from './capture-time';
import { isUnsupportedDolbyVision, sourceColorOf } from './color';
import { displaySize, orientationOfMatrix, parseDisplayMatrix, parseSampleAspectRatio } from './geometry';

/**
 * ffprobe's JSON → SourceInfo: which video track is the picture, its upright geometry (display matrix, sample
 * aspect ratio), colour, frame rate, capture time, GPS, make/model — or the input error saying why it is not a
 * usable video. Pure: it reads only the JSON (recorded JSON in the fast tests).
 */

/** image2 (JPEG/PNG/... by extension), the *_pipe demuxers (content-sniffed images) and apng. */
function isImageFormat(formatName: string): boolean {
  return demuxerKind(formatName) === 'image';
}

/** Animated GIFs are accepted as short videos; a GIF with a single frame is a still like a JPEG. */
function isSingleFrameGif(formatName: string, data: FfprobeData): boolean {
  if (formatName !== 'gif') return false;
  const frames = data.streams.filter((s) => s.codec_type === 'video').map((s) => num(s.nb_frames));
  return frames.length > 0 && frames.every((n) => n !== undefined && n <= 1);
}

/**
 * A file some ffmpeg demuxer can open but that is no audio/video container (media/src/demuxers.ts has the
 * allow-list): a .txt file opens as `tty` and would otherwise become a Live Photo of its rendered text.
 */
export function notMedia(sourcePath: string, formatName: string): LivePhotoError {
  return new LivePhotoError(
    'INPUT_NOT_MEDIA',
    `${sourcePath} is not a video: ffmpeg reads it as '${formatName}', which is not an audio/video container vid2live accepts`,
    { file: sourcePath, formatName },
  );
}

/** "30000/1001" → 29.97; "0/0" → 0 */
export function parseRate(rate?: string): number {
  if (!rate) return 0;
  const [n, d] = rate.split('/').map(Number);
  if (!Number.isFinite(n) || !d) return Number.isFinite(n) && rate.indexOf('/') < 0 ? n : 0;
  return n / d;
}

export function num(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '' || value === 'N/A') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Bits per sample from pix_fmt (yuv420p10le → 10, p010le → 10, yuv420p → 8), else bits_per_raw_sample. */
export function bitDepthOf(pixFmt: string, bitsPerRawSample?: string): number {
  const semi = /^p[0-4](\d{2})(le|be)$/.exec(pixFmt); // p010le, p016le, p210le
  if (semi) return Number(semi[1]);
  if (/^(rgb|bgr)(48|a64)|^rgba64|^bgra64/.test(pixFmt)) return 16;
  const planar = /(?:p|gray|f)(\d{1,2})(le|be)$/.exec(pixFmt);
  if (planar) return Number(planar[1]);
  const raw = num(bitsPerRawSample);
  if (raw && raw > 0 && raw <= 16) return raw;
  return 8;
}

/** Clockwise display rotation. ffprobe's display-matrix `rotation` is counter-clockwise (-90 = 90° clockwise). */
export function rotationOf(stream: FfprobeStream): 0 | 90 | 180 | 270 {
  const matrix = stream.side_data_list?.find((s) => typeof s.rotation === 'number');
  let clockwise: number | undefined;
  if (matrix && typeof matrix.rotation === 'number') clockwise = -matrix.rotation;
  else if (stream.tags?.rotate !== undefined) clockwise = num(stream.tags.rotate); // legacy tag is clockwise
  if (clockwise === undefined) return 0;
  const snapped = (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
  return snapped as 0 | 90 | 180 | 270;
}

/**
 * ISO 6709 position as QuickTime stores it: `+39.9990+116.3477+054.305/`; also the DDMM(.mm) and DDMMSS forms.
 */
export function parseIso6709(text: string): GpsPosition | undefined {
  const m = /^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?/.exec(text);
  if (!m) return undefined;
  const toDegrees = (s: string, degDigits: number): number => {
    const sign = s.startsWith('-') ? -1 : 1;
    const body = s.slice(1);
    const [int, frac = ''] = body.split('.');
    const f = frac ? Number(`0.${frac}`) : 0;
    if (int.length <= degDigits) return sign * (Number(int) + f);
    if (int.length <= degDigits + 2) {
      const deg = Number(int.slice(0, degDigits));
      const min = Number(int.slice(degDigits)) + f;
      return sign * (deg + min / 60);
    }
    const deg = Number(int.slice(0, degDigits));
    const min = Number(int.slice(degDigits, degDigits + 2));
    const sec = Number(int.slice(degDigits + 2)) + f;
    return sign * (deg + min / 60 + sec / 3600);
  };
  const latitude = toDegrees(m[1], 2);
  const longitude = toDegrees(m[2], 3);
  if (!(Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180)) return undefined;
  // 0°, 0° (`+00.0000+000.0000/`) is what phones write without a fix: a point in the Gulf of Guinea, not a place.
  if (latitude === 0 && longitude === 0) return undefined;
  const pos: GpsPosition = { latitude, longitude };
  if (m[3] !== undefined) pos.altitude = Number(m[3]);
  return pos;
}

function lowerKeys(tags?: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function pick(tags: Record<string, string>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = tags[k]?.trim();
    if (v) return v;
  }
  return undefined;
}

/** mov/mp4 write 0 as "no time"; it comes back as the 1904 or 1970 epoch. */
function isPlaceholderTime(t: string): boolean {
  return /^(1904|1970)-01-01T00:00:00/.test(t);
}

/**
 * The picture of the file when it has several video tracks (a Pixel motion photo carries a 2.1 s clip and a
 * one-frame high-resolution track; some cameras add a low-resolution proxy): the longest one, then the one with
 * the most frames, then the largest. Cover art (attached pictures) was removed before.
 */
export function chooseMainVideoStream(videos: FfprobeStream[]): FfprobeStream | undefined {
  const score = (s: FfprobeStream) => [num(s.duration) ?? 0, num(s.nb_frames) ?? 0, (s.width ?? 0) * (s.height ?? 0)];
  let best: FfprobeStream | undefined;
  for (const v of videos) {
    if (!best) {
      best = v;
      continue;
    }
    const [a, b] = [score(v), score(best)];
    // durations within 5 % are "the same length": frame counts decide
    const sameLength = Math.abs(a[0] - b[0]) <= 0.05 * Math.max(a[0], b[0]);
    if (!sameLength ? a[0] > b[0] : a[1] !== b[1] ? a[1] > b[1] : a[2] > b[2]) best = v;
  }
  return best;
}

/** Builds SourceInfo from ffprobe's JSON, or throws the input error that explains why it is not a usable video. */
export function sourceInfoFromFfprobe(sourcePath: string, sizeBytes: number, data: FfprobeData): SourceInfo {
  const formatName = data.format?.format_name ?? '';
  if (isImageFormat(formatName)) {
    throw new LivePhotoError('INPUT_IS_IMAGE', `${sourcePath} is a still image (${formatName}), not a video`, {
      file: sourcePath,
      formatName,
    });
  }
  // probeSource's ffprobe already refuses other demuxers; this also covers ffprobe JSON from elsewhere.
  if (formatName && demuxerKind(formatName) === undefined) throw notMedia(sourcePath, formatName);
  if (isSingleFrameGif(formatName, data)) {
    throw new LivePhotoError('INPUT_IS_IMAGE', `${sourcePath} is a still image (a GIF with one frame), not a video`, {
      file: sourcePath,
      formatName,
    });
  }
  const videos = data.streams.filter((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audios = data.streams.filter((s) => s.codec_type === 'audio');
  const video = chooseMainVideoStream(videos);
  if (!video) {
    if (audios.length > 0) {
      throw new LivePhotoError('INPUT_NO_VIDEO', `${sourcePath} has no video stream (audio only: ${audios[0].codec_name})`, {
        file: sourcePath,
      });
    }
    if (data.streams.length === 0 && /mov|mp4|matroska|webm|avi/.test(formatName)) {
      // What ffmpeg writes for a video encode that produced no frames: a valid container without tracks.
      throw new LivePhotoError('INPUT_ZERO_DURATION', `${sourcePath} contains no frames (an empty ${formatName} container)`, {
        file: sourcePath,
      });
    }
    throw new LivePhotoError('INPUT_NO_VIDEO', `${sourcePath} has no video stream (${formatName})`, { file: sourcePath });
  }

  const nbFrames = num(video.nb_frames);
  const duration = num(video.duration) ?? num(data.format?.duration) ?? 0;
  if (nbFrames === 0 || !(duration > 0)) {
    throw new LivePhotoError(
      'INPUT_ZERO_DURATION',
      `${sourcePath} has a video stream with ${nbFrames === 0 ? 'no frames' : 'zero duration'}`,
      { file: sourcePath, duration, frameCount: nbFrames },
    );
  }

  const width = video.width ?? 0;
  const height = video.height ?? 0;
  const matrixText = video.side_data_list?.find((s) => typeof s.displaymatrix === 'string')?.displaymatrix as string | undefined;
  const orientation = orientationOfMatrix(parseDisplayMatrix(matrixText), rotationOf(video));
  const rotation = orientation.rotation;
  const sampleAspectRatio = parseSampleAspectRatio(video.sample_aspect_ratio);
  const { displayWidth, displayHeight } = displaySize(width, height, sampleAspectRatio, rotation);
  const color = sourceColorOf(video);
  if (isUnsupportedDolbyVision(color)) {
    throw new LivePhotoError(
      'INPUT_UNSUPPORTED',
      `${sourcePath} is Dolby Vision profile ${color.dolbyVision?.profile} without a backward-compatible base layer; its colours cannot be converted`,
      { file: sourcePath, dolbyVision: color.dolbyVision },
    );
  }
  const avg = parseRate(video.avg_frame_rate);
  const real = parseRate(video.r_frame_rate);
  const fps = avg > 0 ? avg : real > 0 ? real : nbFrames ? nbFrames / duration : 0;
  // r_frame_rate is the smallest common rate; an average off by >2 % means frame durations vary.
  const variableFrameRate = avg > 0 && real > 0 && Math.abs(real - avg) / avg > 0.02;

  const fmtTags = lowerKeys(data.format?.tags);
  const vTags = lowerKeys(video.tags);
  const captureCandidates = [
    pick(fmtTags, ['com.apple.quicktime.creationdate']), // keeps the local offset, e.g. 2025-01-01T11:06:46+0900
    pick(fmtTags, ['creation_time']),
    pick(fmtTags, ['date']),
    pick(vTags, ['creation_time']),
  ].filter((t): t is string => !!t && !isPlaceholderTime(t));
  // A stated offset beats UTC: the pair stage can then write local time without guessing the zone.
  const captureTime = chooseCaptureTime(captureCandidates);
  const location = pick(fmtTags, ['com.apple.quicktime.location.iso6709', 'location', 'location-eng']);
  const gps = location ? parseIso6709(location) : undefined;
  const audio = audios[0];

  const info: SourceInfo = {
    path: sourcePath,
    sizeBytes,
    formatName,
    duration,
    width,
    height,
    rotation,
    mirrored: orientation.mirrored,
    orientationFilters: orientation.filters,
    sampleAspectRatio,
    displayWidth,
    displayHeight,
    videoStreamIndex: video.index,
    color,
    fps,
    variableFrameRate,
    videoCodec: video.codec_name ?? 'unknown',
    pixelFormat: video.pix_fmt ?? 'unknown',
    bitDepth: bitDepthOf(video.pix_fmt ?? '', video.bits_per_raw_sample),
    hasAudio: !!audio,
  };
  if (nbFrames !== undefined) info.frameCount = nbFrames;
  if (audio?.codec_name) info.audioCodec = audio.codec_name;
  if (captureTime) info.captureTime = captureTime;
  if (gps) info.gps = gps;
  const make = pick(fmtTags, ['com.apple.quicktime.make', 'make', 'com.android.manufacturer']);
  const model = pick(fmtTags, ['com.apple.quicktime.model', 'model', 'com.android.model']);
  if (make) info.make = make;
  if (model) info.model = model;
  return info;
}
