import {
  analyseFrames,
  chooseCalmestWindow,
  compressedMotion,
  detectSceneCuts,
  FrameMetrics,
  mean,
  median,
  PacketInfo,
  readPacketIndex,
} from '@vid2live/media/analysis';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import {
  ClipPlan,
  DEFAULT_CLIP_SECONDS,
  MAX_CLIP_SECONDS,
  MIN_CLIP_SECONDS,
  OUTPUT_FPS,
  PlanOptions,
  PlanWarning,
  SourceInfo,
  StageContext,
} from '../types';
import { readMp4PacketIndex } from './sample-index';

/** Heuristics of the plan stage, on the analysis scale (gray 0..255, 160 px wide motion frames, 30 fps). */
export const PLAN_LIMITS = {
  /**
   * Below this (3 frames at 30 fps) the source cannot make a Live Photo at all. Shorter than MIN_CLIP_SECONDS
   * but at least this long, the clip is all of the source with its last frame held up to MIN_CLIP_SECONDS.
   */
  minSourceSeconds: 0.1,
  /** a "moment" is short; longer sources get SOURCE_TOO_LONG */
  longSourceSeconds: 15,
  /** analysis decodes at most this much, centred, so cost does not grow with the source length */
  maxAnalysisSeconds: 12,
  /**
   * Choosing the window by decoding the whole analysis span costs about one decode of it: 1.4–1.9× the render of
   * the clip at 1080p–4K. Above this many decoded pixels (coded size × frames of the span) the window is chosen on
   * the compressed stream (frame sizes and types, no decoding) and only the key-frame range is decoded. Below it
   * (e.g. 12 s of 320×240 = 28 Mpx) the full decode takes about as long as starting ffmpeg, and is kept.
   */
  fullAnalysisMaxMegapixels: 40,
  /** key-frame search radius around the clip middle (and never outside the clip's middle half) */
  keyFrameSearchSeconds: 0.5,
  /**
   * Centre weight of the key-frame choice: a frame at the edge of the search range must be this much sharper
   * (1 / (1 − w) = 1.33×) than the middle one to win, so the still stays near the middle like Apple's own.
   */
  keyFrameCentreWeight: 0.25,
  /** a cut-free run covering at least this share of a whole-source clip is used instead (edge glitches) */
  edgeTrimMinShare: 0.75,
  /** mean frame difference above which the clip is a blur of motion */
  motionTooFast: 15,
  /**
   * mean change of the frame difference from one frame to the next above which the motion is jerky (hand
   * shake, whip pans); measured: 27 on a randomly jumping crop, 2.4 on a slow pan, 1.3 on a genuine iPhone
   * Live Photo of a camera coming to rest, ≤ 0.8 on the other real clips
   */
  shakyJerk: 5,
  /** key frame sharpness below this fraction of the window median, or below the absolute floor, is "blurred" */
  blurredRatio: 0.5,
  /** below this typical sharpness the clip has no detail to judge (flat, dark, fog): no blur verdict */
  blurredFloor: 5,
} as const;

const fmt = (s: number) => s.toFixed(2);

function invalid(message: string, details?: Record<string, unknown>): LivePhotoError {
  return new LivePhotoError('INVALID_OPTIONS', message, details);
}

interface ValidOptions {
  start?: number;
  duration: number;
  /** the user chose the duration (the default 3 s is not a promise to warn about) */
  durationGiven: boolean;
  keyFrame?: number;
}

