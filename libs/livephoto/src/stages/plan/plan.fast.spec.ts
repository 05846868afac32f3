import { loadRecording, recordedPath } from '../../recorded/media-recording';
import { replayMediaTools, type ReplayMediaTools } from '../../recorded/replay-media-tools';
import type { ClipPlan, PlanOptions, SourceInfo } from '../../types';
import { sourceInfoFromFfprobe } from '../probe';
import { planClip, planClipOrDeferKeyFrame, type PlanCurves, type PlanTuning } from '.';

/**
 * The plan stage's decisions on frame analyses and packet indexes recorded from real runs (recorded/fixtures): the
 * same sources and the same expectations as plan.spec.ts and real-media.spec.ts, without a decoder. The recorded
 * numbers are exactly what ffmpeg measured, so the plan made here is the plan made on the real file.
 */

const codes = (p: { warnings: { code: string }[] }) => p.warnings.map((w) => w.code);
const COARSE: PlanTuning = { fullAnalysisMaxMegapixels: 0 };

interface Planned {
  plan: ClipPlan;
  source: SourceInfo;
  media: ReplayMediaTools;
  progress: number[];
  curves?: PlanCurves;
}

async function plan(name: string, options: PlanOptions = {}, tuning: PlanTuning = {}): Promise<Planned> {
  const rec = loadRecording(name);
  const source = sourceInfoFromFfprobe(recordedPath(name), rec.sizeBytes, rec.probe.data!);
  const media = replayMediaTools(rec);
  const progress: number[] = [];
  let curves: PlanCurves | undefined;
  const result = await planClip(source, options, { media, onProgress: (p) => progress.push(p.percent) }, { ...tuning, onCurves: (c) => (curves = c) });
  return { plan: result, source, media, progress, curves };
}

describe('planClip on recorded analyses: automatic window and key frame (plan.spec.ts sources)', () => {
  it('picks the static part of a clip that is static for 4 s and then moves fast', async () => {
    const { plan: p, progress, media } = await plan('static-then-fast.mp4');
    expect(p.duration).toBe(3);
    expect(p.start + p.duration).toBeLessThanOrEqual(4 + 1 / 30 + 1e-3);
    expect(p.reasons[0]).toMatch(/^lowest motion window \d+\.\d\d–\d+\.\d\d s of 8\.00 s \(mean diff 0\.\d vs \d+\.\d overall\)$/);
    expect(p.stillFrameIndex).toBeGreaterThanOrEqual(45 - 15);
    expect(p.stillFrameIndex).toBeLessThanOrEqual(45 + 15);
    expect(p.stillOffset).toBeCloseTo(p.stillFrameIndex / 30, 6);
    expect(p.warnings).toEqual([]);
    expect(progress[progress.length - 1]).toBe(100);
    // one decode of the whole 8 s source, nothing else
    expect(media.reads.map((r) => r.tool)).toEqual(['analyseFrames']);
  });

  it('avoids a hard cut even though the calmest stretch straddles it; warns when a user range contains it', async () => {
    const auto = (await plan('cut.mp4')).plan;
    expect(auto.start >= 4 - 1e-6 || auto.start + auto.duration <= 4 + 1e-6).toBe(true);
    expect(auto.reasons.join(' ')).toMatch(/avoided scene cut at 4\.00 s/);
    expect(codes(auto)).not.toContain('SCENE_CUT_IN_CLIP');
    const user = (await plan('cut.mp4', { start: 2.5, keyFrame: 'auto' })).plan;
    expect(user.start).toBe(2.5);
    expect(codes(user)).toContain('SCENE_CUT_IN_CLIP');
  });

  it('prefers the sharpest frame near the middle and warns when the middle is blurred', async () => {
    expect(codes((await plan('blur.mp4', { start: 0, duration: 3 })).plan)).toContain('KEY_FRAME_BLURRED');
    const sharp = (await plan('blur-part.mp4', { start: 0 })).plan;
    expect(sharp.stillOffset).toBeGreaterThanOrEqual(1.5);
    expect(sharp.stillOffset).toBeLessThanOrEqual(2.0);
    expect(codes(sharp)).not.toContain('KEY_FRAME_BLURRED');
  });

  it('does not call a flat, dark clip blurred: there is no detail to judge, and the reasons say so', async () => {
    const { plan: p } = await plan('dark.mp4');
    expect(codes(p)).not.toContain('KEY_FRAME_BLURRED');
    expect(p.reasons.join(' ')).toMatch(/almost no detail/);
  });

  it('does not call a smooth slow-down shaky', async () => {
    expect(codes((await plan('slowdown.mp4', { start: 0 })).plan)).not.toContain('CLIP_SHAKY');
  });

  it('warns MOTION_TOO_FAST on pure noise and CLIP_SHAKY on a picture jumping about', async () => {
    expect(codes((await plan('noise-2s.mp4')).plan)).toContain('MOTION_TOO_FAST');
    expect(codes((await plan('shaky.mp4')).plan)).toContain('CLIP_SHAKY');
  });

  it('analyses only a bounded span of a long source (SOURCE_TOO_LONG)', async () => {
    const { plan: p, curves } = await plan('long.mp4');
    expect(codes(p)).toContain('SOURCE_TOO_LONG');
    expect(p.reasons.join(' ')).toMatch(/analysed 24\.00–36\.00 s only/);
    expect(p.start).toBeGreaterThanOrEqual(24);
    expect(p.start + p.duration).toBeLessThanOrEqual(36.001);
    expect(curves).toMatchObject({ kind: 'decoded', start: 24 });
  });

  it('stops with CANCELED when aborted, before asking for any analysis', async () => {
    const rec = loadRecording('static-then-fast.mp4');
    const source = sourceInfoFromFfprobe(recordedPath(rec.name), rec.sizeBytes, rec.probe.data!);
    const media = replayMediaTools(rec);
    const ac = new AbortController();
    ac.abort();
    await expect(planClip(source, {}, { signal: ac.signal, media })).rejects.toMatchObject({ code: 'CANCELED' });
    expect(media.reads).toEqual([]);
  });
});

