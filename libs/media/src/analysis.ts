import { execFile } from 'node:child_process';
import { LivePhotoError } from '@vid2live/errors';
import { resolveMediaBinaries } from './binaries';
import { sourceInputOptions } from './demuxers';
import { ffmpegInput, runFfmpeg } from './ffmpeg';

/**
 * Picture analysis for the plan stage: one cheap decode of a bounded span into small gray frames, from which we
 * measure motion (mean absolute difference between consecutive frames), scene cuts (difference spikes) and
 * sharpness (variance of the Laplacian). Scoring functions are pure so they can be tested on synthetic frames.
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

export interface SceneCutOptions {
  /** half-width, in frames, of the neighbourhood whose median is "normal" motion (default 15 = 0.5 s) */
  radius?: number;
  /** a cut is at least this many times the local median… (default 3) */
  ratio?: number;
  /** …plus this margin, and never below `minimum` (defaults 3 and 12 on the 0..255 scale) */
  margin?: number;
  minimum?: number;
}

/**
 * Frame indices i where a hard cut happens between frame i−1 and i: the difference spikes far above the local
 * median (steady fast motion raises the median too, so it is not mistaken for a cut).
 */
export function detectSceneCuts(motion: readonly number[], opts: SceneCutOptions = {}): number[] {
  const radius = opts.radius ?? 15;
  const ratio = opts.ratio ?? 3;
  const margin = opts.margin ?? 3;
  const minimum = opts.minimum ?? 12;
  const cuts: number[] = [];
  for (let i = 1; i < motion.length; i++) {
    const m = motion[i];
    if (!(m >= minimum)) continue;
    const neighbours: number[] = [];
    for (let j = Math.max(1, i - radius); j <= Math.min(motion.length - 1, i + radius); j++) {
      if (j !== i) neighbours.push(motion[j]);
    }
    if (m >= ratio * median(neighbours) + margin) cuts.push(i);
  }
  return cuts;
}

export interface WindowChoice {
  /** first frame of the window */
  startIndex: number;
  /** mean motion inside the window */
  meanMotion: number;
  /** scene cuts inside the window (empty unless every possible window has one) */
  cuts: number[];
}

export interface WindowSearch {
  /** window length in frames */
  length: number;
  /** scene-cut frame indices (see detectSceneCuts) */
  cuts?: readonly number[];
  /** only windows containing this frame are considered (a user-chosen key frame) */
  mustContain?: number;
  /** among near-equal windows prefer the one whose middle is closest to this frame (default: the span middle) */
  preferMiddleAt?: number;
}

/**
 * The calmest window: lowest mean motion among windows without a scene cut (fewest cuts if none is clean).
 * Windows within 3 % (+0.05) of the best are treated as equal and the one nearest `preferMiddleAt` wins, so a
 * uniformly static source yields a centred clip rather than its first frames.
 */
export function chooseCalmestWindow(motion: readonly number[], search: WindowSearch): WindowChoice {
  const n = motion.length;
  const length = Math.max(1, Math.min(search.length, n));
  const cuts = search.cuts ?? [];
  const prefer = search.preferMiddleAt ?? (n - 1) / 2;
  // prefix sums of transition motion (motion[0] has no predecessor and counts as 0)
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + (i === 0 ? 0 : motion[i]);

  let lo = 0;
  let hi = n - length;
  if (search.mustContain !== undefined) {
    const k = Math.max(0, Math.min(n - 1, search.mustContain));
    lo = Math.max(0, k - length + 1);
    hi = Math.min(hi, k);
    if (hi < lo) hi = lo;
  }

  const candidates: { s: number; mean: number; cuts: number[] }[] = [];
  for (let s = lo; s <= hi; s++) {
    // transitions inside the window are s+1 .. s+length-1
    const transitions = length - 1;
    const m = transitions > 0 ? (prefix[s + length] - prefix[s + 1]) / transitions : 0;
    const inside = cuts.filter((c) => c > s && c <= s + length - 1);
    candidates.push({ s, mean: m, cuts: inside });
  }
  const fewestCuts = Math.min(...candidates.map((c) => c.cuts.length));
  const clean = candidates.filter((c) => c.cuts.length === fewestCuts);
  const best = Math.min(...clean.map((c) => c.mean));
  const tolerance = best * 1.03 + 0.05;
  let chosen = clean[0];
  let bestDistance = Infinity;
  for (const c of clean) {
    if (c.mean > tolerance) continue;
    const distance = Math.abs(c.s + (length - 1) / 2 - prefer);
    if (distance < bestDistance) {
      bestDistance = distance;
      chosen = c;
    }
  }
  return { startIndex: chosen.s, meanMotion: chosen.mean, cuts: chosen.cuts };
}