function validateOptions(source: SourceInfo, options: PlanOptions): ValidOptions {
  const duration = options.duration ?? DEFAULT_CLIP_SECONDS;
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < MIN_CLIP_SECONDS || duration > MAX_CLIP_SECONDS) {
    throw invalid(`clip duration must be between ${MIN_CLIP_SECONDS} and ${MAX_CLIP_SECONDS} seconds, got ${String(options.duration)}`, {
      duration: options.duration,
    });
  }
  const { start } = options;
  if (start !== undefined) {
    if (typeof start !== 'number' || !Number.isFinite(start) || start < 0) {
      throw invalid(`clip start must be a number of seconds ≥ 0, got ${String(start)}`, { start });
    }
    if (start >= source.duration) {
      throw invalid(`clip start ${fmt(start)} s is not inside ${source.path} (${fmt(source.duration)} s long)`, {
        start,
        sourceDuration: source.duration,
      });
    }
  }
  const { keyFrame } = options;
  const durationGiven = options.duration !== undefined;
  if (keyFrame === undefined || keyFrame === 'auto') return { start, duration, durationGiven };
  if (typeof keyFrame !== 'number' || !Number.isFinite(keyFrame) || keyFrame < 0) {
    throw invalid(`key frame must be 'auto' or a time in seconds ≥ 0, got ${String(keyFrame)}`, { keyFrame });
  }
  if (keyFrame > source.duration) {
    throw invalid(`key frame ${fmt(keyFrame)} s is past the end of ${source.path} (${fmt(source.duration)} s)`, {
      keyFrame,
      sourceDuration: source.duration,
    });
  }
  if (start !== undefined && (keyFrame < start || keyFrame > start + duration)) {
    throw invalid(`key frame ${fmt(keyFrame)} s is outside the clip ${fmt(start)}–${fmt(start + duration)} s`, {
      keyFrame,
      start,
      duration,
    });
  }
  return { start, duration, durationGiven, keyFrame };
}

/** The clip, before analysis: where it may start, how many 30 fps frames it has and how many come from the source. */
interface ClipFrame {
  start?: number;
  frames: number;
  /** frames read from the source (< frames when its last frame is held to reach MIN_CLIP_SECONDS) */
  sourceFrames: number;
}

function fitClipToSource(source: SourceInfo, o: ValidOptions, warnings: PlanWarning[], reasons: string[]): ClipFrame {
  // floor: a clip cut to the source's end must not ask for frames past it
  const framesOf = (seconds: number) => Math.max(1, Math.floor(seconds * OUTPUT_FPS + 1e-6));
  const minFrames = Math.round(MIN_CLIP_SECONDS * OUTPUT_FPS);
  const wanted = Math.round(o.duration * OUTPUT_FPS);
  /** all of `seconds` from the source, held to the minimum clip length when shorter */
  const shortClip = (seconds: number, start: number | undefined): ClipFrame => {
    const sourceFrames = framesOf(seconds);
    if (sourceFrames < minFrames) {
      warnings.push({
        code: 'SOURCE_EXTENDED',
        message: `only ${fmt(seconds)} s of video${start ? ` after ${fmt(start)} s` : ''}; its last frame is held to make the ${fmt(
          MIN_CLIP_SECONDS,
        )} s minimum of a Live Photo`,
      });
    }
    return { start, frames: Math.max(minFrames, sourceFrames), sourceFrames };
  };
  if (o.start !== undefined) {
    const remaining = source.duration - o.start;
    // a window ending at the source's last frame is whole (1.4 − 0.2 = 1.1999999999999997 is 1.2)
    if (remaining >= o.duration - 1e-6) return { start: o.start, frames: wanted, sourceFrames: wanted };
    if (remaining < PLAN_LIMITS.minSourceSeconds) {
      throw invalid(
        `clip start ${fmt(o.start)} s leaves only ${fmt(remaining)} s of ${source.path}; start earlier (at most ${fmt(
          source.duration - PLAN_LIMITS.minSourceSeconds,
        )} s)`,
        { start: o.start, sourceDuration: source.duration },
      );
    }
    warnings.push({
      code: 'SOURCE_SHORTER_THAN_CLIP',
      message: `the source ends ${fmt(remaining)} s after the start; the clip is ${fmt(Math.max(MIN_CLIP_SECONDS, remaining))} s instead of ${fmt(o.duration)} s`,
    });
    return shortClip(remaining, o.start);
  }
  if (source.duration < o.duration) {
    const message = `the source is ${fmt(source.duration)} s, shorter than the ${fmt(o.duration)} s clip; using all of it`;
    // Only a length the user asked for is a broken promise; a 1.4 s phone clip becoming a 1.4 s Live Photo is not.
    if (o.durationGiven) warnings.push({ code: 'SOURCE_SHORTER_THAN_CLIP', message });
    else reasons.push(message);
    return shortClip(source.duration, 0);
  }
  return { frames: wanted, sourceFrames: wanted };
}

