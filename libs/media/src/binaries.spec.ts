import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { describeMediaBinaries, findOnPath, locateMediaBinaries, resolveMediaBinaries } from './binaries';
import { makeTempDir, removeDir } from './test-media';

/** Whether an ELF64 little-endian executable asks for a dynamic loader (a PT_INTERP program header). */
function hasProgramInterpreter(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(64);
    fs.readSync(fd, head, 0, 64, 0);
    expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return true;
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

describe('media binaries', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('finds ffmpeg and ffprobe on PATH when neither env nor an optional package provides them', () => {
    const b = locateMediaBinaries({ PATH: '/usr/local/bin:/usr/bin:/bin' }, () => undefined);
    expect(b.ffmpeg).toEqual({ path: '/usr/bin/ffmpeg', source: 'PATH' });
    expect(b.ffprobe).toEqual({ path: '/usr/bin/ffprobe', source: 'PATH' });
    // no static ffmpeg for the automatic still: the ffmpeg itself encodes it
    expect(b.stillEncoder).toEqual(b.ffmpeg);
  });

  it('encodes the automatic still with the statically linked ffmpeg of @ffmpeg-installer, where it installed', () => {
    const b = locateMediaBinaries({ PATH: '/usr/local/bin:/usr/bin:/bin' });
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      expect(b.stillEncoder.source).toMatch(/^(PATH|ffmpeg-static|@ffmpeg-installer\/ffmpeg)$/);
      return;
    }
    if (b.ffmpeg.source === 'ffmpeg-static') {
      // where ffmpeg-static downloaded, its (static, newer) ffmpeg is the still encoder too
      expect(b.stillEncoder).toEqual(b.ffmpeg);
      return;
    }
    expect(b.stillEncoder.source).toBe('@ffmpeg-installer/ffmpeg');
    expect(b.stillEncoder.path).toMatch(/node_modules\/@ffmpeg-installer\/linux-x64\/ffmpeg$/);
    expect(hasProgramInterpreter(b.stillEncoder.path)).toBe(false);
    expect(execFileSync(b.stillEncoder.path, ['-version'], { encoding: 'utf8' })).toMatch(/^ffmpeg version /);
    // the ffmpeg of everything else (uploads are decoded there) stays the system's
    expect(b.ffmpeg).toEqual({ path: '/usr/bin/ffmpeg', source: 'PATH' });
  });

  it('takes the still encoder from STILL_ENCODER_FFMPEG_PATH (empty: the ffmpeg), or ffmpeg-static\'s ffmpeg', () => {
    const fake = path.join(dir, 'still-ffmpeg');
    fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
    const packages = (pkg: string) => (pkg === '@ffmpeg-installer/ffmpeg' ? '/usr/bin/true' : undefined);
    expect(locateMediaBinaries({ PATH: '/usr/bin', STILL_ENCODER_FFMPEG_PATH: fake }, packages).stillEncoder).toEqual({ path: fake, source: 'env' });
    expect(locateMediaBinaries({ PATH: '/usr/bin', STILL_ENCODER_FFMPEG_PATH: '' }, packages).stillEncoder).toEqual({ path: '/usr/bin/ffmpeg', source: 'PATH' });
    expect(locateMediaBinaries({ PATH: '/usr/bin' }, packages).stillEncoder).toEqual({ path: '/usr/bin/true', source: '@ffmpeg-installer/ffmpeg' });
    const withStatic = locateMediaBinaries({ PATH: '/usr/bin' }, (pkg) => (pkg === 'ffmpeg-static' ? fake : packages(pkg)));
    expect(withStatic.ffmpeg).toEqual({ path: fake, source: 'ffmpeg-static' });
    expect(withStatic.stillEncoder).toEqual(withStatic.ffmpeg);
    expect(() => locateMediaBinaries({ PATH: '/usr/bin', STILL_ENCODER_FFMPEG_PATH: path.join(dir, 'missing') }, packages)).toThrow(
      expect.objectContaining({ code: 'FFMPEG_NOT_FOUND', message: expect.stringContaining('STILL_ENCODER_FFMPEG_PATH') }),
    );
  });

  it('prefers the statically linked ffprobe of @ffprobe-installer to the one on PATH, where it installed', () => {
    // An optional dependency with a binary for linux-x64 and a few others: CI's platform must get it.
    const b = locateMediaBinaries({ PATH: '/usr/local/bin:/usr/bin:/bin' });
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      expect(b.ffprobe.source).toMatch(/^(PATH|@ffprobe-installer\/ffprobe)$/);
      return;
    }
    expect(b.ffprobe.source).toBe('@ffprobe-installer/ffprobe');
    expect(b.ffprobe.path).toMatch(/node_modules\/@ffprobe-installer\/linux-x64\/ffprobe$/);
    // statically linked: no program interpreter (PT_INTERP) in its ELF program headers, so no shared libraries to load
    expect(hasProgramInterpreter(b.ffprobe.path)).toBe(false);
    expect(hasProgramInterpreter('/usr/bin/ffprobe')).toBe(true);
    expect(execFileSync(b.ffprobe.path, ['-version'], { encoding: 'utf8' })).toMatch(/^ffprobe version /);
    // ffmpeg itself stays the system's where ffmpeg-static could not download
    expect(b.ffmpeg.source).toMatch(/^(PATH|ffmpeg-static)$/);
  });

  it('prefers FFMPEG_PATH / FFPROBE_PATH over PATH and the packages', () => {
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
    expect(describeMediaBinaries()).toMatch(/^ffmpeg: \S+ \((env|ffmpeg-static|PATH)\), ffprobe: \S+ \((env|@ffprobe-installer\/ffprobe|PATH)\)(, still encoder: \S+ \((env|@ffmpeg-installer\/ffmpeg)\))?$/);
  });
});
