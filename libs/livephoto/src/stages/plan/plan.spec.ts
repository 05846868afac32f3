import * as path from 'node:path';
import { ffmpegSync, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { planClip } from '.';
import { probeSource } from '../probe';

const codes = (p: { warnings: { code: string }[] }) => p.warnings.map((w) => w.code);
const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

/** 8 s: color bars with a small pattern that sits still for 4 s, then darts about. */
function staticThenFast(file: string): string {
  return ffmpegSync([
    '-f', 'lavfi', '-i', 'smptebars=s=320x240:r=30:d=8',
    '-f', 'lavfi', '-i', 'testsrc=s=80x80:r=30:d=8',
    '-filter_complex', "[0:v][1:v]overlay=x='if(lt(t,4),20,20+mod((t-4)*900,200))':y=80:shortest=1,format=yuv420p",
    ...x264, file,
  ]);
}

describe('planClip: automatic window and key frame on generated sources', () => {
  let dir: string;
  const at = (name: string) => path.join(dir, name);
  beforeAll(() => {
    dir = makeTempDir('vid2live-plan-');
  });
  afterAll(() => removeDir(dir));

  it('picks the static part of a clip that is static for 4 s and then moves fast', async () => {
    const src = staticThenFast(at('static-then-fast.mp4'));
    const progress: number[] = [];
    const plan = await planClip(await probeSource(src), {}, { onProgress: (p) => progress.push(p.percent) });
    expect(plan.duration).toBe(3);
    // the last static frame is shown until 4 s + 1 frame
    expect(plan.start + plan.duration).toBeLessThanOrEqual(4 + 1 / 30 + 1e-3);
    expect(plan.reasons[0]).toMatch(/^lowest motion window \d+\.\d\d–\d+\.\d\d s of 8\.00 s \(mean diff 0\.\d vs \d+\.\d overall\)$/);
    expect(plan.stillFrameIndex).toBeGreaterThanOrEqual(45 - 15);
    expect(plan.stillFrameIndex).toBeLessThanOrEqual(45 + 15);
    expect(plan.stillOffset).toBeCloseTo(plan.stillFrameIndex / 30, 6);
    expect(plan.warnings).toEqual([]);
    expect(progress[progress.length - 1]).toBe(100);
  });

  it('avoids a hard cut even though the calmest stretch straddles it; warns when a user range contains it', async () => {
    // moving 0–2.5 s, still 2.5–5.5 s with a hard cut at 4 s (bars → test card), moving again 5.5–8 s
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'smptebars=s=320x240:r=30:d=4',
      '-f', 'lavfi', '-i', 'rgbtestsrc=s=320x240:r=30:d=4',
      '-f', 'lavfi', '-i', 'testsrc=s=80x80:r=30:d=8',
      '-filter_complex',
      "[0:v][1:v]concat=n=2:v=1[bg];[bg][2:v]overlay=x='if(lt(t,2.5)+gt(t,5.5),20+mod(t*900,200),20)':y=80:shortest=1,format=yuv420p",
      ...x264, at('cut.mp4'),
    ]);
    const source = await probeSource(src);
    const plan = await planClip(source, {});
    const end = plan.start + plan.duration;
    expect(plan.start >= 4 - 1e-6 || end <= 4 + 1e-6).toBe(true);
    expect(plan.reasons.join(' ')).toMatch(/avoided scene cut at 4\.00 s/);
    expect(codes(plan)).not.toContain('SCENE_CUT_IN_CLIP');

    const user = await planClip(source, { start: 2.5, keyFrame: 'auto' });
    expect(user.start).toBe(2.5);
    expect(codes(user)).toContain('SCENE_CUT_IN_CLIP');
  });

  it('prefers the sharpest frame near the middle and warns when the middle is blurred', async () => {
    // sharp test card, blurred between 1.0 and 2.0 s: a 3 s clip from 0 has its middle (1.5 s ± 0.5) all blurred
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=3',
      '-vf', "boxblur=8:enable='between(t,1,2)'", ...x264, at('blur.mp4'),
    ]);
    const plan = await planClip(await probeSource(src), { start: 0, duration: 3 });
    expect(codes(plan)).toContain('KEY_FRAME_BLURRED');
    const sharpSrc = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=3', '-vf', "boxblur=8:enable='between(t,1,1.45)'", ...x264, at('blur-part.mp4')]);
    const sharp = await planClip(await probeSource(sharpSrc), { start: 0 });
    // the sharp frames of the search range are 1.50–2.00 s
    expect(sharp.stillOffset).toBeGreaterThanOrEqual(1.5);
    expect(sharp.stillOffset).toBeLessThanOrEqual(2.0);
    expect(codes(sharp)).not.toContain('KEY_FRAME_BLURRED');
  });

  it('does not call a flat, dark clip blurred: there is no detail to judge, and the reasons say so', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'color=c=0x101010:s=320x240:r=30:d=3', ...x264, at('dark.mp4')]);
    const plan = await planClip(await probeSource(src), {});
    expect(codes(plan)).not.toContain('KEY_FRAME_BLURRED');
    expect(plan.reasons.join(' ')).toMatch(/almost no detail/);
  });

  it('does not call a smooth slow-down shaky (the genuine iPhone clip: a camera coming to rest)', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=3',
      // a pan that decelerates: fast motion, but changing smoothly from frame to frame
      '-vf', "crop=320:240:x='min(300,300*(1-pow(1-t/3,2)))':y=60", ...x264, at('slowdown.mp4'),
    ]);
    const plan = await planClip(await probeSource(src), { start: 0 });
    expect(codes(plan)).not.toContain('CLIP_SHAKY');
  });

  it('warns MOTION_TOO_FAST on a clip of pure noise', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'nullsrc=s=320x240:r=30:d=2,geq=lum=random(1)*255:cb=128:cr=128', ...x264, at('noise.mp4')]);
    const plan = await planClip(await probeSource(src), {});
    expect(codes(plan)).toContain('MOTION_TOO_FAST');
  });

  it('warns CLIP_SHAKY when the picture jumps around irregularly', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=s=400x300:r=30:d=3',
      '-vf', "crop=320:240:x='40+40*sin(n*n*0.37)':y='30+30*cos(n*1.91)'", ...x264, at('shaky.mp4'),
    ]);
    const plan = await planClip(await probeSource(src), {});
    expect(codes(plan)).toContain('CLIP_SHAKY');
  });

  it('analyses only a bounded span of a long source (SOURCE_TOO_LONG)', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=160x120:r=30:d=60', ...x264, '-g', '300', at('long.mp4')]);
    const plan = await planClip(await probeSource(src), {});
    expect(codes(plan)).toContain('SOURCE_TOO_LONG');
    expect(plan.reasons.join(' ')).toMatch(/analysed 24\.00–36\.00 s only/);
    expect(plan.start).toBeGreaterThanOrEqual(24);
    expect(plan.start + plan.duration).toBeLessThanOrEqual(36.001);
  });

  it('stops the analysis with CANCELED when aborted', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=10', ...x264, at('ten.mp4')]);
    const source = await probeSource(src);
    const ac = new AbortController();
    ac.abort();
    await expect(planClip(source, {}, { signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELED' });
    const late = new AbortController();
    const run = planClip(source, {}, { signal: late.signal, onProgress: (p) => p.percent > 0 && late.abort() });
    await expect(run).rejects.toMatchObject({ code: 'CANCELED' });
  });
});

