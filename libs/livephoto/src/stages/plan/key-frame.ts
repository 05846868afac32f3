import { median } from '@vid2live/media/measures';
import { OUTPUT_FPS, type ClipPlan, type PlanWarning } from '../../types';
import { fmt, PLAN_LIMITS } from './limits';
import { clampedWarning } from './warnings';

/** Snap a key-frame time (seconds into the clip) to the output grid, clamped to the clip's frames. */
export function snapStill(offsetSeconds: number, frames: number): { index: number; clamped: boolean } {
  const raw = Math.round(offsetSeconds * OUTPUT_FPS);
  const index = Math.max(0, Math.min(frames - 1, raw));
  return { index, clamped: index !== raw };
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

export interface StillInputs {
  clipStart: number;
  totalFrames: number;
  sourceFrames: number;
  userKeyFrame?: number;
}

/**
 * The key frame and its blur verdict, from the sharpness of the clip's frames (NaN where a frame was not decoded:
 * the compressed-domain path measures only the key-frame range; the typical sharpness is over what was measured).
 */
export function decideStill(sharpness: number[], s: StillInputs, reasons: string[], warnings: PlanWarning[]): ClipPlan {
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

export function finish(
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
