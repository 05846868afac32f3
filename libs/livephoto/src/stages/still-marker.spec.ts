import * as fs from 'node:fs';
import * as path from 'node:path';
import { injectLivePhotoMetadata } from '../quicktime/inject';
import { readLivePhotoMov } from '../quicktime/read-live-photo-mov';
import { frameIndexAt, makeSource, makeTempDir, videoFrameStarts } from '@vid2live/media/test-media';
import { MOVIE_TIMESCALE } from '../types';
import { planClip } from './plan';
import { probeSource } from './probe';
import { renderClip } from './render';

const ID = '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6';

/**
 * The still-image-time marker must point at the still's own frame for every frame index, not at the one before
 * (round(n/30 × 1000) lands a tick early for one index in three with ffmpeg's default movie timescale 1000).
 * One 3 s clip is rendered like a conversion renders it; the metadata is then injected for each of its 90 frames.
 */
describe('still-image-time marker of a rendered 3 s 30 fps clip', () => {
  const dir = makeTempDir('still-marker');
  let movie: string;
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    const sourcePath = makeSource('no-audio', path.join(dir, 'src'));
    const source = await probeSource(sourcePath);
    const plan = await planClip(source, { start: 0, duration: 3, keyFrame: 1.5 });
    const workDir = path.join(dir, 'work');
    fs.mkdirSync(workDir);
    const rendered = await renderClip(sourcePath, source, plan, { workDir, stillFormat: 'jpeg' });
    expect(rendered.frameCount).toBe(90);
    movie = rendered.moviePath;
  });

  it(`is written in Apple's movie timescale ${MOVIE_TIMESCALE}`, async () => {
    const out = path.join(dir, 'timescale.mov');
    await injectLivePhotoMetadata(movie, out, { contentIdentifier: ID, stillTime: 1 });
    expect((await readLivePhotoMov(out)).timescale).toBe(MOVIE_TIMESCALE);
  });

  it('falls exactly on the start of the still frame, for all 90 frame indices', async () => {
    const frames = videoFrameStarts(movie);
    expect(frames.pts).toHaveLength(90);
    const out = path.join(dir, 'marker.mov');
    const misses: Array<{ frame: number; shown: number; markerUnits: number }> = [];
    for (let n = 0; n < 90; n++) {
      await injectLivePhotoMetadata(movie, out, { contentIdentifier: ID, stillTime: n / 30 });
      const info = await readLivePhotoMov(out);
      const T = info.timescale;
      const S = Math.round(info.stillImageTrack!.stillTime * T);
      // the video sample whose presentation interval contains the marker time…
      const shown = frameIndexAt(S, T, frames);
      // …and the marker is not before that frame's start (equal, with T = 600: S·den = pts·num·T)
      const onStart = S * frames.den === frames.pts[n] * frames.num * T;
      if (shown !== n || !onStart) misses.push({ frame: n, shown, markerUnits: S });
    }
    expect(misses).toEqual([]);
    // the injected file still decodes to the same frames (same timing) as the render
    expect(videoFrameStarts(out)).toEqual(frames);
  });
});
