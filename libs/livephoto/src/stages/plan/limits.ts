/** The plan stage's limits and shared shapes. */

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

export const fmt = (s: number) => s.toFixed(2);

export interface ValidOptions {
  start?: number;
  duration: number;
  /** the user chose the duration (the default 3 s is not a promise to warn about) */
  durationGiven: boolean;
  keyFrame?: number;
}

/** The clip, before analysis: where it may start, how many 30 fps frames it has and how many come from the source. */
export interface ClipFrame {
  start?: number;
  frames: number;
  /** frames read from the source (< frames when its last frame is held to reach MIN_CLIP_SECONDS) */
  sourceFrames: number;
}

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