/** Index of the sharpest frame in [from, to] (inclusive); the earliest on ties. */
export function chooseSharpestFrame(sharpness: readonly number[], from: number, to: number): number {
  const a = Math.max(0, Math.min(from, to));
  const b = Math.min(sharpness.length - 1, Math.max(from, to));
  let best = a;
  for (let i = a; i <= b; i++) if (sharpness[i] > sharpness[best]) best = i;
  return best;
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

export interface CompressedGrid {
  /** seconds into the source of analysis frame 0 */
  start: number;
  /** analysis frames (30 fps grid) */
  frames: number;
  /** coded pixels per frame, to put sizes on a per-pixel scale */
  pixels: number;
}

export interface CompressedMotion {
  /**
   * per 30 fps grid frame: bytes per 1000 coded pixels of the inter frames leading to it (0 for frame 0; a grid
   * frame with no new source frame repeats the previous value, like the decoded analysis). Inter-frame size is
   * what the encoder needed to describe the change: motion, plus noise and lighting changes.
   */
  motion: number[];
  /** grid frames where a hard cut probably is: an inter frame as costly as a picture of its own, or an early key frame */
  cuts: number[];
  /** why each cut is suspected, by grid frame */
  cutKinds: Map<number, 'spike' | 'early-key'>;
  /** times of the key frames listed (sorted) */
  keyTimes: number[];
  /** mean per-pixel size of the key frames (the cost of a whole picture), same scale as `motion` */
  keyLevel: number;
}

/**
 * True when frame-size spikes recur on a beat (at least 3, spaced alike within a frame at 30 fps, or more than
 * one a second): a property of the encoder's reference structure, which a scene cut never has.
 */
export function isEncoderRhythm(times: readonly number[]): boolean {
  if (times.length < 3) return false;
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  const span = times[times.length - 1] - times[0];
  if (span > 0 && times.length - 1 > span) return true;
  const sorted = [...gaps].sort((a, b) => a - b);
  return sorted[sorted.length - 1] - sorted[0] <= 1.5 / ANALYSIS_FPS;
}

/**
 * The compressed stream's picture of motion on the analysis grid. Key frames carry no motion information (they
 * are whole pictures), so they take the mean of their neighbours. Suspected cuts: (1) an inter frame far above
 * its neighbourhood (detectSceneCuts, ratio 3), twice its two neighbours and at least a quarter of a key
 * frame — after a cut the encoder has to paint one new picture (a gradual change costs a run of frames); steady fast motion raises the neighbourhood too, so it is not mistaken for a cut;
 * (2) a key frame that comes earlier than the encoder's cadence (encoders with scene-cut detection insert one).
 */
export function compressedMotion(packets: readonly PacketInfo[], grid: CompressedGrid): CompressedMotion {
  const list = [...packets].filter((p) => Number.isFinite(p.time)).sort((a, b) => a.time - b.time);
  const scale = 1000 / Math.max(1, grid.pixels);
  const perPacket = list.map((p) => p.size * scale);
  const keyTimes = list.filter((p) => p.key).map((p) => p.time);
  const keyLevel = mean(list.filter((p) => p.key).map((p) => p.size * scale));
  // key frames: mean of the nearest inter frames on either side (two linear passes: an all-key-frame stream must
  // not cost n² scans outward)
  const before = new Array<number | undefined>(list.length);
  const after = new Array<number | undefined>(list.length);
  let last: number | undefined;
  for (let i = 0; i < list.length; i++) {
    before[i] = last;
    if (!list[i].key) last = list[i].size * scale;
  }
  last = undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    after[i] = last;
    if (!list[i].key) last = list[i].size * scale;
  }
  for (let i = 0; i < list.length; i++) {
    if (!list[i].key) continue;
    const around = [before[i], after[i]].filter((v): v is number => v !== undefined);
    perPacket[i] = around.length ? mean(around) : 0;
  }
  const cutKinds = new Map<number, 'spike' | 'early-key'>();
  const gridIndexOf = (time: number) => Math.ceil((time - grid.start) * ANALYSIS_FPS - 0.5);
  const addCut = (time: number, kind: 'spike' | 'early-key') => {
    const g = gridIndexOf(time);
    if (g >= 1 && g < grid.frames && !cutKinds.has(g)) cutKinds.set(g, kind);
  };
  const floor = keyLevel > 0 ? keyLevel / 4 : 0;
  const spikes: number[] = [];
  for (const i of detectSceneCuts(perPacket, { ratio: 3, margin: 0, minimum: 0 })) {
    // a cut is one costly frame between ordinary ones; a run of them is a gradual change (fade, refocus, flash)
    const neighbours = Math.max(perPacket[i - 1] ?? 0, perPacket[i + 1] ?? 0);
    if (!list[i].key && perPacket[i] >= floor && perPacket[i] >= 2 * neighbours) spikes.push(i);
  }
  // Spikes on a beat are the encoder's structure, not cuts: AV1's alt-ref/overlay frames and hierarchical
  // reference frames cost a picture's worth every few frames (a real phone's AV1 clip: one every 0.13 s).
  if (!isEncoderRhythm(spikes.map((i) => list[i].time))) for (const i of spikes) addCut(list[i].time, 'spike');
  const intervals = keyTimes.slice(1).map((t, i) => t - keyTimes[i]);
  // a loop, not Math.max(...intervals): spreading 100 k+ arguments throws a RangeError
  const cadence = intervals.length >= 2 ? intervals.reduce((m, d) => (d > m ? d : m), -Infinity) : Infinity;
  // regular: a full interval after the previous key frame, or on the cadence of the last regular one (a fixed-GOP
  // encoder that inserted an extra key frame keeps its rhythm; x264 restarts it after the inserted one)
  let lastRegular = keyTimes[0];
  // (with fewer than two intervals there is no cadence to judge by)
  if (intervals.length >= 2) intervals.forEach((d, i) => {
    const t = keyTimes[i + 1];
    const periods = (t - lastRegular) / cadence;
    if (d >= 0.9 * cadence || (Math.round(periods) >= 1 && Math.abs(periods - Math.round(periods)) < 0.1)) lastRegular = t;
    else addCut(t, 'early-key');
  });

  const motion = new Array<number>(Math.max(0, grid.frames)).fill(0);
  let p = 0;
  // packets shown at or before grid frame 0 are its picture; they lead to nothing inside the grid
  while (p < list.length && gridIndexOf(list[p].time) <= 0) p++;
  for (let g = 1; g < grid.frames; g++) {
    let sum = 0;
    let any = false;
    while (p < list.length && gridIndexOf(list[p].time) <= g) {
      sum += perPacket[p];
      any = true;
      p++;
    }
    motion[g] = any ? sum : motion[g - 1];
  }
  return { motion, cuts: [...cutKinds.keys()].sort((a, b) => a - b), cutKinds, keyTimes, keyLevel };
}
