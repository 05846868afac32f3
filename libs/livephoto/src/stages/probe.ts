import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { isRemoteSource } from '@vid2live/media/ffmpeg';
import { demuxerKind, rejectedDemuxer } from '@vid2live/media/demuxers';
import { runFfprobe, FfprobeData, FfprobeStream } from '@vid2live/media/ffprobe';
import { isLivePhotoError, LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { checkContainerIntegrity } from '../quicktime/boxes';
import { GpsPosition, SourceInfo, StageContext } from '../types';
import { chooseCaptureTime } from './capture-time';
import { isUnsupportedDolbyVision, sourceColorOf } from './color';
import { displaySize, orientationOfMatrix, parseDisplayMatrix, parseSampleAspectRatio } from './geometry';

/**
 * probe: what is this file? Reads the container with ffprobe and turns every kind of bad input into its own
 * error code (SOURCE_NOT_FOUND, SOURCE_EMPTY, INPUT_NOT_MEDIA, INPUT_IS_IMAGE, INPUT_NO_VIDEO, INPUT_TRUNCATED,
 * INPUT_ZERO_DURATION), each naming the file.
 */
export async function probeSource(sourcePath: string, ctx: StageContext = {}): Promise<SourceInfo> {
  const report = (percent: number) => ctx.onProgress?.({ stage: 'probe', percent });
  throwIfAborted(ctx.signal);
  report(0);

  // The source reader's loopback URL (libs/sources) is probed by ffprobe alone; local files get the cheap checks first.
  const remote = isRemoteSource(sourcePath);
  let sizeBytes = 0;
  let boxFile = false;
  if (remote) {
    // The loopback proxy serves ranges: 8 bytes say whether this is a box file at all (a text file named .mp4
    // makes ffprobe say "moov atom not found" too, and that is not a truncated video).
    const head = await peekRemoteHead(sourcePath, ctx.signal, FTYP_PEEK_BYTES);
    boxFile = FIRST_BOX_TYPES.has(head.toString('latin1', 4, 8));
    if (boxFile) assertNotHeifImage(sourcePath, head);
  } else {
    sizeBytes = await statSource(sourcePath);
    const head = await readHead(sourcePath, FTYP_PEEK_BYTES);
    boxFile = head.length >= 8 && FIRST_BOX_TYPES.has(head.toString('latin1', 4, 8));
    // A HEIC/AVIF is an ISO-BMFF file too, with no movie in it: an image, not a truncated video.
    if (boxFile) assertNotHeifImage(sourcePath, head);
    if (boxFile) await checkNotTruncated(sourcePath);
  }

  const probe = await runFfprobe(sourcePath, { signal: ctx.signal, timeoutMs: 30_000 });
  if (probe.exitCode !== 0 || !probe.data) {
    const reason = firstLine(probe.stderr);
    if (remote) {
      const fetchError = remoteFetchError(sourcePath, probe.stderr, reason);
      if (fetchError) throw fetchError;
    } else {
      // Deleted (or made unreadable) since the stat above: that is why ffprobe failed, not the bytes.
      await statSource(sourcePath);
    }
    // The demuxer ffprobe picked is not a video/audio/image container (text as `tty`, subtitles, playlists…).
    const refused = rejectedDemuxer(probe.stderr);
    if (refused !== undefined) throw notMedia(sourcePath, refused);
    // ffprobe says "moov atom not found" for anything named .mp4; only a real box file is "truncated".
    if (boxFile && /moov atom not found|truncat|partial file|End of file/i.test(probe.stderr)) {
      throw new LivePhotoError('INPUT_TRUNCATED', `${sourcePath} is truncated or damaged: ${reason}`, {
        file: sourcePath,
      });
    }
    throw new LivePhotoError('INPUT_NOT_MEDIA', `${sourcePath} is not a media file ffprobe can read: ${reason}`, {
      file: sourcePath,
    });
  }
  if (remote) sizeBytes = num(probe.data.format?.size) ?? 0;
  const info = sourceInfoFromFfprobe(sourcePath, sizeBytes, probe.data);
  report(100);
  return info;
}

/**
 * ffprobe could not read the loopback URL: what the HTTP status or socket error says about the source. The reader
 * answers ffmpeg with the upstream's status class (404 missing, 403 refused, 503 unavailable); a connection error
 * is never the file's fault (retryable), nor is a 5xx/429. Undefined when the bytes arrived and the problem is them.
 */
function remoteFetchError(sourcePath: string, stderr: string, reason: string): LivePhotoError | undefined {
  const details = { file: sourcePath };
  if (/Server returned (404|410)\b|\b(404 Not Found|410 Gone)\b/i.test(stderr)) {
    return new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} cannot be fetched: ${reason}`, details);
  }
  if (/Server returned (401|403)\b|\b(401 Unauthori[sz]ed|403 Forbidden)\b/i.test(stderr)) {
    return new LivePhotoError('SOURCE_ACCESS_DENIED', `source ${sourcePath} cannot be fetched: ${reason}`, details);
  }
  if (/Server returned (5\d\d|5XX|429)|Connection refused|Connection reset|Connection timed out|timed out|Network is unreachable|I\/O error|Broken pipe/i.test(stderr)) {
    return new LivePhotoError('SOURCE_UNAVAILABLE', `source ${sourcePath} could not be read right now: ${reason}`, details);
  }
  if (/Server returned/i.test(stderr)) {
    return new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} cannot be fetched: ${reason}`, details);
  }
  return undefined;
}

