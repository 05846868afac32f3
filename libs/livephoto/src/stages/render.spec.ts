import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  countVideoFrames,
  ffmpegSync,
  ffprobeJson,
  makeTempDir,
  removeDir,
  stillVersusMovieFramePsnr,
} from '@vid2live/media/test-media';
import { ClipPlan } from '../types';
import { planClip } from './plan';
import { probeSource } from './probe';
import { outputFrameSize, renderClip, RenderedClip } from './render';

const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

interface MovieFacts {
  brand: string;
  codec: string;
  tag: string;
  pixFmt: string;
  width: number;
  height: number;
  rate: string;
  colorSpace?: string;
  sideData?: unknown;
  rotateTag?: string;
  audio?: string;
}

function movieFacts(file: string): MovieFacts {
  const j = ffprobeJson(file);
  const v = j.streams.find((s: { codec_type: string }) => s.codec_type === 'video');
  const a = j.streams.find((s: { codec_type: string }) => s.codec_type === 'audio');
  const head = fs.readFileSync(file).subarray(0, 12);
  return {
    brand: head.toString('latin1', 4, 8) === 'ftyp' ? head.toString('latin1', 8, 12) : '(no ftyp)',
    codec: v.codec_name, tag: v.codec_tag_string, pixFmt: v.pix_fmt, width: v.width, height: v.height,
    rate: v.r_frame_rate, colorSpace: v.color_space, sideData: v.side_data_list, rotateTag: v.tags?.rotate,
    audio: a?.codec_name,
  };
}

function stillSize(file: string): { width: number; height: number } {
  const s = ffprobeJson(file).streams[0];
  return { width: s.width, height: s.height };
}

/** The checks every render must pass: Apple-friendly movie, exact frame count, still = movie frame K. */
function expectLivePhotoMovie(r: RenderedClip, plan: ClipPlan, facts: MovieFacts, codec: 'h264' | 'hevc' = 'h264'): void {
  expect(facts.brand).toBe('qt  ');
  expect(facts.codec).toBe(codec);
  expect(facts.tag).toBe(codec === 'h264' ? 'avc1' : 'hvc1');
  expect(facts.pixFmt).toBe('yuv420p');
  expect(facts.rate).toBe('30/1');
  expect(facts.colorSpace).toBe('bt709');
  expect(Math.max(facts.width, facts.height)).toBeLessThanOrEqual(1920);
  expect(facts.width % 2 + facts.height % 2).toBe(0);
  expect(facts.sideData).toBeUndefined(); // no display matrix: the pixels are upright
  expect(facts.rotateTag).toBeUndefined();
  expect({ width: facts.width, height: facts.height }).toEqual({ width: r.width, height: r.height });
  expect(r.frameCount).toBe(Math.round(plan.duration * 30));
  expect(countVideoFrames(r.moviePath)).toBe(r.frameCount);
  expect(r.stillTime).toBe(plan.stillOffset);
  expect(stillSize(r.stillPath)).toEqual({ width: r.width, height: r.height });
  expect(stillVersusMovieFramePsnr(r.stillPath, r.moviePath, plan.stillFrameIndex)).toBeGreaterThanOrEqual(35);
}