/** Snap a key-frame time (seconds into the clip) to the output grid, clamped to the clip's frames. */
function snapStill(offsetSeconds: number, frames: number): { index: number; clamped: boolean } {
  const raw = Math.round(offsetSeconds * OUTPUT_FPS);
  const index = Math.max(0, Math.min(frames - 1, raw));
  return { index, clamped: index !== raw };
}

function motionWarnings(window: FrameMetrics[], cutIndices: Set<number>, offset: number, warnings: PlanWarning[]): void {
  const transitions = window.slice(1).filter((_, i) => !cutIndices.has(offset + i + 1)).map((f) => f.motion);
  if (transitions.length === 0) return;
  const m = mean(transitions);
  if (m > PLAN_LIMITS.motionTooFast) {
    warnings.push({
      code: 'MOTION_TOO_FAST',
      message: `the clip moves fast (mean frame difference ${m.toFixed(1)} > ${PLAN_LIMITS.motionTooFast}); the Live Photo will look smeared`,
    });
  }
  // Shake is motion that changes abruptly from one frame to the next; a steady pan or a camera slowing down
  // changes smoothly, however fast it is.
  const jerk = mean(transitions.slice(1).map((v, i) => Math.abs(v - transitions[i])));
  if (jerk > PLAN_LIMITS.shakyJerk) {
    warnings.push({
      code: 'CLIP_SHAKY',
      message: `the motion in the clip is jerky (frame difference changes by ${jerk.toFixed(1)} per frame on average > ${PLAN_LIMITS.shakyJerk}); it may look shaky`,
    });
  }
}

/**
 * plan: which seconds of the source become the Live Photo, and which frame is the still.
 * Automatic start = the calmest window without a scene cut inside a bounded analysis span; automatic key frame =
 * the sharpest frame within ±0.5 s of the clip middle. With both start and key frame given nothing is decoded.
 */
/** Knobs for tests and benchmarks; production uses the defaults (PLAN_LIMITS). */
export interface PlanTuning {
  /** see PLAN_LIMITS.fullAnalysisMaxMegapixels; 0 = always choose the window on the compressed stream */
  fullAnalysisMaxMegapixels?: number;
  /** receives the per-frame numbers the automatic choice was made on (the studio draws them) */
  onCurves?: (curves: PlanCurves) => void;
}

/**
 * What the automatic choice saw, on the 30 fps grid of the analysed span from `start` (seconds of the source).
 * `decoded`: motion = mean absolute difference to the previous frame (0–255), sharpness = Laplacian variance.
 * `compressed`: motion = the frame's compressed size in bytes per 1000 px; sharpness only where decoded (else NaN).
 */
export interface PlanCurves {
  kind: 'decoded' | 'compressed';
  start: number;
  fps: number;
  motion: number[];
  sharpness: number[];
  cuts: number[];
}

