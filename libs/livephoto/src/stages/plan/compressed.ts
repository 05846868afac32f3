import { mean, type FrameMetrics, type PacketInfo } from '@vid2live/media/measures';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { mediaToolsOf } from '../../ports/default-media-tools';
import { OUTPUT_FPS, type ClipPlan, type PlanWarning, type SourceInfo, type StageContext } from '../../types';
import { readMp4PacketIndex } from '../sample-index';
import { decideStill, finish, keyFrameRange } from './key-frame';
import { fmt, type ClipFrame, type PlanCurves, type ValidOptions } from './limits';
import { chooseCalmestWindow, compressedMotion, detectSceneCuts, type WindowChoice } from './policy';
import { motionWarnings, sceneCutWarning } from './warnings';

/**
 * An automatic plan whose key frame waits for the render: the window is chosen (compressed domain), and the render,
 * which decodes the window anyway, also returns its analysis frames and the candidate stills of `candidates`
 * (clip frame indices); `settle` turns those frames into the plan (or says the window must be planned again).
 */
export interface DeferredKeyFrame {
  /** the window as planned; its still is provisional (the middle) until `settle` */
  provisional: ClipPlan;
  candidates: { from: number; to: number };
  /**
   * the plan from the render's analysis frames of clip frames `firstIndex`… (the candidates and the frame before
   * them); undefined: they show a cut, so the window must be planned again
   */
  settle(frames: FrameMetrics[], firstIndex: number): ClipPlan | undefined;
}

/** The video packets of the span: from the MP4 sample tables when we can read them, else from ffprobe. */
export async function packetIndex(source: SourceInfo, start: number, duration: number, ctx: StageContext = {}): Promise<PacketInfo[]> {
  const { signal } = ctx;
  const own = await readMp4PacketIndex(source.path, source.formatName, source.videoStreamIndex, start, duration);
  throwIfAborted(signal);
  return own ?? mediaToolsOf(ctx).readPacketIndex(source.path, { start, duration, streamIndex: source.videoStreamIndex, signal });
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
export async function planOnCompressedStream(
  source: SourceInfo,
  valid: ValidOptions,
  clip: ClipFrame,
  spanStart: number,
  spanDuration: number,
  reasons: string[],
  warnings: PlanWarning[],
  ctx: StageContext,
  onCurves?: (curves: PlanCurves) => void,
  defer = false,
): Promise<ClipPlan | DeferredKeyFrame> {
  const report = (percent: number) => ctx.onProgress?.({ stage: 'plan', percent });
  const packets = await packetIndex(source, spanStart, spanDuration, ctx);
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
  if (defer && mustContain === undefined) {
    // The render decodes this window anyway: it returns the window's analysis frames and the candidate stills,
    // and `settle` decides from them what the key-frame decode below would have (no decode here).
    const first = choice;
    const clipStart = spanStart + first.startIndex / OUTPUT_FPS;
    report(100);
    return {
      provisional: finish(clipStart, clip.frames, clip.sourceFrames, Math.round(range.middle), [...reasons], [...warnings]),
      candidates: { from: range.from, to: range.to },
      settle(frames: FrameMetrics[], firstIndex: number): ClipPlan | undefined {
        const measured = frames.slice(0, Math.max(0, length - firstIndex));
        if (measured.length === 0) return undefined;
        // a cut the stream did not show moves the window: plan again the decoding way (it handles cuts)
        if (detectSceneCuts(measured.map((f) => f.motion)).some((c) => c > 0)) return undefined;
        return conclude(first, measured, first.startIndex + firstIndex, 'the render');
      },
    };
  }
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
    const analysis = await mediaToolsOf(ctx).analyseFrames(source.path, {
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

  return conclude(choice, decoded, decodedFrom, 'decoded');

  /** The plan from the chosen window and the frames decoded from span frame `decodedFrom` on. */
  function conclude(choice: WindowChoice, decoded: FrameMetrics[], decodedFrom: number, decodedBy: string): ClipPlan {
    const out = { reasons: [...reasons], warnings: [...warnings] };
    const windowStart = choice.startIndex;
    const clipStart = spanStart + windowStart / OUTPUT_FPS;
    const decodedEnd = decodedFrom + decoded.length;
    const kindOf = (c: number) => (seen.has(c) ? 'seen in the decoded frames' : stream.cutKinds.get(c) === 'spike' ? 'frame-size spike' : 'early key frame');
    const cutSet = new Set(cuts);
    const overall = mean(stream.motion.slice(1).filter((_, i) => !cutSet.has(i + 1)));
    const measured = decoded.slice(1).filter((_, i) => !cutSet.has(decodedFrom + i + 1)).map((f) => f.motion);
    out.reasons.push(
      `lowest motion window ${at(windowStart)}–${at(windowStart + length)} s of ${fmt(source.duration)} s by the compressed stream ` +
        `(inter frames ${choice.meanMotion.toFixed(1)} vs ${overall.toFixed(1)} B per 1000 px overall; ` +
        `${decodedBy} ${at(decodedFrom)}–${at(decodedEnd)} s: mean diff ${mean(measured).toFixed(1)})`,
    );
    if (spanDuration < source.duration) {
      out.reasons.push(`analysed ${fmt(spanStart)}–${fmt(spanStart + spanDuration)} s only (bounded analysis of a long source)`);
    }
    const avoided = cuts.filter((c) => !choice.cuts.includes(c));
    if (avoided.length > 0) {
      const listed = avoided.slice(0, 5).map((c) => `${at(c)} s (${kindOf(c)})`);
      if (avoided.length > 5) listed.push(`${avoided.length - 5} more`);
      out.reasons.push(`avoided probable scene cut${avoided.length > 1 ? 's' : ''} at ${listed.join(', ')}`);
    }
    // Only cuts the pictures or a frame-size spike show are worth a warning; an early key frame alone is a hint.
    const certain = choice.cuts.filter((c) => seen.has(c) || stream.cutKinds.get(c) === 'spike');
    if (certain.length > 0) out.warnings.push(sceneCutWarning(certain.map(at), 'every possible window'));
    const hints = choice.cuts.filter((c) => !certain.includes(c));
    if (hints.length > 0) out.reasons.push(`possible scene cut at ${hints.map(at).join(', ')} s (early key frame, not verified)`);
    motionWarnings(decoded, cutSet, decodedFrom, out.warnings);

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
    return decideStill(sharpness, { clipStart, totalFrames: clip.frames, sourceFrames: clip.sourceFrames, userKeyFrame: valid.keyFrame }, out.reasons, out.warnings);
  }
}