describe('renderClip', () => {
  let dir: string;
  let n = 0;
  const at = (name: string) => path.join(dir, name);
  const workDir = () => fs.mkdtempSync(path.join(dir, `work${n++}-`));
  beforeAll(() => {
    dir = makeTempDir('vid2live-render-');
  });
  afterAll(() => removeDir(dir));

  it('sizes the output: long side ≤ 1920, aspect kept, even', () => {
    expect(outputFrameSize(3840, 2160)).toEqual({ width: 1920, height: 1080 });
    expect(outputFrameSize(1080, 1920)).toEqual({ width: 1080, height: 1920 });
    expect(outputFrameSize(321, 241)).toEqual({ width: 322, height: 242 });
    expect(outputFrameSize(4000, 3000)).toEqual({ width: 1920, height: 1440 });
  });

  it('renders a 3 s clip of a 1080p source with audio: H.264 MOV + JPEG still from one decode', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=s=1920x1080:r=30:d=4', '-f', 'lavfi', '-i', 'sine=f=440:d=4',
      ...x264, '-c:a', 'aac', at('hd.mp4'),
    ]);
    const source = await probeSource(src);
    const plan = await planClip(source, { start: 0.5, keyFrame: 2.1 });
    const progress: number[] = [];
    const t0 = Date.now();
    const r = await renderClip(src, source, plan, {
      workDir: workDir(), stillFormat: 'jpeg', onProgress: (p) => progress.push(p.percent),
    });
    // eslint-disable-next-line no-console
    console.log(`render of a 3 s 1080p clip: ${((Date.now() - t0) / 1000).toFixed(2)} s wall`);
    const facts = movieFacts(r.moviePath);
    expect(facts).toMatchObject({ width: 1920, height: 1080, audio: 'aac' });
    expect(plan.stillFrameIndex).toBe(48);
    expectLivePhotoMovie(r, plan, facts);
    expect(progress[0]).toBe(0);
    expect(progress[progress.length - 1]).toBe(100);
    expect(progress.length).toBeGreaterThan(2);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    // metadata is the pair stage's job: nothing from the source (or ffmpeg's tags) beyond the brand
    const tags = ffprobeJson(r.moviePath).format.tags ?? {};
    expect(tags.creation_time).toBeUndefined();
  });

  it('keeps a rotated (portrait) source portrait with upright pixels and no rotation metadata; PNG still', async () => {
    const coded = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=30:d=2', ...x264, at('landscape.mp4')]);
    const src = ffmpegSync(['-i', coded, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', at('portrait.mp4')]);
    const source = await probeSource(src);
    const plan = await planClip(source, { start: 0, duration: 1.5, keyFrame: 1 });
    const r = await renderClip(src, source, plan, { workDir: workDir(), stillFormat: 'png' });
    const facts = movieFacts(r.moviePath);
    expect(facts.height).toBeGreaterThan(facts.width);
    expect(facts).toMatchObject({ width: 240, height: 320, audio: undefined });
    expectLivePhotoMovie(r, plan, facts);
    // the movie frame equals the source frame turned the way a player displays it (ffmpeg autorotate);
    // the picture turned the other way (upside down relative to it) scores far lower
    // the generated source is untagged SD: BT.601, as players (and the engine) read it
    const toRgb = 'scale=in_color_matrix=bt601:in_range=tv,format=rgb24';
    const upright = ffmpegSync(['-i', src, '-vf', `select='eq(n,30)',${toRgb}`, '-frames:v', '1', '-update', '1', at('upright.png')]);
    expect(stillSize(upright)).toEqual({ width: 240, height: 320 });
    expect(stillVersusMovieFramePsnr(upright, r.moviePath, plan.stillFrameIndex)).toBeGreaterThanOrEqual(30);
    const sideways = ffmpegSync(['-noautorotate', '-i', src, '-vf', `select='eq(n,30)',transpose=1,${toRgb}`, '-frames:v', '1', '-update', '1', at('sideways.png')]);
    expect(stillVersusMovieFramePsnr(sideways, r.moviePath, plan.stillFrameIndex)).toBeLessThan(20);
  });

  it('turns a variable-frame-rate source into exactly 30 fps', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=30:d=3',
      '-vf', "setpts='N/(30*TB)+if(gt(N,30),0.02*N/TB,0)'", '-fps_mode', 'vfr', ...x264, at('vfr.mp4'),
    ]);
    const source = await probeSource(src);
    expect(source.variableFrameRate).toBe(true);
    const plan = await planClip(source, {});
    const r = await renderClip(src, source, plan, { workDir: workDir(), stillFormat: 'jpeg' });
    expectLivePhotoMovie(r, plan, movieFacts(r.moviePath));
  });

  it('scales a 4K source down to 1920×1080', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=s=3840x2160:r=30:d=2', ...x264, at('uhd.mp4')]);
    const source = await probeSource(src);
    const plan = await planClip(source, { keyFrame: 1 });
    expect(plan.duration).toBe(2);
    const r = await renderClip(src, source, plan, { workDir: workDir(), stillFormat: 'jpeg' });
    const facts = movieFacts(r.moviePath);
    expect(facts).toMatchObject({ width: 1920, height: 1080 });
    expectLivePhotoMovie(r, plan, facts);
  });

  it('renders a 1 s source whole (30 frames)', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=25:d=1', ...x264, at('one.mp4')]);
    const source = await probeSource(src);
    const plan = await planClip(source, {});
    expect(plan).toMatchObject({ start: 0, duration: 1 });
    const r = await renderClip(src, source, plan, { workDir: workDir(), stillFormat: 'jpeg' });
    expect(r.frameCount).toBe(30);
    expectLivePhotoMovie(r, plan, movieFacts(r.moviePath));
  });

  it('renders a 10-bit HEVC source to 8-bit HEVC (hvc1)', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=30:d=2', '-c:v', 'libx265', '-preset', 'ultrafast',
      '-pix_fmt', 'yuv420p10le', '-x265-params', 'log-level=error', at('ten.mp4'),
    ]);
    const source = await probeSource(src);
    expect(source.bitDepth).toBe(10);
    const plan = await planClip(source, { start: 0, duration: 1.5, keyFrame: 0.7 });
    const r = await renderClip(src, source, plan, { workDir: workDir(), stillFormat: 'jpeg', codec: 'hevc' });
    expectLivePhotoMovie(r, plan, movieFacts(r.moviePath), 'hevc');
  });

  it('is canceled by an abort: ffmpeg killed, CANCELED', async () => {
    const src = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=30:d=5', ...x264, at('abort.mp4')]);
    const source = await probeSource(src);
    const plan = await planClip(source, { start: 0, duration: 5, keyFrame: 2 });
    const ac = new AbortController();
    const run = renderClip(src, source, plan, {
      workDir: workDir(), stillFormat: 'jpeg', signal: ac.signal,
      onProgress: (p) => p.percent > 0 && ac.abort(),
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELED' });
  });
});
