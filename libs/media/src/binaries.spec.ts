import * as fs from 'node:fs';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { describeMediaBinaries, findOnPath, locateMediaBinaries, resolveMediaBinaries } from './binaries';
import { makeTempDir, removeDir } from './test-media';

describe('media binaries', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('finds ffmpeg and ffprobe on PATH when neither env nor ffmpeg-static provides them', () => {
    const b = locateMediaBinaries({ PATH: '/usr/local/bin:/usr/bin:/bin' });
    expect(b.ffmpeg).toEqual({ path: '/usr/bin/ffmpeg', source: 'PATH' });
    expect(b.ffprobe).toEqual({ path: '/usr/bin/ffprobe', source: 'PATH' });
  });

  it('prefers FFMPEG_PATH / FFPROBE_PATH over PATH', () => {
    const fake = path.join(dir, 'my-ffmpeg');
    fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
    const b = locateMediaBinaries({ PATH: '/usr/bin', FFMPEG_PATH: fake, FFPROBE_PATH: fake });
    expect(b.ffmpeg).toEqual({ path: fake, source: 'env' });
    expect(b.ffprobe).toEqual({ path: fake, source: 'env' });
  });

  it('rejects an env path that is not an executable file instead of silently falling back', () => {
    expect(() => locateMediaBinaries({ PATH: '/usr/bin', FFMPEG_PATH: path.join(dir, 'missing') })).toThrow(
      expect.objectContaining({ code: 'FFMPEG_NOT_FOUND', message: expect.stringContaining('FFMPEG_PATH') }),
    );
  });

  it('throws FFMPEG_NOT_FOUND with install advice when nothing is found', () => {
    let err: unknown;
    try {
      locateMediaBinaries({ PATH: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LivePhotoError);
    expect((err as LivePhotoError).code).toBe('FFMPEG_NOT_FOUND');
    expect((err as LivePhotoError).message).toContain('apt-get install ffmpeg');
    expect((err as LivePhotoError).message).toContain('FFMPEG_PATH');
  });

  it('findOnPath skips non-executable files', () => {
    const plain = path.join(dir, 'ffprobe');
    fs.writeFileSync(plain, 'not executable', { mode: 0o644 });
    expect(findOnPath('ffprobe', dir)).toBeUndefined();
    expect(findOnPath('ffprobe', `${dir}:/usr/bin`)).toBe('/usr/bin/ffprobe');
  });

  it('memoises and describes the binaries in one line', () => {
    expect(resolveMediaBinaries()).toBe(resolveMediaBinaries());
    expect(describeMediaBinaries()).toMatch(/^ffmpeg: \S+ \((env|ffmpeg-static|PATH)\), ffprobe: \S+ \((env|ffprobe-static|PATH)\)$/);
  });
});