describe('planClip on recorded packet indexes: the window chosen on the compressed stream', () => {
  it('picks the static part, the key frame near its middle, decoding only the key-frame range', async () => {
    const { plan: p, media, progress } = await plan('static-then-fast.mp4', {}, COARSE);
    expect(p.duration).toBe(3);
    expect(p.start + p.duration).toBeLessThanOrEqual(4 + 1 / 30 + 1e-3);
    expect(p.reasons[0]).toMatch(/^lowest motion window .* by the compressed stream .*decoded \d+\.\d\d–\d+\.\d\d s: mean diff 0\.\d\)$/);
    expect(p.stillFrameIndex).toBeGreaterThanOrEqual(45 - 15);
    expect(p.stillFrameIndex).toBeLessThanOrEqual(45 + 15);
    expect(p.warnings).toEqual([]);
    expect(progress[progress.length - 1]).toBe(100);
    expect(media.reads.map((r) => r.tool)).toEqual(['readPacketIndex', 'analyseFrames']);
  });

  it('avoids a hard cut seen as a frame-size spike, as the full decode does', async () => {
    const { plan: p } = await plan('cut.mp4', {}, COARSE);
    expect(p.start >= 4 - 1e-6 || p.start + p.duration <= 4 + 1e-6).toBe(true);
    expect(p.reasons.join(' ')).toMatch(/avoided probable scene cuts? at 4\.00 s \(frame-size spike\)/);
    expect(codes(p)).not.toContain('SCENE_CUT_IN_CLIP');
  });

  it('agrees with the full decode on a clip that sharpens gradually (no false cut on the refocus)', async () => {
    const fast = (await plan('refocus.mp4', {}, COARSE)).plan;
    const full = (await plan('refocus.mp4')).plan;
    expect(Math.abs(fast.start - full.start)).toBeLessThanOrEqual(0.2);
    expect(fast.start).toBeGreaterThanOrEqual(2.9);
    expect(fast.reasons.join(' ')).not.toMatch(/scene cut/);
    expect(codes(fast)).toEqual([]);
    expect(Math.abs(fast.stillFrameIndex - 45)).toBeLessThanOrEqual(15);
  });

  it('warns MOTION_TOO_FAST from the decoded key-frame range of a noise clip', async () => {
    const { plan: p } = await plan('noise-5s.mp4', {}, COARSE);
    expect(codes(p)).toContain('MOTION_TOO_FAST');
    expect(codes(p)).not.toContain('SCENE_CUT_IN_CLIP');
  });

  it('keeps a user key frame inside the window and bounds the span of a long source', async () => {
    const p = (await plan('long.mp4', {}, COARSE)).plan;
    expect(p.reasons.join(' ')).toMatch(/analysed 24\.00–36\.00 s only/);
    expect(p.start).toBeGreaterThanOrEqual(24);
    expect(p.start + p.duration).toBeLessThanOrEqual(36.001);
    const keyed = (await plan('long.mp4', { keyFrame: 31 }, COARSE)).plan;
    expect(keyed.start).toBeLessThanOrEqual(31);
    expect(keyed.start + keyed.duration).toBeGreaterThanOrEqual(31);
    expect(keyed.start + keyed.stillOffset).toBeCloseTo(31, 6);
  });
});

