import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeSource, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { convertToLivePhoto } from './convert';
import { LivePhotoError, outputWriteError } from '@vid2live/errors';
import { probeSource } from './stages/probe';
import { mountTmpfs, unmountTmpfs } from './testing/mounts';

// ffprobe wrapped so a test can delete the source between probe's own checks and ffprobe opening it.
let beforeFfprobe: (() => void) | undefined;
jest.mock('@vid2live/media/ffprobe', () => {
  const actual = jest.requireActual('@vid2live/media/ffprobe');
  return {
    ...actual,
    runFfprobe: (...args: unknown[]) => {
      const hook = beforeFfprobe;
      beforeFfprobe = undefined;
      hook?.();
      return actual.runFfprobe(...args);
    },
  };
});

async function failure(p: Promise<unknown>): Promise<LivePhotoError> {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  if (!e) throw new Error('did not fail');
  expect(e).toBeInstanceOf(LivePhotoError);
  return e as LivePhotoError;
}

describe('the codes of failures that are not the input bytes', () => {
  let dir: string;
  let video: string;
  const mounts: string[] = [];
  beforeAll(() => {
    dir = makeTempDir('vid2live-failures-');
    video = makeSource('no-audio', path.join(dir, 'src'));
  });
  afterAll(() => {
    for (const m of mounts) unmountTmpfs(m);
    removeDir(dir);
  });
  const copy = (name: string) => {
    const f = path.join(dir, name);
    fs.copyFileSync(video, f);
    return f;
  };

  describe('a source deleted mid-run → SOURCE_NOT_FOUND (was INPUT_NOT_MEDIA / FFMPEG_FAILED)', () => {
    it('between the stat and ffprobe', async () => {
      const src = copy('gone-at-probe.mp4');
      beforeFfprobe = () => fs.rmSync(src);
      const e = await failure(probeSource(src));
      expect(e.code).toBe('SOURCE_NOT_FOUND');
      expect(e.retryable).toBe(false);
    });

    it.each(['plan', 'render'])('when the %s stage starts', async (stage) => {
      const src = copy(`gone-at-${stage}.mp4`);
      let deleted = false;
      const e = await failure(
        convertToLivePhoto(
          { source: src, outputDir: path.join(dir, `out-${stage}`), baseName: 'x' },
          {
            onProgress: (p) => {
              if (p.stage === stage && !deleted) {
                deleted = true;
                fs.rmSync(src);
              }
            },
          },
        ),
      );
      expect(deleted).toBe(true);
      expect(e.code).toBe('SOURCE_NOT_FOUND');
      expect(e.message).toContain(src);
    });
  });

  describe('outputs on a full or read-only file system → OUTPUT_WRITE_FAILED with the reason', () => {
    it('maps errno codes: ENOSPC/EDQUOT retryable, EROFS/EACCES/EPERM final, others untouched', () => {
      const errno = (code: string) => Object.assign(new Error(`${code}: x`), { code });
      expect(outputWriteError(errno('ENOSPC'), 'w')).toMatchObject({ code: 'OUTPUT_WRITE_FAILED', retryable: true, message: 'w: no space left on device (ENOSPC)' });
      expect(outputWriteError(errno('EDQUOT'), 'w')?.retryable).toBe(true);
      expect(outputWriteError(errno('EROFS'), 'w')).toMatchObject({ retryable: false, message: 'w: read-only file system (EROFS)' });
      expect(outputWriteError(errno('EACCES'), 'w')?.retryable).toBe(false);
      expect(outputWriteError(errno('ENOENT'), 'w')).toBeUndefined();
      // wrapped by a stage as METADATA_WRITE_FAILED, the cause decides
      const wrapped = new LivePhotoError('METADATA_WRITE_FAILED', 'writing x failed', undefined, { cause: errno('ENOSPC') });
      expect(outputWriteError(wrapped, 'w')?.code).toBe('OUTPUT_WRITE_FAILED');
      // ffmpeg says it in words
      expect(outputWriteError(new LivePhotoError('FFMPEG_FAILED', 'ffmpeg failed: x.MOV: No space left on device'), 'w')?.retryable).toBe(true);
      // an input error is never rewritten
      expect(outputWriteError(new LivePhotoError('SOURCE_NOT_FOUND', 'x', undefined, { cause: errno('EACCES') }), 'w')).toBeUndefined();
    });

    const canMount = typeof process.getuid === 'function' && process.getuid() === 0;
    (canMount ? it : it.skip)('ENOSPC (a 64 KiB tmpfs) → OUTPUT_WRITE_FAILED, retryable', async () => {
      const full = path.join(dir, 'full');
      expect(mountTmpfs(full, { size: '64k' })).toBe(true);
      mounts.push(full);
      const e = await failure(convertToLivePhoto({ source: video, outputDir: full, baseName: 'clip' }));
      expect(e.code).toBe('OUTPUT_WRITE_FAILED');
      expect(e.message).toMatch(/no space left on device \(ENOSPC\)/);
      expect(e.retryable).toBe(true);
      // nothing half-written is left behind
      expect(fs.readdirSync(full).filter((f) => /clip/.test(f))).toEqual([]);
    });

    (canMount ? it : it.skip)('EROFS (a tmpfs remounted read-only), for the folder and for a sub-folder → final', async () => {
      const ro = path.join(dir, 'ro');
      expect(mountTmpfs(ro, { readOnly: true, populate: (d) => fs.mkdirSync(path.join(d, 'existing')) })).toBe(true);
      mounts.push(ro);
      for (const outputDir of [path.join(ro, 'existing'), path.join(ro, 'new', 'deeper')]) {
        const e = await failure(convertToLivePhoto({ source: video, outputDir, baseName: 'clip' }));
        expect(e.code).toBe('OUTPUT_WRITE_FAILED');
        expect(e.message).toMatch(/read-only file system \(EROFS\)/);
        expect(e.retryable).toBe(false);
      }
    });
  });
});