export async function planClip(
  source: SourceInfo,
  options: PlanOptions = {},
  ctx: StageContext = {},
  tuning: PlanTuning = {},
): Promise<ClipPlan> {
  throwIfAborted(ctx.signal);
  const report = (percent: number) => ctx.onProgress?.({ stage: 'plan', percent });
  report(0);
  const valid = validateOptions(source, options);
  if (!(source.duration >= PLAN_LIMITS.minSourceSeconds)) {
    throw new LivePhotoError(
      'CLIP_TOO_SHORT',
      `${source.path} is ${fmt(source.duration)} s long; a Live Photo needs at least ${PLAN_LIMITS.minSourceSeconds} s`,
      { file: source.path, duration: source.duration },
    );
  }

  const warnings: PlanWarning[] = [];
  const reasons: string[] = [];
  if (source.duration > PLAN_LIMITS.longSourceSeconds) {
    warnings.push({
      code: 'SOURCE_TOO_LONG',
      message: `the source is ${fmt(source.duration)} s; a Live Photo is a ~3 s moment, so only a short part is used`,
    });
  }
  const clip = fitClipToSource(source, valid, warnings, reasons);
  const frames = clip.frames;

  // Fast path: the user decided everything.
  if (clip.start !== undefined && valid.keyFrame !== undefined) {
    const still = snapStill(valid.keyFrame - clip.start, clip.sourceFrames);
    if (still.clamped) warnings.push(clampedWarning(valid.keyFrame, clip.start, still.index));
    reasons.push(
      valid.start !== undefined
        ? `start ${fmt(clip.start)} s and key frame ${fmt(valid.keyFrame)} s chosen by the user`
        : `the whole source (${fmt(source.duration)} s) is the clip; key frame ${fmt(valid.keyFrame)} s chosen by the user`,
    );
    report(100);
    return finish(clip.start, frames, clip.sourceFrames, still.index, reasons, warnings);
  }

  // Decide what to decode.
  let spanStart: number;
  let spanDuration: number;
  if (clip.start !== undefined) {
    spanStart = clip.start;
    spanDuration = clip.sourceFrames / OUTPUT_FPS;
  } else {
    spanDuration = Math.min(source.duration, Math.max(PLAN_LIMITS.maxAnalysisSeconds, frames / OUTPUT_FPS));
    const centre = valid.keyFrame ?? source.duration / 2;
    spanStart = Math.max(0, Math.min(source.duration - spanDuration, centre - spanDuration / 2));
    const decodedPixels = source.width * source.height * spanDuration * Math.max(OUTPUT_FPS, Math.min(source.fps || OUTPUT_FPS, 240));
    if (decodedPixels > (tuning.fullAnalysisMaxMegapixels ?? PLAN_LIMITS.fullAnalysisMaxMegapixels) * 1e6) {
      return planOnCompressedStream(source, valid, clip, spanStart, spanDuration, reasons, warnings, ctx, tuning.onCurves);
    }
  }
  const analysis = await analyseFrames(source.path, {
    start: spanStart,
    duration: spanDuration,
    displayWidth: source.displayWidth,
    displayHeight: source.displayHeight,
    streamIndex: source.videoStreamIndex,
    signal: ctx.signal,
    onProgress: (p) => report(Math.min(95, Math.round(p * 0.95))),
  });
  const metrics = analysis.frames;
  if (metrics.length === 0) {
    throw new LivePhotoError('INPUT_ZERO_DURATION', `no frames could be decoded from ${source.path} at ${fmt(spanStart)} s`, {
      file: source.path,
    });
  }
  const motion = metrics.map((f) => f.motion);
  const cuts = detectSceneCuts(motion);
  tuning.onCurves?.({ kind: 'decoded', start: spanStart, fps: OUTPUT_FPS, motion, sharpness: metrics.map((f) => f.sharpness), cuts });
  const cutSet = new Set(cuts);
  const at = (index: number) => fmt(spanStart + index / OUTPUT_FPS);

  let windowStart = 0;
  let windowLength = Math.min(clip.sourceFrames, metrics.length);
  let sourceFrames = clip.sourceFrames;
  let totalFrames = frames;
  if (clip.start === undefined) {
    const choice = chooseCalmestWindow(motion, {
      length: windowLength,
      cuts,
      mustContain: valid.keyFrame !== undefined ? Math.round((valid.keyFrame - spanStart) * OUTPUT_FPS) : undefined,
    });
    windowStart = choice.startIndex;
    const overall = mean(motion.slice(1).filter((_, i) => !cutSet.has(i + 1)));
    if (windowLength >= metrics.length) {
      reasons.push(`the whole analysed source (${fmt(source.duration)} s) is the clip`);
    } else {
      reasons.push(
        `lowest motion window ${at(windowStart)}–${at(windowStart + windowLength)} s of ${fmt(source.duration)} s ` +
          `(mean diff ${choice.meanMotion.toFixed(1)} vs ${overall.toFixed(1)} overall)`,
      );
    }
    if (spanDuration < source.duration) {
      reasons.push(`analysed ${fmt(spanStart)}–${fmt(spanStart + spanDuration)} s only (bounded analysis of a long source)`);
    }
    if (cuts.length > 0 && choice.cuts.length === 0) {
      reasons.push(`avoided scene cut${cuts.length > 1 ? 's' : ''} at ${cuts.map(at).join(', ')} s`);
    }
    if (choice.cuts.length > 0) {
      warnings.push(sceneCutWarning(choice.cuts.map(at), 'every possible window'));
    }
  } else {
    reasons.push(
      valid.start !== undefined ? `start ${fmt(clip.start)} s chosen by the user` : `the whole source (${fmt(source.duration)} s) is the clip`,
    );
    let inside = cuts.filter((c) => c > 0 && c < windowLength);
    // A whole-source clip with a jump near an edge (a phone's last frame from elsewhere, a flash frame): keep the
    // longest cut-free run when it is most of the clip and still as long as the clip has to be.
    const minFrames = Math.min(windowLength, Math.round(MIN_CLIP_SECONDS * OUTPUT_FPS));
    const run = valid.start === undefined && valid.keyFrame === undefined ? longestCutFreeRun(inside, windowLength) : undefined;
    if (run && inside.length > 0 && run.length >= PLAN_LIMITS.edgeTrimMinShare * windowLength && run.length >= minFrames) {
      reasons.push(
        `left out ${windowLength - run.length} frame${windowLength - run.length > 1 ? 's' : ''} beyond the jump${
          inside.length > 1 ? 's' : ''
        } at ${inside.map(at).join(', ')} s (mean diff ${inside.map((c) => motion[c].toFixed(1)).join(', ')} vs ${median(motion.slice(1)).toFixed(1)} typical)`,
      );
      windowStart = run.start;
      windowLength = run.length;
      sourceFrames = run.length;
      totalFrames = Math.max(sourceFrames, frames - (clip.sourceFrames - run.length));
      inside = [];
    }
    if (inside.length > 0) {
      warnings.push(sceneCutWarning(inside.map(at), valid.start !== undefined ? 'the chosen range' : 'the source'));
    }
  }
  const clipStart = spanStart + windowStart / OUTPUT_FPS;
  const window = metrics.slice(windowStart, windowStart + windowLength);
  motionWarnings(window, cutSet, windowStart, warnings);

  // Key frame.
  report(100);
  return decideStill(
    window.map((f) => f.sharpness),
    { clipStart, totalFrames, sourceFrames, userKeyFrame: valid.keyFrame },
    reasons,
    warnings,
  );
}

