import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveMediaBinaries } from './binaries';

/**
 * Test-only helpers: tiny sources generated with ffmpeg's lavfi, in a private temp folder the test removes.
 * Not exported from the package index.
 */
export function makeTempDir(prefix = 'vid2live-media-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
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
  });
  return JSON.parse(out);
}

/** Decoded frame count of the first video stream (exact, by decoding). */
export function countVideoFrames(file: string): number {
  const j = ffprobeJson(file, ['-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames']);
  return Number(j.streams[0].nb_read_frames);
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
