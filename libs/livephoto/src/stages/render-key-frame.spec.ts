import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createMediaTools } from '@vid2live/media';
import { ffmpegSync, makeSource, makeTempDir, removeDir } from '@vid2live/media/test-media';
import type { MediaTools } from '../ports/media-tools';
import { planClip, planClipOrDeferKeyFrame } from './plan';
import { probeSource } from './probe';
import { renderClip } from './render';
import { renderWithDeferredKeyFrame } from './render-key-frame';

/**
 * The key frame settled from the render's own decode (real ffmpeg): one render writes the movie, the candidate
 * stills and the analysis frames; the still is the movie's frame at the settled time; a window the frames refuse
 * is planned again the decoding way and rendered again.
 */
let dir: string;
let src: string;
beforeAll(() => {
  dir = makeTempDir('vid2live-render-key-frame-');
  src = makeSource('landscape-1080p-audio', dir); // 4 s of 1080p: planned on the compressed stream
});
afterAll(() => removeDir(dir));

function counting(): MediaTools & { renders: number; ownRawInputs: boolean[] } {
  const real = createMediaTools();
  const tools = { ...real, renders: 0, ownRawInputs: [] as boolean[] };
  tools.runFfmpegJob = (job, opts) => {
    tools.renders++;
    return real.runFfmpegJob(job, opts);
  };
  tools.runFfmpeg = (args, opts) => {
    tools.ownRawInputs.push(opts?.ownRawInput === true);
    return real.runFfmpeg(args, opts);
  };
  return tools;
}

/** PSNR (dB) of the still against the movie's frame `n`. */
function psnr(still: string, movie: string, n: number): number {
  const frame = path.join(dir, `frame-${n}.png`);
  ffmpegSync(['-v', 'error', '-i', movie, '-vf', `select=eq(n\\,${n})`, '-frames:v', '1', '-y', frame]);
  const out = spawnSync('ffmpeg', ['-hide_banner', '-i', still, '-i', frame, '-lavfi', '[0]format=rgb24[a];[1]format=rgb24[b];[a][b]psnr', '-f', 'null', '-'], { encoding: 'utf8' }).stderr;
  return Number(/average:([\d.]+|inf)/.exec(out)![1].replace('inf', '99'));
}

it('settles the key frame from the render: one ffmpeg pass, the still is the movie frame at the still time', async () => {
  const source = await probeSource(src);
  const media = counting();
  const deferred = await planClipOrDeferKeyFrame(source, {}, { media });
  if (!('settle' in deferred)) throw new Error('expected the compressed-stream path to defer the key frame');
  const workDir = path.join(dir, 'settled');
  fs.mkdirSync(workDir);
  const { plan, rendered } = await renderWithDeferredKeyFrame(src, source, deferred, { workDir, stillFormat: 'jpeg', media }, () => {
    throw new Error('no re-plan expected');
  });
  expect(media.renders).toBe(1);
  expect(plan.start).toBe(deferred.provisional.start);
  expect(plan.stillFrameIndex).toBeGreaterThanOrEqual(deferred.candidates.from);
  expect(plan.stillFrameIndex).toBeLessThanOrEqual(deferred.candidates.to);
  expect(rendered.stillTime).toBeCloseTo(plan.stillFrameIndex / 30, 6);
  expect(plan.reasons.join(' ')).toMatch(/the render \d+\.\d\d–\d+\.\d\d s: mean diff/);
  // the chosen candidate was encoded by the still encoder (on linux-x64 the static ffmpeg 4.1 of @ffmpeg-installer),
  // and is byte for byte the still a render of the settled plan writes in its own pass with the system's ffmpeg
  // (same frame, conversion and encoder settings; bitexact leaves out the encoder's version)
  expect(media.ownRawInputs).toEqual([true]);
  const again = path.join(dir, 'settled-again');
  fs.mkdirSync(again);
  const direct = await renderClip(src, source, plan, { workDir: again, stillFormat: 'jpeg' });
  expect(fs.readFileSync(rendered.stillPath).equals(fs.readFileSync(direct.stillPath))).toBe(true);
  expect(fs.readdirSync(workDir).sort()).toEqual(['analysis.gray', 'clip.mov', 'still.jpg']);
  // the still is that frame of the movie (only the two encoders' losses apart), not its neighbour
  const n = plan.stillFrameIndex;
  expect(psnr(rendered.stillPath, rendered.moviePath, n)).toBeGreaterThan(psnr(rendered.stillPath, rendered.moviePath, n - 1) + 3);
  expect(psnr(rendered.stillPath, rendered.moviePath, n)).toBeGreaterThan(35);
}, 120_000);

it('plans again the decoding way and renders again when the render\'s frames refuse the window', async () => {
  const source = await probeSource(src);
  const media = counting();
  const deferred = await planClipOrDeferKeyFrame(source, {}, { media });
  if (!('settle' in deferred)) throw new Error('expected a deferred key frame');
  const workDir = path.join(dir, 'refused');
  fs.mkdirSync(workDir);
  let replanned = 0;
  const { plan, rendered } = await renderWithDeferredKeyFrame(
    src,
    source,
    { ...deferred, settle: () => undefined },
    { workDir, stillFormat: 'jpeg', media },
    async () => {
      replanned++;
      return planClip(source, {}, { media });
    },
  );
  expect(replanned).toBe(1);
  expect(media.renders).toBe(2);
  expect(plan.reasons.join(' ')).toMatch(/decoded \d+\.\d\d–\d+\.\d\d s: mean diff/);
  expect(rendered.candidates).toBeUndefined();
  expect(psnr(rendered.stillPath, rendered.moviePath, plan.stillFrameIndex)).toBeGreaterThan(35);
}, 120_000);
