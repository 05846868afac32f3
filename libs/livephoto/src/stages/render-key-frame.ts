import { promises as fs } from 'node:fs';
import { analysisFrameSize, frameMeter, type FrameMetrics } from '@vid2live/media/measures';
import { throwIfAborted } from '@vid2live/errors';
import type { ClipPlan, SourceInfo } from '../types';
import type { DeferredKeyFrame } from './plan';
import { encodeCandidateStill, renderClip, type RenderedClip, type RenderOptions } from './render';

/**
 * The render of an automatic plan whose key frame waits for it (planClipOrDeferKeyFrame): one ffmpeg pass writes
 * the movie, every candidate still of the key-frame range and small gray analysis frames of that range; the plan is
 * settled from those frames (sharpest frame near the middle, motion warnings, a pixel check for cuts) and the
 * chosen candidate's raw frame becomes the still (one small ffmpeg run). The window's frames are decoded once, not
 * once for the plan and again here. When the frames show a cut the compressed stream did not, `replan` plans the
 * decoding way and the clip is rendered again: rare, and what the planner did before.
 */
export async function renderWithDeferredKeyFrame(
  sourcePath: string,
  source: SourceInfo,
  deferred: DeferredKeyFrame,
  options: RenderOptions,
  replan: () => Promise<ClipPlan>,
): Promise<{ plan: ClipPlan; rendered: RenderedClip }> {
  const analysis = analysisFrameSize(source.displayWidth, source.displayHeight);
  const first = await renderClip(sourcePath, source, deferred.provisional, {
    ...options,
    keyFrameCandidates: { ...deferred.candidates, analysis },
  });
  const frames = await measureGrayFrames(first.candidates!.analysisPath, analysis.width, analysis.height);
  const plan = deferred.settle(frames, first.candidates!.analysisFirst);
  throwIfAborted(options.signal);
  if (plan) {
    await encodeCandidateStill(first, plan.stillFrameIndex, { ...options, subject: sourcePath });
    await fs.rm(first.candidates!.rawPath, { force: true });
    return { plan, rendered: { ...first, stillTime: plan.stillOffset, candidates: undefined } };
  }
  const again = await replan();
  return { plan: again, rendered: await renderClip(sourcePath, source, again, options) };
}

/** The plan stage's frame measures over a file of raw gray frames (analyseFrames reads the same from a pipe). */
async function measureGrayFrames(file: string, width: number, height: number): Promise<FrameMetrics[]> {
  const bytes = await fs.readFile(file);
  const size = width * height;
  const measure = frameMeter(width, height);
  const frames: FrameMetrics[] = [];
  for (let at = 0; at + size <= bytes.length; at += size) frames.push(measure(bytes.subarray(at, at + size)));
  return frames;
}