interface StillInputs {
  clipStart: number;
  totalFrames: number;
  sourceFrames: number;
  userKeyFrame?: number;
}

/**
 * The key frame and its blur verdict, from the sharpness of the clip's frames (NaN where a frame was not decoded:
 * the compressed-domain path measures only the key-frame range; the typical sharpness is over what was measured).
 */
function decideStill(sharpness: number[], s: StillInputs, reasons: string[], warnings: PlanWarning[]): ClipPlan {
  const { clipStart, totalFrames, sourceFrames } = s;
  const window = sharpness;
  const typical = median(sharpness.filter((v) => Number.isFinite(v)));
  let stillIndex: number;
  if (s.userKeyFrame !== undefined) {
    const still = snapStill(s.userKeyFrame - clipStart, Math.min(sourceFrames, window.length));
    if (still.clamped) warnings.push(clampedWarning(s.userKeyFrame, clipStart, still.index));
    stillIndex = still.index;
    reasons.push(`key frame ${fmt(s.userKeyFrame)} s chosen by the user`);
  } else {
    const range = keyFrameRange(window.length);
    stillIndex = chooseKeyFrame(sharpness, range);
    reasons.push(
      `key frame ${fmt(clipStart + stillIndex / OUTPUT_FPS)} s: the sharpest, favouring the middle, of frames ${range.from}–${range.to} ` +
        `(the clip's middle${range.radius < PLAN_LIMITS.keyFrameSearchSeconds * OUTPUT_FPS ? ' half' : ` ±${PLAN_LIMITS.keyFrameSearchSeconds} s`}; ` +
        `frame ${stillIndex} of ${window.length}, sharpness ${sharpness[stillIndex]?.toFixed(0)} vs ${typical.toFixed(0)} typical)`,
    );
  }
  const keySharpness = sharpness[stillIndex];
  if (keySharpness !== undefined && Number.isFinite(keySharpness)) {
    if (typical < PLAN_LIMITS.blurredFloor) {
      reasons.push(`the clip has almost no detail (typical sharpness ${typical.toFixed(1)}); the key frame's focus is not judged`);
    } else if (keySharpness < PLAN_LIMITS.blurredRatio * typical) {
      warnings.push({
        code: 'KEY_FRAME_BLURRED',
        message: `the key frame at ${fmt(clipStart + stillIndex / OUTPUT_FPS)} s looks blurred: sharpness ${keySharpness.toFixed(
          1,
        )}, under ${PLAN_LIMITS.blurredRatio}× the clip's typical ${typical.toFixed(1)}`,
      });
    }
  }
  return finish(clipStart, totalFrames, sourceFrames, stillIndex, reasons, warnings);
}

