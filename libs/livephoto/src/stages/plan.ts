import {
  analyseFrames,
  chooseCalmestWindow,
  chooseSharpestFrame,
  detectSceneCuts,
  FrameMetrics,
  mean,
  median,
  standardDeviation,
} from '../../../media/src/analysis';
import { LivePhotoError, throwIfAborted } from '../errors';
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

/** Heuristics of the plan stage, on the analysis scale (gray 0..255, 160 px wide motion frames, 30 fps). */
export const PLAN_LIMITS = {
  /** below this the source cannot make a Live Photo at all */
  minSourceSeconds: 0.5,
  /** a "moment" is short; longer sources get SOURCE_TOO_LONG */
  longSourceSeconds: 15,
  /** analysis decodes at most this much, centred, so cost does not grow with the source length */
  maxAnalysisSeconds: 12,
  /** key-frame search radius around the clip middle */
  keyFrameSearchSeconds: 0.5,
  /** mean frame difference above which the clip is a blur of motion */
  motionTooFast: 15,
  /** frame-difference standard deviation above which the motion is jerky (hand shake, whip pans) */
  shakyDeviation: 5,
  /** key frame sharpness below this fraction of the window median, or below the absolute floor, is "blurred" */
  blurredRatio: 0.5,
  blurredFloor: 5,
} as const;

const fmt = (s: number) => s.toFixed(2);

function invalid(message: string, details?: Record<string, unknown>): LivePhotoError {
  return new LivePhotoError('INVALID_OPTIONS', message, details);
}

interface ValidOptions {
  start?: number;
  duration: number;
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
  if (keyFrame === undefined || keyFrame === 'auto') return { start, duration };
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
  return { start, duration, keyFrame };
}

/** The clip, before analysis: where it may start and how many 30 fps frames it has. */
interface ClipFrame {
  start?: number;
  frames: number;
}

function fitClipToSource(source: SourceInfo, o: ValidOptions, warnings: PlanWarning[]): ClipFrame {
  // floor: a clip cut to the source's end must not ask for frames past it
  const framesOf = (seconds: number) => Math.max(1, Math.floor(seconds * OUTPUT_FPS + 1e-6));
  if (o.start !== undefined) {
    const remaining = source.duration - o.start;
    if (remaining >= o.duration) return { start: o.start, frames: Math.round(o.duration * OUTPUT_FPS) };
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
      message: `the source ends ${fmt(remaining)} s after the start; the clip is ${fmt(remaining)} s instead of ${fmt(o.duration)} s`,
    });
    return { start: o.start, frames: framesOf(remaining) };
  }
  if (source.duration < o.duration) {
    warnings.push({
      code: 'SOURCE_SHORTER_THAN_CLIP',
      message: `the source is ${fmt(source.duration)} s, shorter than the ${fmt(o.duration)} s clip; using all of it`,
    });
    return { start: 0, frames: framesOf(source.duration) };
  }
  return { frames: Math.round(o.duration * OUTPUT_FPS) };
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
  const sd = standardDeviation(transitions);
  if (m > PLAN_LIMITS.motionTooFast) {
    warnings.push({
      code: 'MOTION_TOO_FAST',
      message: `the clip moves fast (mean frame difference ${m.toFixed(1)} > ${PLAN_LIMITS.motionTooFast}); the Live Photo will look smeared`,
    });
  }
  if (sd > PLAN_LIMITS.shakyDeviation) {
    warnings.push({
      code: 'CLIP_SHAKY',
      message: `the motion in the clip is jerky (frame-difference deviation ${sd.toFixed(1)} > ${PLAN_LIMITS.shakyDeviation}); it may look shaky`,
    });
  }
}

/**
 * plan: which seconds of the source become the Live Photo, and which frame is the still.
 * Automatic start = the calmest window without a scene cut inside a bounded analysis span; automatic key frame =
 * the sharpest frame within ±0.5 s of the clip middle. With both start and key frame given nothing is decoded.
 */
