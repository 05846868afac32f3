/**
 * Frame measurements and the shapes of the analysis requests/results, without running anything: the arithmetic on
 * gray frames (motion, sharpness), small statistics, and the parser of ffprobe's packet listing. analysis.ts runs
 * the decoders that feed it; the engine's plan stage uses these pure parts directly and the decoders through its
 * MediaTools port.
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
  /** also measure where in the picture things move: `columnMotion` */
  columns?: boolean;
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
}

export interface FrameAnalysis {
  width: number;
  height: number;
  fps: number;
  frames: FrameMetrics[];
  /**
   * with `columns`: per column of the analysis frame (as ffmpeg shows it, rotation applied), the mean absolute
   * difference to the previous frame over the span (0–255) — where the motion is, left to right
   */
  columnMotion?: number[];
}

/** Adds |cur − prev| of every pixel to its column's sum. */
export function addColumnDifferences(cur: Uint8Array, prev: Uint8Array, width: number, sums: Float64Array): void {
  for (let i = 0; i < cur.length; i++) sums[i % width] += Math.abs(cur[i] - prev[i]);
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


/**
 * Measures gray frames of one size in order, as the plan stage reads them: motion = mean absolute difference of
 * the half-size frame against the previous one (an exact repeat, which the fps filter makes from slower sources,
 * inherits the motion of the transition before it: it is not "calm"), sharpness = variance of the Laplacian.
 * Keeps only the previous half-size frame; `data` may be reused by the caller after each call.
 */
export function frameMeter(width: number, height: number, fps = ANALYSIS_FPS): (data: Uint8Array) => FrameMetrics {
  let previousHalf: Uint8Array | undefined;
  let previousMotion = 0;
  let index = 0;
  return (data) => {
    const frame: GrayFrame = { width, height, data };
    const half = halveGrayFrame(frame);
    let motion = previousHalf ? meanAbsDifference(half.data, previousHalf) : 0;
    if (previousHalf && motion === 0) motion = previousMotion;
    previousMotion = motion;
    previousHalf = half.data;
    return { time: index++ / fps, motion, sharpness: laplacianVariance(frame) };
  };
}