/** The video packets of the span: from the MP4 sample tables when we can read them, else from ffprobe. */
async function packetIndex(source: SourceInfo, start: number, duration: number, signal?: AbortSignal): Promise<PacketInfo[]> {
  const own = await readMp4PacketIndex(source.path, source.formatName, source.videoStreamIndex, start, duration);
  throwIfAborted(signal);
  return own ?? readPacketIndex(source.path, { start, duration, streamIndex: source.videoStreamIndex, signal });
}

/**
 * Automatic window on a source whose full decode would cost more than the render (see
 * PLAN_LIMITS.fullAnalysisMaxMegapixels), in two passes:
 *  1. compressed domain (no decoding): inter-frame sizes as motion, size spikes and early key frames as probable
 *     cuts, over the whole analysis span → the calmest window without a (probable) cut;
 *  2. one decode of that window's key-frame range (±0.5 s around its middle, from the key frame before it, at the
 *     usual analysis size): the sharpest frame near the middle, the motion warnings, and a pixel check for cuts the
 *     stream did not show. A cut found there goes back to step 1 (at most twice).
 */
async function planOnCompressedStream(
  source: SourceInfo,
  valid: ValidOptions,
  clip: ClipFrame,
  spanStart: number,
  spanDuration: number,
  reasons: string[],
  warnings: PlanWarning[],
  ctx: StageContext,
  onCurves?: (curves: PlanCurves) => void,
): Promise<ClipPlan> {
  const report = (percent: number) => ctx.onProgress?.({ stage: 'plan', percent });
  const packets = await packetIndex(source, spanStart, spanDuration, ctx.signal);
  report(5);
  const gridFrames = Math.floor(spanDuration * OUTPUT_FPS + 1e-6);
  if (packets.length === 0 || gridFrames < 1) {
    throw new LivePhotoError('INPUT_ZERO_DURATION', `no frames could be read from ${source.path} at ${fmt(spanStart)} s`, {
      file: source.path,
    });
  }
  const stream = compressedMotion(packets, { start: spanStart, frames: gridFrames, pixels: source.width * source.height });
  const length = Math.min(clip.sourceFrames, gridFrames);
  const at = (index: number) => fmt(spanStart + index / OUTPUT_FPS);
  const cuts = [...stream.cuts];
  /** cuts seen in decoded pictures (span frame indices) */
  const seen = new Set<number>();
  const mustContain = valid.keyFrame !== undefined ? Math.round((valid.keyFrame - spanStart) * OUTPUT_FPS) : undefined;
  const range = keyFrameRange(length);
  let choice = chooseCalmestWindow(stream.motion, { length, cuts, mustContain });
  let decodedFrom = 0;
  let decoded: FrameMetrics[] = [];
  for (let attempt = 0; ; attempt++) {
    const ws = choice.startIndex;
    let lo = ws + range.from;
    let hi = ws + range.to;
    if (mustContain !== undefined) {
      const k = Math.max(ws, Math.min(ws + length - 1, mustContain));
      lo = Math.min(lo, k);
      hi = Math.max(hi, k);
    }
    // Decoding starts at the key frame before `lo` whatever we ask; measure from there (inside the window) too.
    const loTime = spanStart + lo / OUTPUT_FPS;
    const keyBefore = stream.keyTimes.filter((t) => t <= loTime + 1e-6).pop();
    decodedFrom = keyBefore === undefined ? lo : Math.min(lo, Math.max(ws, Math.ceil((keyBefore - spanStart) * OUTPUT_FPS - 1e-6)));
    const analysis = await analyseFrames(source.path, {
      start: spanStart + decodedFrom / OUTPUT_FPS,
      duration: (hi + 1 - decodedFrom) / OUTPUT_FPS,
      displayWidth: source.displayWidth,
      displayHeight: source.displayHeight,
      streamIndex: source.videoStreamIndex,
      signal: ctx.signal,
      onProgress: (p) => report(Math.min(95, 5 + Math.round(p * 0.9))),
    });
    decoded = analysis.frames.slice(0, hi + 1 - decodedFrom);
    if (decoded.length === 0) {
      throw new LivePhotoError('INPUT_ZERO_DURATION', `no frames could be decoded from ${source.path} at ${at(decodedFrom)} s`, {
        file: source.path,
      });
    }
    const fresh = detectSceneCuts(decoded.map((f) => f.motion))
      .map((c) => decodedFrom + c)
      .filter((c) => !seen.has(c));
    fresh.forEach((c) => seen.add(c));
    if (fresh.length === 0) break;
    for (const c of fresh) if (!cuts.includes(c)) cuts.push(c);
    if (attempt >= 2) {
      choice = { ...choice, cuts: cuts.filter((c) => c > ws && c < ws + length) };
      break;
    }
    const next = chooseCalmestWindow(stream.motion, { length, cuts, mustContain });
    if (next.startIndex === choice.startIndex) {
      choice = next;
      break;
    }
    choice = next;
  }

  const windowStart = choice.startIndex;
  const clipStart = spanStart + windowStart / OUTPUT_FPS;
  const decodedEnd = decodedFrom + decoded.length;
  const kindOf = (c: number) => (seen.has(c) ? 'seen in the decoded frames' : stream.cutKinds.get(c) === 'spike' ? 'frame-size spike' : 'early key frame');
  const cutSet = new Set(cuts);
  const overall = mean(stream.motion.slice(1).filter((_, i) => !cutSet.has(i + 1)));
  const measured = decoded.slice(1).filter((_, i) => !cutSet.has(decodedFrom + i + 1)).map((f) => f.motion);
  reasons.push(
    `lowest motion window ${at(windowStart)}–${at(windowStart + length)} s of ${fmt(source.duration)} s by the compressed stream ` +
      `(inter frames ${choice.meanMotion.toFixed(1)} vs ${overall.toFixed(1)} B per 1000 px overall; ` +
      `decoded ${at(decodedFrom)}–${at(decodedEnd)} s: mean diff ${mean(measured).toFixed(1)})`,
  );
  if (spanDuration < source.duration) {
    reasons.push(`analysed ${fmt(spanStart)}–${fmt(spanStart + spanDuration)} s only (bounded analysis of a long source)`);
  }
  const avoided = cuts.filter((c) => !choice.cuts.includes(c));
  if (avoided.length > 0) {
    const listed = avoided.slice(0, 5).map((c) => `${at(c)} s (${kindOf(c)})`);
    if (avoided.length > 5) listed.push(`${avoided.length - 5} more`);
    reasons.push(`avoided probable scene cut${avoided.length > 1 ? 's' : ''} at ${listed.join(', ')}`);
  }
  // Only cuts the pictures or a frame-size spike show are worth a warning; an early key frame alone is a hint.
  const certain = choice.cuts.filter((c) => seen.has(c) || stream.cutKinds.get(c) === 'spike');
  if (certain.length > 0) warnings.push(sceneCutWarning(certain.map(at), 'every possible window'));
  const hints = choice.cuts.filter((c) => !certain.includes(c));
  if (hints.length > 0) reasons.push(`possible scene cut at ${hints.map(at).join(', ')} s (early key frame, not verified)`);
  motionWarnings(decoded, cutSet, decodedFrom, warnings);

  const sharpness = new Array<number>(length).fill(Number.NaN);
  decoded.forEach((f, i) => {
    const w = decodedFrom - windowStart + i;
    if (w >= 0 && w < length) sharpness[w] = f.sharpness;
  });
  if (onCurves) {
    const spanSharpness = new Array<number>(stream.motion.length).fill(Number.NaN);
    decoded.forEach((f, i) => {
      if (decodedFrom + i < spanSharpness.length) spanSharpness[decodedFrom + i] = f.sharpness;
    });
    onCurves({ kind: 'compressed', start: spanStart, fps: OUTPUT_FPS, motion: [...stream.motion], sharpness: spanSharpness, cuts: [...cuts].sort((a, b) => a - b) });
  }
  report(100);
  return decideStill(sharpness, { clipStart, totalFrames: clip.frames, sourceFrames: clip.sourceFrames, userKeyFrame: valid.keyFrame }, reasons, warnings);
}

