import { execFile } from 'node:child_process';
import { LivePhotoError } from '@vid2live/errors';
import { resolveMediaBinaries } from './binaries';
import { sourceInputOptions } from './demuxers';
import { ffmpegInput, runFfmpeg } from './ffmpeg';

/**
 * Picture analysis for the plan stage: one cheap decode of a bounded span into small gray frames, from which we
 * measure motion (mean absolute difference between consecutive frames), scene cuts (difference spikes) and
 * sharpness (variance of the Laplacian). What to make of those numbers (cuts, the calmest window, the sharpest
 * frame) is the plan stage's policy: libs/livephoto/src/stages/plan/policy.ts.
 */

/** Analysis frames are sampled on the 30 fps output grid so frame j of the analysis = output frame j. */
export const ANALYSIS_FPS = 30;
/** Sharpness is measured at this long side; motion at half of it (noise-robust, cheaper). */
export const ANALYSIS_LONG_SIDE = 320;

export interface GrayFrame {
  width: number;
  height: number;
  /** 8-bit luma, row-major, width*height bytes */
  data: Uint8Array;
}

export interface FrameMetrics {
  /** seconds from the start of the analysed span */
  time: number;
  /** mean |Δluma| (0..255) to the previous frame at half size; 0 for the first frame */
  motion: number;
  /** variance of the 4-neighbour Laplacian at full analysis size */
  sharpness: number;
}

/** 2×2 box average: halves both dimensions (odd trailing row/column dropped). */
export function halveGrayFrame(f: GrayFrame): GrayFrame {
  const w = f.width >> 1;
  const h = f.height >> 1;
  const out = new Uint8Array(w * h);
  const src = f.data;
  const stride = f.width;
  for (let y = 0; y < h; y++) {
    const r0 = 2 * y * stride;
    const r1 = r0 + stride;
    for (let x = 0; x < w; x++) {
      const c = 2 * x;
      out[y * w + x] = (src[r0 + c] + src[r0 + c + 1] + src[r1 + c] + src[r1 + c + 1] + 2) >> 2;
    }
  }
  return { width: w, height: h, data: out };
}

/** Mean absolute difference of two equally sized gray frames (0 = identical, 255 = black vs white). */
export function meanAbsDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError('frames differ in size');
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d < 0 ? -d : d;
  }
  return a.length ? sum / a.length : 0;
}

/** Variance of the Laplacian (4c − up − down − left − right) over interior pixels: high = crisp edges. */
export function laplacianVariance(f: GrayFrame): number {
  const { width: w, height: h, data } = f;
  if (w < 3 || h < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let y = 1; y < h - 1; y++) {
    const row = y * w;
    for (let x = 1; x < w - 1; x++) {
      const i = row + x;
      const lap = 4 * data[i] - data[i - 1] - data[i + 1] - data[i - w] - data[i + w];
      sum += lap;
      sumSq += lap * lap;
    }
  }
  const n = (w - 2) * (h - 2);
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

export function standardDeviation(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) * (v - m), 0) / values.length);
}

/**
 * Analysis frame size for a display size: long side ANALYSIS_LONG_SIDE, both even, aspect kept.
 * Even so the half-size motion frame has exact 2×2 blocks.
 */
export function analysisFrameSize(displayWidth: number, displayHeight: number): { width: number; height: number } {
  const even = (v: number) => Math.max(2, 2 * Math.round(v / 2));
  if (displayWidth >= displayHeight) {
    return { width: ANALYSIS_LONG_SIDE, height: even((ANALYSIS_LONG_SIDE * displayHeight) / Math.max(1, displayWidth)) };
  }
  return { width: even((ANALYSIS_LONG_SIDE * displayWidth) / Math.max(1, displayHeight)), height: ANALYSIS_LONG_SIDE };
}

export interface FrameAnalysisRequest {
  /** seconds into the source */
  start: number;
  /** seconds to analyse */
  duration: number;
  /** upright (display) size of the source, to keep the aspect */
  displayWidth: number;
  displayHeight: number;
  /** ffprobe index of the video stream to analyse (default: the first video stream) */
  streamIndex?: number;
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
}

export interface FrameAnalysis {
  width: number;
  height: number;
  fps: number;
  frames: FrameMetrics[];
}

/**
 * One decode pass of [start, start+duration) at ANALYSIS_FPS into gray frames piped to node, measuring each as it
 * arrives (only the previous half-size frame is kept, so memory is flat however long the span).
 * Cheap decode: input seeking (`-ss` before `-i`, decodes only from the preceding key frame), no loop filter,
 * no audio/subtitles, area downscale.
 */