describe('a key frame deferred to the render (planClipOrDeferKeyFrame): the window on the compressed stream, no decode', () => {
  const deferOn = async (name: string) => {
    const rec = loadRecording(name);
    const source = sourceInfoFromFfprobe(recordedPath(name), rec.sizeBytes, rec.probe.data!);
    const media = replayMediaTools(rec);
    const planned = await planClipOrDeferKeyFrame(source, {}, { media }, COARSE);
    if (!('settle' in planned)) throw new Error('expected a deferred key frame');
    // the render's frames of the window, as the full decode of the whole source measured them
    const full = rec.analyses.find((a) => a.request.start === '0.000')!.result.frames;
    const first = Math.round(planned.provisional.start * 30);
    // the candidates and the frame before them, as the render returns them
    return { planned, media, window: full.slice(first + 29, first + 60) };
  };

  it('chooses the window the decoding path chooses, reads only the packet index, and settles the key frame from the render\'s frames', async () => {
    const { planned, media, window } = await deferOn('static-then-fast.mp4');
    const decoding = (await plan('static-then-fast.mp4', {}, COARSE)).plan;
    expect(media.reads.map((r) => r.tool)).toEqual(['readPacketIndex']);
    expect(planned.provisional.start).toBe(decoding.start);
    expect(planned.candidates).toEqual({ from: 30, to: 59 });
    const settled = planned.settle(window, 29)!;
    expect(settled.start).toBe(decoding.start);
    expect(settled.stillFrameIndex).toBeGreaterThanOrEqual(30);
    expect(settled.stillFrameIndex).toBeLessThanOrEqual(59);
    expect(Math.abs(settled.stillFrameIndex - decoding.stillFrameIndex)).toBeLessThanOrEqual(3);
    expect(settled.warnings).toEqual(decoding.warnings);
    expect(settled.reasons[0]).toMatch(/by the compressed stream .*the render \d+\.\d\d–\d+\.\d\d s: mean diff 0\.\d\)$/);
  });

  it('gives the window back (undefined) when the render\'s frames show a cut the stream did not', async () => {
    const { planned, window } = await deferOn('static-then-fast.mp4');
    const cut = window.map((f, i) => (i === 15 ? { ...f, motion: 80 } : f));
    expect(planned.settle(cut, 29)).toBeUndefined();
    expect(planned.settle([], 29)).toBeUndefined();
  });

  it('plans as before (no deferral) with a user key frame, and on the full-decode path', async () => {
    const rec = loadRecording('long.mp4');
    const source = sourceInfoFromFfprobe(recordedPath('long.mp4'), rec.sizeBytes, rec.probe.data!);
    expect('settle' in (await planClipOrDeferKeyFrame(source, { keyFrame: 31 }, { media: replayMediaTools(rec) }, COARSE))).toBe(false);
    const small = loadRecording('static-then-fast.mp4');
    const smallSource = sourceInfoFromFfprobe(recordedPath('static-then-fast.mp4'), small.sizeBytes, small.probe.data!);
    expect('settle' in (await planClipOrDeferKeyFrame(smallSource, {}, { media: replayMediaTools(small) }))).toBe(false);
  });
});

