import { mean, type FrameMetrics } from '@vid2live/media/measures';
import { OUTPUT_FPS, type PlanWarning } from '../../types';
import { fmt, PLAN_LIMITS } from './limits';

export function motionWarnings(window: FrameMetrics[], cutIndices: Set<number>, offset: number, warnings: PlanWarning[]): void {
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

export function clampedWarning(keyFrame: number, clipStart: number, index: number): PlanWarning {
  return {
    code: 'KEY_FRAME_CLAMPED',
    message: `key frame ${fmt(keyFrame)} s is past the last frame of the clip; using ${fmt(clipStart + index / OUTPUT_FPS)} s`,
  };
}

export function sceneCutWarning(times: string[], where: string): PlanWarning {
  return {
    code: 'SCENE_CUT_IN_CLIP',
    message: `${where} contains a scene cut (at ${times.join(', ')} s); the Live Photo will jump`,
  };
}
