import { ANALYSIS_FPS, mean, median, type PacketInfo } from '@vid2live/media/measures';

/**
 * The plan stage's policy on analysis numbers (moved here from libs/media, which only measures): scene cuts,
 * the calmest window, the sharpest frame, motion from compressed frame sizes. Pure functions.
 */
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