export async function planClip(source: SourceInfo, options: PlanOptions = {}, ctx: StageContext = {}): Promise<ClipPlan> {
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
  const clip = fitClipToSource(source, valid, warnings);
  const frames = clip.frames;
  const duration = frames / OUTPUT_FPS;

  // Fast path: the user decided everything.
  if (clip.start !== undefined && valid.keyFrame !== undefined) {
    const still = snapStill(valid.keyFrame - clip.start, frames);
    if (still.clamped) warnings.push(clampedWarning(valid.keyFrame, clip.start, still.index));
    reasons.push(
      valid.start !== undefined
        ? `start ${fmt(clip.start)} s and key frame ${fmt(valid.keyFrame)} s chosen by the user`
        : `the whole source (${fmt(source.duration)} s) is the clip; key frame ${fmt(valid.keyFrame)} s chosen by the user`,
    );
    report(100);
    return finish(clip.start, duration, still.index, reasons, warnings);
  }

  // Decide what to decode.
  let spanStart: number;
  let spanDuration: number;
  if (clip.start !== undefined) {
    spanStart = clip.start;
    spanDuration = duration;
  } else {
    spanDuration = Math.min(source.duration, Math.max(PLAN_LIMITS.maxAnalysisSeconds, duration));
    const centre = valid.keyFrame ?? source.duration / 2;
    spanStart = Math.max(0, Math.min(source.duration - spanDuration, centre - spanDuration / 2));
  }
  const analysis = await analyseFrames(source.path, {
    start: spanStart,
    duration: spanDuration,
    displayWidth: source.displayWidth,
    displayHeight: source.displayHeight,
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
  const cutSet = new Set(cuts);

  let windowStart = 0;
  const windowLength = Math.min(frames, metrics.length);
  if (clip.start === undefined) {
    const choice = chooseCalmestWindow(motion, {
      length: windowLength,
      cuts,
      mustContain: valid.keyFrame !== undefined ? Math.round((valid.keyFrame - spanStart) * OUTPUT_FPS) : undefined,
    });
    windowStart = choice.startIndex;
    const from = spanStart + windowStart / OUTPUT_FPS;
    const overall = mean(motion.slice(1).filter((_, i) => !cutSet.has(i + 1)));
    if (windowLength >= metrics.length) {
      reasons.push(`the whole analysed source (${fmt(source.duration)} s) is the clip`);
    } else {
      reasons.push(
        `lowest motion window ${fmt(from)}–${fmt(from + duration)} s of ${fmt(source.duration)} s ` +
          `(mean diff ${choice.meanMotion.toFixed(1)} vs ${overall.toFixed(1)} overall)`,
      );
    }
    if (spanDuration < source.duration) {
      reasons.push(`analysed ${fmt(spanStart)}–${fmt(spanStart + spanDuration)} s only (bounded analysis of a long source)`);
    }
    if (cuts.length > 0 && choice.cuts.length === 0) {
      reasons.push(`avoided scene cut${cuts.length > 1 ? 's' : ''} at ${cuts.map((c) => fmt(spanStart + c / OUTPUT_FPS)).join(', ')} s`);
    }
    if (choice.cuts.length > 0) {
      warnings.push(sceneCutWarning(choice.cuts.map((c) => spanStart + c / OUTPUT_FPS), 'every possible window'));
    }
  } else {
    reasons.push(
      valid.start !== undefined
        ? `start ${fmt(clip.start)} s chosen by the user`
        : `the whole source (${fmt(source.duration)} s) is the clip`,
    );
    const inside = cuts.filter((c) => c > 0 && c < windowLength);
    if (inside.length > 0) {
      warnings.push(
        sceneCutWarning(
          inside.map((c) => spanStart + c / OUTPUT_FPS),
          valid.start !== undefined ? 'the chosen range' : 'the source',
        ),
      );
    }
  }
  const clipStart = spanStart + windowStart / OUTPUT_FPS;
  const window = metrics.slice(windowStart, windowStart + windowLength);
  motionWarnings(window, cutSet, windowStart, warnings);

  // Key frame.
  let stillIndex: number;
  if (valid.keyFrame !== undefined) {
    const still = snapStill(valid.keyFrame - clipStart, frames);
    if (still.clamped) warnings.push(clampedWarning(valid.keyFrame, clipStart, still.index));
    stillIndex = still.index;
    reasons.push(`key frame ${fmt(valid.keyFrame)} s chosen by the user`);
  } else {
    const middle = Math.floor(frames / 2);
    const radius = Math.round(PLAN_LIMITS.keyFrameSearchSeconds * OUTPUT_FPS);
    const sharpness = window.map((f) => f.sharpness);
    stillIndex = chooseSharpestFrame(sharpness, middle - radius, Math.min(middle + radius, window.length - 1));
    reasons.push(
      `sharpest frame within ±${PLAN_LIMITS.keyFrameSearchSeconds} s of the clip middle: ${fmt(clipStart + stillIndex / OUTPUT_FPS)} s ` +
        `(frame ${stillIndex} of ${frames}, sharpness ${sharpness[stillIndex]?.toFixed(0)} vs window median ${median(sharpness).toFixed(0)})`,
    );
  }
  const keySharpness = window[stillIndex]?.sharpness;
  if (keySharpness !== undefined) {
    const typical = median(window.map((f) => f.sharpness));
    if (keySharpness < PLAN_LIMITS.blurredFloor || keySharpness < PLAN_LIMITS.blurredRatio * typical) {
      warnings.push({
        code: 'KEY_FRAME_BLURRED',
        message: `the key frame at ${fmt(clipStart + stillIndex / OUTPUT_FPS)} s looks blurred (sharpness ${keySharpness.toFixed(
          1,
        )} vs ${typical.toFixed(1)} typical for the clip)`,
      });
    }
  }
  report(100);
  return finish(clipStart, duration, stillIndex, reasons, warnings);
}

function clampedWarning(keyFrame: number, clipStart: number, index: number): PlanWarning {
  return {
    code: 'KEY_FRAME_CLAMPED',
    message: `key frame ${fmt(keyFrame)} s is past the last frame of the clip; using ${fmt(clipStart + index / OUTPUT_FPS)} s`,
  };
}

function sceneCutWarning(times: number[], where: string): PlanWarning {
  return {
    code: 'SCENE_CUT_IN_CLIP',
    message: `${where} contains a scene cut (at ${times.map(fmt).join(', ')} s); the Live Photo will jump`,
  };
}

function finish(start: number, duration: number, stillFrameIndex: number, reasons: string[], warnings: PlanWarning[]): ClipPlan {
  // Round away float noise in times (e.g. 2.0000000004) so plans print and compare cleanly; the still offset
  // stays exactly index/30 so the pair stage's still time matches the rendered frame.
  const r = (v: number) => Math.round(v * 1e6) / 1e6;
  return {
    start: r(start),
    duration: r(duration),
    stillOffset: stillFrameIndex / OUTPUT_FPS,
    stillFrameIndex,
    reasons,
    warnings,
  };
}