describe('planClip: window chosen on the compressed stream, only the key-frame range decoded', () => {
  // The generated sources are small enough for the full decode; 0 forces the path large sources take.
  const coarse = { fullAnalysisMaxMegapixels: 0 };
  let dir: string;
  const at = (name: string) => path.join(dir, name);
  beforeAll(() => {
    dir = makeTempDir('vid2live-plan-coarse-');
  });
  afterAll(() => removeDir(dir));

  it('picks the static part of a clip that is static for 4 s and then moves fast, the key frame near its middle', async () => {
    const src = staticThenFast(at('static-then-fast.mp4'));
    const progress: number[] = [];
    const plan = await planClip(await probeSource(src), {}, { onProgress: (p) => progress.push(p.percent) }, coarse);
    expect(plan.duration).toBe(3);
    expect(plan.start + plan.duration).toBeLessThanOrEqual(4 + 1 / 30 + 1e-3);
    expect(plan.reasons[0]).toMatch(/^lowest motion window .* by the compressed stream .*decoded \d+\.\d\d–\d+\.\d\d s: mean diff 0\.\d\)$/);
    expect(plan.stillFrameIndex).toBeGreaterThanOrEqual(45 - 15);
    expect(plan.stillFrameIndex).toBeLessThanOrEqual(45 + 15);
    expect(plan.warnings).toEqual([]);
    expect(progress[progress.length - 1]).toBe(100);
  });

  it('avoids a hard cut seen as a frame-size spike, as the full decode does', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'smptebars=s=320x240:r=30:d=4',
      '-f', 'lavfi', '-i', 'rgbtestsrc=s=320x240:r=30:d=4',
      '-f', 'lavfi', '-i', 'testsrc=s=80x80:r=30:d=8',
      '-filter_complex',
      "[0:v][1:v]concat=n=2:v=1[bg];[bg][2:v]overlay=x='if(lt(t,2.5)+gt(t,5.5),20+mod(t*900,200),20)':y=80:shortest=1,format=yuv420p",
      ...x264, at('cut.mp4'),
    ]);
    const plan = await planClip(await probeSource(src), {}, {}, coarse);
    const end = plan.start + plan.duration;
    expect(plan.start >= 4 - 1e-6 || end <= 4 + 1e-6).toBe(true);
    expect(plan.reasons.join(' ')).toMatch(/avoided probable scene cuts? at 4\.00 s \(frame-size spike\)/);
    expect(codes(plan)).not.toContain('SCENE_CUT_IN_CLIP');
  });

  it('agrees with the full decode on a clip that sharpens gradually (no false cut on the refocus)', async () => {
    // blurred until 2.6 s, sharpening over 0.4 s (a run of costly frames, not a cut), then sharp
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=6',
      '-filter_complex', "split[a][b];[b]boxblur=8[bb];[a][bb]blend=all_expr='A*clip((T-2.6)/0.4,0,1)+B*(1-clip((T-2.6)/0.4,0,1))',format=yuv420p",
      ...x264, at('refocus.mp4'),
    ]);
    const source = await probeSource(src);
    const fast = await planClip(source, {}, {}, coarse);
    const full = await planClip(source, {});
    expect(Math.abs(fast.start - full.start)).toBeLessThanOrEqual(0.2);
    expect(fast.start).toBeGreaterThanOrEqual(2.9);
    expect(fast.reasons.join(' ')).not.toMatch(/scene cut/);
    expect(codes(fast)).toEqual([]);
    expect(Math.abs(fast.stillFrameIndex - 45)).toBeLessThanOrEqual(15);
  });

  it('warns MOTION_TOO_FAST from the decoded key-frame range of a noise clip', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'nullsrc=s=320x240:r=30:d=5,geq=lum=random(1)*255:cb=128:cr=128', ...x264, at('noise.mp4')]);
    const plan = await planClip(await probeSource(src), {}, {}, coarse);
    expect(codes(plan)).toContain('MOTION_TOO_FAST');
    expect(codes(plan)).not.toContain('SCENE_CUT_IN_CLIP');
  });

  it('keeps a user key frame inside the window and bounds the span of a long source', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=160x120:r=30:d=60', ...x264, '-g', '300', at('long.mp4')]);
    const source = await probeSource(src);
    const plan = await planClip(source, {}, {}, coarse);
    expect(plan.reasons.join(' ')).toMatch(/analysed 24\.00–36\.00 s only/);
    expect(plan.start).toBeGreaterThanOrEqual(24);
    expect(plan.start + plan.duration).toBeLessThanOrEqual(36.001);
    const keyed = await planClip(source, { keyFrame: 31 }, {}, coarse);
    expect(keyed.start).toBeLessThanOrEqual(31);
    expect(keyed.start + keyed.duration).toBeGreaterThanOrEqual(31);
    expect(keyed.start + keyed.stillOffset).toBeCloseTo(31, 6);
  });
});