describe('planClip on recorded analyses of real footage (real-media.spec.ts expectations)', () => {
  it('the genuine iPhone clip: no scene-cut warning, the last-frame jump left out, key photo in the middle half', async () => {
    const { plan: p } = await plan('IMG_3853.MOV');
    expect(codes(p)).not.toContain('SCENE_CUT_IN_CLIP');
    expect(codes(p)).not.toContain('SOURCE_SHORTER_THAN_CLIP');
    expect(p.reasons.join(' ')).toMatch(/left out 1 frame beyond the jump at 1\.37 s/);
    expect(p.duration).toBeCloseTo(41 / 30, 5);
    expect(p.stillOffset).toBeGreaterThanOrEqual(p.duration / 4);
    expect(p.stillOffset).toBeLessThanOrEqual((3 * p.duration) / 4);
  });

  it.each([
    ['dolbyVision-hdr.MOV'],
    ['hlg10-color-test.mp4'],
    ['portrait_4k60.mp4'],
    ['sample_android_slow_motion.mp4'],
  ])('%s, shorter than 1 s: its last frame held to 1 s (SOURCE_EXTENDED), the still a real frame', async (name) => {
    const { plan: p, source } = await plan(name);
    expect(codes(p)).toContain('SOURCE_EXTENDED');
    expect(p.duration).toBe(1);
    expect(p.sourceDuration).toBeLessThanOrEqual(source.duration + 1e-6);
    expect(p.stillOffset).toBeLessThan(source.duration);
  });

  it('AV1 HDR10: a costly alt-ref frame every 0.13 s is the encoder rhythm, not a scene cut', async () => {
    const { plan: p, curves } = await plan('hdr10-av1.mp4');
    expect(curves?.kind).toBe('compressed');
    expect(codes(p)).not.toContain('SCENE_CUT_IN_CLIP');
  });

  it.each([
    'bear-vp9-odd-dimensions.webm', 'hdr10-av1.mp4', 'pixel-motion-photo-2-hevc-tracks.mp4', 'roadtrip-vp92-10bit.webm',
    'sample_rotate_and_reflect.mp4', 'sample_sef_slow_motion.mp4', 'sowt-with-video.mov', 'IMG_3853.MOV',
  ])('%s: automatic key photo in the middle half of the clip, clip 1–5 s', async (name) => {
    const { plan: p } = await plan(name);
    expect(codes(p)).not.toContain('SOURCE_EXTENDED');
    expect(p.stillOffset).toBeGreaterThanOrEqual(p.duration / 4 - 1 / 30);
    expect(p.stillOffset).toBeLessThanOrEqual((3 * p.duration) / 4 + 1 / 30);
    expect(p.duration).toBeGreaterThanOrEqual(1);
    expect(p.duration).toBeLessThanOrEqual(5);
  });

  it('the Pixel motion-photo video is analysed on its chosen track', async () => {
    const { source, media } = await plan('pixel-motion-photo-2-hevc-tracks.mp4');
    const rec = loadRecording('pixel-motion-photo-2-hevc-tracks.mp4');
    expect(media.reads.map((r) => r.tool)).toEqual(['analyseFrames']);
    expect(rec.analyses[0].request.streamIndex).toBe(source.videoStreamIndex);
  });
});