export async function analyseFrames(sourcePath: string, req: FrameAnalysisRequest): Promise<FrameAnalysis> {
  const { width, height } = analysisFrameSize(req.displayWidth, req.displayHeight);
  const frameBytes = width * height;
  const frames: FrameMetrics[] = [];
  const pending = Buffer.alloc(frameBytes);
  let filled = 0;
  let previousHalf: Uint8Array | undefined;
  let previousMotion = 0;

  const onFrame = (data: Uint8Array) => {
    const frame: GrayFrame = { width, height, data };
    const half = halveGrayFrame(frame);
    let motion = previousHalf ? meanAbsDifference(half.data, previousHalf) : 0;
    // The fps filter duplicates frames to reach 30 fps from slower sources; an exact repeat is not "calm",
    // it inherits the motion of the real transition before it.
    if (previousHalf && motion === 0) motion = previousMotion;
    previousMotion = motion;
    previousHalf = half.data;
    frames.push({ time: frames.length / ANALYSIS_FPS, motion, sharpness: laplacianVariance(frame) });
  };

  const args = [
    '-v', 'error',
    '-skip_loop_filter', 'all',
    '-ss', req.start.toFixed(3),
    '-t', req.duration.toFixed(3),
    ...sourceInputOptions(sourcePath),
    '-i', ffmpegInput(sourcePath),
    '-map', req.streamIndex === undefined ? '0:v:0' : `0:${req.streamIndex}`, '-an', '-sn', '-dn',
    '-vf', `fps=${ANALYSIS_FPS},scale=${width}:${height}:flags=area,format=gray`,
    '-f', 'rawvideo', 'pipe:1',
  ];
  await runFfmpeg(args, {
    signal: req.signal,
    subject: sourcePath,
    expectedDuration: req.duration,
    onProgress: req.onProgress,
    onStdout: (chunk) => {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(frameBytes - filled, chunk.length - offset);
        chunk.copy(pending, filled, offset, offset + take);
        filled += take;
        offset += take;
        if (filled === frameBytes) {
          onFrame(pending); // measured synchronously, so the buffer can be reused for the next frame
          filled = 0;
        }
      }
    },
  });
  return { width, height, fps: ANALYSIS_FPS, frames };
}

// ---------------------------------------------------------------------------------------------------
// Compressed-domain analysis: what the demuxer says about each frame, without decoding a single one.

/** One compressed video packet (= one coded frame). */
export interface PacketInfo {
  /** presentation time, seconds on the source's timeline (the one `-ss` seeks on) */
  time: number;
  /** bytes */
  size: number;
  /** an intra (key) frame: decoding can start here */
  key: boolean;
}

export interface PacketIndexRequest {
  /** seconds into the source */
  start: number;
  /** seconds to list */
  duration: number;
  /** ffprobe index of the video stream (default: the first video stream) */
  streamIndex?: number;
  signal?: AbortSignal;
}

/**
 * The video packets of [start, start+duration), from the key frame at or before `start` on, as the demuxer
 * reports them (`ffprobe -show_entries packet=…`): sizes, key flags and times, no decoding. For containers
 * whose index we do not read ourselves (see the plan stage's MP4 sample tables) and for remote sources.
 */
export function readPacketIndex(sourcePath: string, req: PacketIndexRequest): Promise<PacketInfo[]> {
  const { ffprobe } = resolveMediaBinaries();
  if (req.signal?.aborted) return Promise.reject(new LivePhotoError('CANCELED'));
  const args = [
    '-v', 'error',
    ...sourceInputOptions(sourcePath),
    '-select_streams', req.streamIndex === undefined ? 'v:0' : String(req.streamIndex),
    // absolute end: `%+duration` would count from the key frame the read starts at, not from `start`
    '-read_intervals', `${req.start.toFixed(3)}%${(req.start + req.duration).toFixed(3)}`,
    '-show_entries', 'packet=pts_time,dts_time,size,flags',
    '-of', 'compact=p=0',
    ffmpegInput(sourcePath),
  ];
  return new Promise((resolve, reject) => {
    execFile(
      ffprobe.path,
      args,
      { timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, signal: req.signal, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if ((err as { name?: string } | null)?.name === 'AbortError') {
          return reject(new LivePhotoError('CANCELED', `canceled while indexing ${sourcePath}`));
        }
        if (err) {
          return reject(
            new LivePhotoError('FFMPEG_FAILED', `ffprobe could not list the packets of ${sourcePath}: ${err.message}`, {
              file: sourcePath,
              stderr: stderr.split('\n').slice(-10),
            }),
          );
        }
        resolve(parsePacketLines(stdout));
      },
    );
  });
}

/** `pts_time=1.000000|dts_time=…|size=1234|flags=K__` lines → packets sorted by time (no pts: the dts). */
export function parsePacketLines(text: string): PacketInfo[] {
  const out: PacketInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('size=')) continue;
    const fields = new Map(line.trim().split('|').map((kv) => kv.split('=') as [string, string]));
    const pts = Number(fields.get('pts_time'));
    const time = Number.isFinite(pts) ? pts : Number(fields.get('dts_time'));
    const size = Number(fields.get('size'));
    if (!Number.isFinite(time) || !Number.isFinite(size)) continue;
    out.push({ time, size, key: (fields.get('flags') ?? '').includes('K') });
  }
  return out.sort((a, b) => a.time - b.time);
}