/** Frames [from, to] where an automatic key frame may sit: ±keyFrameSearchSeconds around the middle, inside the middle half. */
export function keyFrameRange(frameCount: number): { from: number; to: number; middle: number; radius: number } {
  const middle = (frameCount - 1) / 2;
  const radius = Math.min(PLAN_LIMITS.keyFrameSearchSeconds * OUTPUT_FPS, frameCount / 4);
  return {
    from: Math.max(0, Math.ceil(middle - radius)),
    to: Math.min(frameCount - 1, Math.floor(middle + radius)),
    middle,
    radius: Math.max(radius, 0.5),
  };
}

/**
 * The automatic key frame: the highest sharpness × centre weight in the range (weight 1 in the middle, 1 − w at
 * the edges), so a frame far from the middle wins only when it is clearly sharper; the earliest on ties.
 */
export function chooseKeyFrame(sharpness: readonly number[], range: { from: number; to: number; middle: number; radius: number }): number {
  let best = range.from;
  let bestScore = -Infinity;
  for (let i = range.from; i <= range.to && i < sharpness.length; i++) {
    const d = Math.min(1, Math.abs(i - range.middle) / range.radius);
    const score = sharpness[i] * (1 - PLAN_LIMITS.keyFrameCentreWeight * d * d);
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}

/** The longest run of frames [start, start+length) with no cut inside (a cut at c separates c−1 from c). */
export function longestCutFreeRun(cuts: readonly number[], frameCount: number): { start: number; length: number } {
  const bounds = [0, ...[...cuts].filter((c) => c > 0 && c < frameCount).sort((x, y) => x - y), frameCount];
  let best = { start: 0, length: 0 };
  for (let i = 0; i + 1 < bounds.length; i++) {
    const length = bounds[i + 1] - bounds[i];
    if (length > best.length) best = { start: bounds[i], length };
  }
  return best;
}

function clampedWarning(keyFrame: number, clipStart: number, index: number): PlanWarning {
  return {
    code: 'KEY_FRAME_CLAMPED',
    message: `key frame ${fmt(keyFrame)} s is past the last frame of the clip; using ${fmt(clipStart + index / OUTPUT_FPS)} s`,
  };
}

function sceneCutWarning(times: string[], where: string): PlanWarning {
  return {
    code: 'SCENE_CUT_IN_CLIP',
    message: `${where} contains a scene cut (at ${times.join(', ')} s); the Live Photo will jump`,
  };
}

function finish(
  start: number,
  frames: number,
  sourceFrames: number,
  stillFrameIndex: number,
  reasons: string[],
  warnings: PlanWarning[],
): ClipPlan {
  // Round away float noise in times (e.g. 2.0000000004) so plans print and compare cleanly; the still offset
  // stays exactly index/30 so the pair stage's still time matches the rendered frame.
  const r = (v: number) => Math.round(v * 1e6) / 1e6;
  return {
    start: r(start),
    duration: r(frames / OUTPUT_FPS),
    sourceDuration: r(Math.min(frames, sourceFrames) / OUTPUT_FPS),
    stillOffset: stillFrameIndex / OUTPUT_FPS,
    stillFrameIndex,
    reasons,
    warnings,
  };
}