async function statSource(sourcePath: string): Promise<number> {
  let st;
  try {
    st = await fs.stat(sourcePath);
    await fs.access(sourcePath, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} does not exist or cannot be read (${code})`, {
      file: sourcePath,
    });
  }
  if (!st.isFile()) {
    throw new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} is not a regular file`, { file: sourcePath });
  }
  if (st.size === 0) throw new LivePhotoError('SOURCE_EMPTY', `source ${sourcePath} is empty (0 bytes)`, { file: sourcePath });
  return st.size;
}

/**
 * The first bytes of a source served by the worker's loopback range proxy (never an external URL: isRemoteSource
 * accepts only that proxy). An empty buffer when it cannot say; ffprobe's own read reports the real error.
 */
function peekRemoteHead(url: string, signal?: AbortSignal, length = 8): Promise<Buffer> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: { Range: `bytes=0-${length - 1}` }, timeout: 10_000, signal }, (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        res.resume();
        resolve(Buffer.alloc(0));
        return;
      }
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (got >= length) res.destroy();
      });
      res.on('close', () => resolve(Buffer.concat(chunks).subarray(0, length)));
      res.on('error', () => resolve(Buffer.concat(chunks).subarray(0, length)));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(Buffer.alloc(0)));
  });
}

const FIRST_BOX_TYPES = new Set(['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot', 'uuid']);

/** Enough of the file's start for an `ftyp` box with a dozen compatible brands. */
const FTYP_PEEK_BYTES = 64;

async function readHead(file: string, length: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(length);
    const { bytesRead } = await fh.read(head, 0, length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** HEIF (HEIC) and AVIF still-image brands: image items, no movie. `msf1` is a HEIF image sequence (bursts). */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'mif1', 'mif2', 'msf1', 'avif']);
/** Major brands of movies: a video that merely lists `mif1` among its compatible brands stays a video. */
const VIDEO_MAJOR_RE = /^(isom|iso\d|mp4\d|mp71|qt {2}|M4V |M4VP|avc1|3g[p2s].|dash|f4v |MSNV|XAVC|mqt |crx )$/;

/**
 * The image brand of an ISO-BMFF file's `ftyp` when it is a HEIF/AVIF still (major brand an image brand, or an
 * image brand among the compatible ones under a major brand that is not a movie's), else undefined.
 */
export function heifImageBrand(head: Buffer): string | undefined {
  if (head.length < 16 || head.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  const size = Math.min(head.readUInt32BE(0), head.length);
  const major = head.toString('latin1', 8, 12);
  if (IMAGE_BRANDS.has(major)) return major;
  if (VIDEO_MAJOR_RE.test(major)) return undefined;
  for (let at = 16; at + 4 <= size; at += 4) {
    const brand = head.toString('latin1', at, at + 4);
    if (IMAGE_BRANDS.has(brand)) return brand;
  }
  return undefined;
}

function assertNotHeifImage(sourcePath: string, head: Buffer): void {
  const brand = heifImageBrand(head);
  if (!brand) return;
  const kind = brand.startsWith('avi') ? 'AVIF' : 'HEIF/HEIC';
  throw new LivePhotoError('INPUT_IS_IMAGE', `${sourcePath} is a still image (${kind}, brand '${brand}'), not a video`, {
    file: sourcePath,
    brand,
  });
}

/**
 * A MOV/MP4 cut short (faststart files keep a readable moov, so ffprobe alone does not notice) shows up as a
 * top-level box reaching past the end of the file, or, when the box sizes were fixed up after the cut (the
 * video inside a shortened Motion Photo), as sample tables pointing past it: the quicktime module finds both. Only its
 * INPUT_TRUNCATED verdict counts here; any other complaint about the structure is left to ffprobe, which
 * plays many imperfect files.
 */
async function checkNotTruncated(file: string): Promise<void> {
  try {
    await checkContainerIntegrity(file);
  } catch (e) {
    if (isLivePhotoError(e) && e.code === 'INPUT_TRUNCATED') {
      throw new LivePhotoError('INPUT_TRUNCATED', `${file} is truncated: ${e.message}`, { ...e.details, file }, { cause: e });
    }
  }
}

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? 'unknown error';
}

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
function notMedia(sourcePath: string, formatName: string): LivePhotoError {
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

function num(value: string | number | undefined): number | undefined {
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
