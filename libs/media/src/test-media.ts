import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveMediaBinaries } from './binaries';

/**
 * The one test-media helper (unit specs, e2e specs, the studio's specs): real media generated with ffmpeg's lavfi
 * in the tests themselves (no binary fixtures, no mocks), measured with ffmpeg/ffprobe. Test-only: not exported
 * from the package index.
 */

/** A private temp folder; a bare `prefix` such as `boxes` becomes `vid2live-boxes-`. */
export function makeTempDir(prefix = 'vid2live-media-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix.startsWith('vid2live-') ? prefix : `vid2live-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs ffmpeg synchronously (`-y -v error` added) and returns the output path (the last argument). */
export function ffmpegSync(args: string[]): string {
  execFileSync(resolveMediaBinaries().ffmpeg.path, ['-hide_banner', '-v', 'error', '-y', ...args], { stdio: 'pipe' });
  return args[args.length - 1];
}

export function ffprobeJson(file: string, extra: string[] = ['-show_format', '-show_streams']): any {
  const out = execFileSync(resolveMediaBinaries().ffprobe.path, ['-v', 'error', '-print_format', 'json', ...extra, file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out);
}

// ------------------------------------------------------------------------------------------ sources

/**
 * Synthetic sources for the engine and the CLI/worker/studio tests. Each has a capture time and (most) a GPS
 * position so the pair stage has metadata to carry.
 */
export type SourceKind =
  | 'landscape-1080p-audio'
  | 'portrait-rotated'
  | 'vfr'
  | 'no-audio'
  | '4k'
  | 'one-second'
  | '10-bit'
  | 'long-1080p';

const META = [
  '-metadata', 'creation_time=2025-06-01T10:20:30.000000Z',
  '-metadata', 'location=+48.8584+002.2945+035.000/',
];

/** A moving, textured picture (so motion/sharpness analysis has something to measure). */
const lavfiVideo = (size: string, seconds: number, rate = 30) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`];
const tone = (seconds: number) => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`];
const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const withAac = ['-c:a', 'aac', '-shortest'];

export function makeSource(kind: SourceKind, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const out = (name: string) => path.join(dir, name);
  switch (kind) {
    case 'landscape-1080p-audio':
      return ffmpegSync([...lavfiVideo('1920x1080', 4), ...tone(4), ...h264, ...withAac, ...META, out('landscape.mp4')]);
    case 'portrait-rotated': {
      // A landscape-coded stream with rotation metadata, stream-copied: what phones record.
      const coded = ffmpegSync([...lavfiVideo('640x360', 4), ...tone(4), ...h264, ...withAac, out('portrait-coded.mp4')]);
      return ffmpegSync(['-i', coded, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', ...META, out('portrait.mov')]);
    }
    case 'vfr':
      // Frame durations alternate between 1/30 s and 1/15 s-ish: a variable frame rate stream.
      return ffmpegSync([...lavfiVideo('640x360', 4), '-vf', "setpts='(N+floor(N/3))/(30*TB)'", '-fps_mode', 'vfr', ...h264, out('vfr.mkv')]);
    case 'no-audio':
      return ffmpegSync([...lavfiVideo('640x360', 4), ...h264, ...META, out('silent.mov')]);
    case '4k':
      return ffmpegSync([...lavfiVideo('3840x2160', 2), ...tone(2), ...h264, ...withAac, out('uhd.mp4')]);
    case 'one-second':
      return ffmpegSync([...lavfiVideo('640x360', 1), ...tone(1), ...h264, ...withAac, out('short.mp4')]);
    case '10-bit':
      return ffmpegSync([
        ...lavfiVideo('640x360', 3),
        '-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-x265-params', 'log-level=error', '-tag:v', 'hvc1',
        out('tenbit.mp4'),
      ]);
    case 'long-1080p':
      return ffmpegSync([...lavfiVideo('1920x1080', 600, 30), ...h264, '-g', '60', out('long.mp4')]);
  }
}

export type BadInputKind = 'empty' | 'text' | 'jpeg' | 'audio-only' | 'truncated-mp4' | 'zero-length-video';

/** Inputs the engine must refuse with a typed error (`text` is text with a .mp4 name: INPUT_NOT_MEDIA). */
export function makeBadInput(kind: BadInputKind, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const out = (name: string) => path.join(dir, name);
  const written = (file: string, data: string | Buffer) => (fs.writeFileSync(file, data), file);
  switch (kind) {
    case 'empty':
      return written(out('empty.mp4'), '');
    case 'text':
      return written(out('notes.mp4'), 'this is not a video, just some words in a file\n'.repeat(50));
    case 'jpeg':
      return ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1', out('photo.jpg')]);
    case 'audio-only':
      return ffmpegSync([...tone(2), '-c:a', 'aac', out('voice.m4a')]);
    case 'truncated-mp4': {
      const bytes = fs.readFileSync(ffmpegSync([...lavfiVideo('640x360', 3), ...h264, out('whole.mp4')]));
      return written(out('truncated.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    }
    case 'zero-length-video':
      return ffmpegSync([...lavfiVideo('640x360', 1), '-frames:v', '0', ...h264, out('zero.mp4')]);
  }
}

/**
 * A source video cached in `dir` (test pattern + a tone, H.264 + AAC, 640×360 by default) so the e2e files
 * share it; written to a temporary name and renamed, so a concurrent test file never reads a half-written one.
 */
export function makeCachedVideo(dir: string, opts: { seconds?: number; size?: string; audio?: boolean } = {}): string {
  const { seconds = 4, size = '640x360', audio = true } = opts;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `testsrc-${size}-${seconds}s${audio ? '-aac' : ''}.mp4`);
  if (fs.existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.part.mp4`;
  ffmpegSync([
    ...lavfiVideo(size, seconds),
    ...(audio ? tone(seconds) : []),
    ...h264,
    ...(audio ? withAac : []),
    '-metadata', 'creation_time=2025-06-01T10:20:30.000000Z',
    tmp,
  ]);
  fs.renameSync(tmp, file);
  return file;
}

// ------------------------------------------------------------------------------ QuickTime box layouts

const TEST_SOURCE = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine'];

/** H.264 + AAC QuickTime as ffmpeg writes it: `ftyp qt`, `wide`, `mdat`, `moov` last; timescale 1000. */
export function makeMoovLastMov(file: string, seconds = 2): string {
  return ffmpegSync([...TEST_SOURCE, '-t', String(seconds), '-c:v', 'libx264', '-c:a', 'aac', '-f', 'mov', file]);
}

/** Faststart MP4 with brand `isom`: `ftyp isom`, `moov`, `free`, `mdat`. */
export function makeFaststartMp4(file: string, seconds = 2): string {
  return ffmpegSync([...TEST_SOURCE, '-t', String(seconds), '-c:v', 'libx264', '-c:a', 'aac', '-movflags', '+faststart', '-brand', 'isom', '-f', 'mp4', file]);
}

/** ffmpeg's pitfall-P3 form: the content identifier in an ISO FullBox `moov/udta/meta`. */
export function makeUdtaMetaMov(file: string, contentIdentifier: string): string {
  return ffmpegSync([
    ...TEST_SOURCE,
    '-t', '1',
    '-c:v', 'libx264',
    '-an',
    '-movflags', 'use_metadata_tags',
    '-metadata', `com.apple.quicktime.content.identifier=${contentIdentifier}`,
    '-metadata', 'com.example.keep-me=yes',
    '-f', 'mov',
    file,
  ]);
}

/** Uncompressed `2vuy` video: 153 600 B/frame, i.e. ~51 MB for 11 s. Cheap to encode, big on disk. */
export function makeLargeRawMov(file: string, seconds = 11): string {
  return ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', String(seconds), '-c:v', 'rawvideo', '-pix_fmt', 'uyvy422', '-f', 'mov', file]);
}

// ------------------------------------------------------------------------------------------- oracles

/** Per-frame MD5s of one stream kind (`v` or `a`), timestamps included; comment lines dropped. */
export function frameHashes(file: string, stream: 'v' | 'a' = 'v'): string[] {
  const out = execFileSync(resolveMediaBinaries().ffmpeg.path, ['-v', 'error', '-i', file, '-map', `0:${stream}`, '-f', 'framemd5', '-'], {
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** Full decode; returns ffmpeg's error output (empty when the file decodes cleanly). */
export function decodeErrors(file: string): string {
  const r = spawnSync(resolveMediaBinaries().ffmpeg.path, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  return `${r.status === 0 ? '' : `exit ${r.status} `}${r.stderr ?? ''}`.trim();
}

/** Decoded frame count of the first video stream (exact, by decoding). */
export function countVideoFrames(file: string): number {
  const j = ffprobeJson(file, ['-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames']);
  return Number(j.streams[0].nb_read_frames);
}

/**
 * Presentation start of every video frame as ffmpeg's demuxer reports it (edit list applied), in the stream's
 * time base `num/den` s: an oracle independent of our own sample-table reader.
 */
export function videoFrameStarts(file: string): { pts: number[]; num: number; den: number } {
  const json = ffprobeJson(file, ['-select_streams', 'v:0', '-show_entries', 'stream=time_base:frame=pts']) as {
    streams: Array<{ time_base: string }>;
    frames: Array<{ pts?: number }>;
  };
  const [num, den] = json.streams[0].time_base.split('/').map(Number);
  const pts = json.frames.map((f) => f.pts).filter((p): p is number => typeof p === 'number').sort((a, b) => a - b);
  return { pts, num, den };
}

/**
 * Index of the frame shown at movie time `units / timescale` s (the frame whose presentation interval contains
 * it), compared exactly in integers; -1 before the first frame.
 */
export function frameIndexAt(units: number, timescale: number, frames: { pts: number[]; num: number; den: number }): number {
  // t ≥ pts·num/den  ⇔  units·den ≥ pts·num·timescale
  let index = -1;
  for (let k = 0; k < frames.pts.length && units * frames.den >= frames.pts[k] * frames.num * timescale; k++) index = k;
  return index;
}

/**
 * PSNR (dB, "average") of `still` against frame `index` of `movie`, compared the way a viewer sees them:
 * a JPEG is read as BT.601 full range and converted back to the movie's BT.709 limited-range 4:2:0; a PNG is
 * compared in RGB against the movie frame converted with BT.709 (RGB can't hold every YUV value, so a YUV
 * round trip would measure clipping, not the render).
 */
export function stillVersusMovieFramePsnr(still: string, movie: string, index: number): number {
  const graph = still.endsWith('.png')
    ? `[1:v]select='eq(n,${index})',scale=in_color_matrix=bt709:in_range=tv,format=rgb24[m];[0:v]format=rgb24[s];[s][m]psnr`
    : `[1:v]select='eq(n,${index})'[m];[0:v]colorspace=iall=bt470bg:iprimaries=bt709:itrc=bt709:irange=pc:` +
      `space=bt709:primaries=bt709:trc=bt709:range=tv:format=yuv420p[s];[s][m]psnr`;
  const r = spawnSync(resolveMediaBinaries().ffmpeg.path, ['-hide_banner', '-i', still, '-i', movie, '-filter_complex', graph, '-f', 'null', '-'], {
    encoding: 'utf8',
  });
  const m = /PSNR .*average:([\d.]+|inf)/.exec(r.stderr);
  if (!m) throw new Error(`no PSNR in ffmpeg output: ${r.stderr.slice(-800)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}
