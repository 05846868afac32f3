import { mean, median } from '@vid2live/media/measures';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { mediaToolsOf } from '../../ports/default-media-tools';
import {
  DEFAULT_CLIP_SECONDS,
  MAX_CLIP_SECONDS,
  MIN_CLIP_SECONDS,
  OUTPUT_FPS,
  type ClipPlan,
  type PlanOptions,
  type PlanWarning,
  type SourceInfo,
  type StageContext,
} from '../../types';
import { planOnCompressedStream, type DeferredKeyFrame } from './compressed';
import { decideStill, finish, longestCutFreeRun, snapStill } from './key-frame';
import { fmt, PLAN_LIMITS, type ClipFrame, type PlanTuning, type ValidOptions } from './limits';
import { chooseCalmestWindow, detectSceneCuts } from './policy';
import { clampedWarning, motionWarnings, sceneCutWarning } from './warnings';

/*
 * plan: which seconds of the source become the Live Photo and which frame is the still. This file decides the
 * order; limits.ts holds the numbers, policy.ts the choices on analysis numbers, compressed.ts the path that reads
 * the compressed stream first, key-frame.ts the still, warnings.ts what is said about the choice.
 */
export { PLAN_LIMITS, type PlanCurves, type PlanTuning } from './limits';
export type { DeferredKeyFrame } from './compressed';
export { chooseKeyFrame, keyFrameRange, longestCutFreeRun } from './key-frame';
export { chooseCalmestWindow, chooseSharpestFrame, compressedMotion, detectSceneCuts, isEncoderRhythm } from './policy';
export type { CompressedGrid, CompressedMotion, SceneCutOptions, WindowChoice, WindowSearch } from './policy';

function invalid(message: string, details?: Record<string, unknown>): LivePhotoError {
  return new LivePhotoError('INVALID_OPTIONS', message, details);
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

/**
 * plan: which seconds of the source become the Live Photo, and which frame is the still.
 * Automatic start = the calmest window without a scene cut inside a bounded analysis span; automatic key frame =
 * the sharpest frame within ±0.5 s of the clip middle. With both start and key frame given nothing is decoded.
 */
export async function planClip(
  source: SourceInfo,
  options: PlanOptions = {},
  ctx: StageContext = {},
  tuning: PlanTuning = {},
): Promise<ClipPlan> {
  const plan = await planOrDefer(source, options, ctx, tuning, false);
  if ('settle' in plan) throw new Error('planClip: a deferred key frame was not asked for');
  return plan;
}

/**
 * planClip, except that on the compressed-stream path with an automatic key frame the key frame is left to the
 * render (DeferredKeyFrame): the render decodes the window anyway, so the key-frame decode is not done twice.
 */
export async function planClipOrDeferKeyFrame(
  source: SourceInfo,
  options: PlanOptions = {},
  ctx: StageContext = {},
  tuning: PlanTuning = {},
): Promise<ClipPlan | DeferredKeyFrame> {
  return planOrDefer(source, options, ctx, tuning, true);
}

async function planOrDefer(
  source: SourceInfo,
  options: PlanOptions,
  ctx: StageContext,
  tuning: PlanTuning,
  defer: boolean,
): Promise<ClipPlan | DeferredKeyFrame> {
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
      return planOnCompressedStream(source, valid, clip, spanStart, spanDuration, reasons, warnings, ctx, tuning.onCurves, defer);
    }
  }
  const analysis = await mediaToolsOf(ctx).analyseFrames(source.path, {
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
