import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { convertToLivePhoto } from './convert';
import { LivePhotoError } from '@vid2live/errors';
import { inspectLivePhoto } from './inspect';
import { type BadInputKind, makeBadInput, makeSource, type SourceKind, stillVersusMovieFramePsnr as stillVsMovieFramePsnr } from '@vid2live/media/test-media';
import type { LivePhotoResult } from './types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-convert-'));
afterAll(async () => {
  await closeExifTool();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function videoStream(file: string): { width: number; height: number; codec_name: string; pix_fmt: string; r_frame_rate: string; side_data_list?: unknown[]; tags?: Record<string, string> } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_streams', '-of', 'json', file], { encoding: 'utf8' });
  return JSON.parse(out).streams[0];
}

/** ExifTool dates arrive as ExifDateTime objects; compare their raw text. */
const raw = (v: unknown): string => String((v as { rawValue?: string })?.rawValue ?? v);

function tagsMatching(tags: Record<string, unknown>, pattern: RegExp): Array<[string, unknown]> {
  return Object.entries(tags).filter(([k]) => pattern.test(k));
}

const KINDS: SourceKind[] = ['landscape-1080p-audio', 'portrait-rotated', 'vfr', 'no-audio', '4k', 'one-second', '10-bit'];

describe.each(KINDS)('convertToLivePhoto: %s source', (kind) => {
  let result: LivePhotoResult;
  let source: string;

  beforeAll(async () => {
    source = makeSource(kind, path.join(tmp, 'src', kind));
    result = await convertToLivePhoto({ source, outputDir: path.join(tmp, 'out', kind), baseName: 'IMG' });
  });

  it('writes NAME.JPG + NAME.MOV side by side that pass inspect', async () => {
    expect(path.basename(result.stillPath)).toBe('IMG.JPG');
    expect(path.basename(result.moviePath)).toBe('IMG.MOV');
    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.contentIdentifier).toBe(result.contentIdentifier);
    expect(report.stillTime).toBeCloseTo(result.stillTime, 2);
  });

  it('ExifTool reads the same upper-case id from both halves and StillImageTime -1 at the still time', async () => {
    expect(result.contentIdentifier).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    const still = await readAllTags(result.stillPath);
    const movie = await readAllTags(result.moviePath);
    expect(still['Apple:ContentIdentifier']).toBe(result.contentIdentifier);
    expect(still['IFD0:Make']).toBe('Apple');
    expect(still['IFD0:Orientation']).toBe(1);
    expect(movie['Keys:ContentIdentifier']).toBe(result.contentIdentifier);
    const stillTrack = tagsMatching(movie, /^Track\d+:StillImageTime$/);
    expect(stillTrack).toHaveLength(1);
    expect(stillTrack[0][1]).toBe(-1);
    const track = stillTrack[0][0].split(':')[0];
    // ExifTool's TrackDuration of the marker track = empty edit (still time) + the 1-unit marker.
    expect(Number(movie[`${track}:TrackDuration`])).toBeCloseTo(result.stillTime + 1 / 600, 2);
    expect(Object.keys(still).some((k) => k.endsWith(':Warning') && /maker/i.test(String(still[k])))).toBe(false);
  });

  it('the still is the MOV frame at the still time (PSNR ≥ 35 dB) with the same geometry', () => {
    const index = Math.round(result.stillTime * 30);
    expect(stillVsMovieFramePsnr(result.stillPath, result.moviePath, index)).toBeGreaterThanOrEqual(35);
    // and clearly not a neighbour far away: the picture moves, so a frame 10 steps off must match worse
    const other = index >= 10 ? index - 10 : index + 10;
    expect(stillVsMovieFramePsnr(result.stillPath, result.moviePath, other)).toBeLessThan(
      stillVsMovieFramePsnr(result.stillPath, result.moviePath, index),
    );
  });

  it('the MOV is upright H.264 yuv420p at 30 fps, long side ≤ 1920, `qt` brand', () => {
    const v = videoStream(result.moviePath);
    expect(v.codec_name).toBe('h264');
    expect(v.pix_fmt).toBe('yuv420p');
    expect(v.r_frame_rate).toBe('30/1');
    expect(Math.max(v.width, v.height)).toBeLessThanOrEqual(1920);
    expect(v.side_data_list ?? []).toEqual([]);
    expect(v.tags?.rotate).toBeUndefined();
    expect(fs.readFileSync(result.moviePath).subarray(4, 12).toString('latin1')).toBe('ftypqt  ');
    expect({ width: result.width, height: result.height }).toEqual({ width: v.width, height: v.height });
    if (kind === 'portrait-rotated') expect(v.height).toBeGreaterThan(v.width);
    else expect(v.width).toBeGreaterThan(v.height);
  });

  if (kind === 'landscape-1080p-audio' || kind === 'no-audio') {
    it('carries the capture time and GPS of the source into the still and the MOV', async () => {
      const still = await readAllTags(result.stillPath);
      const movie = await readAllTags(result.moviePath);
      // UTC creation_time 10:20:30Z at the Eiffel Tower: local time in Paris, summer time (+02:00)
      expect(raw(still['ExifIFD:DateTimeOriginal'])).toBe('2025:06:01 12:20:30');
      expect(raw(still['ExifIFD:OffsetTimeOriginal'])).toBe('+02:00');
      expect(Number(still['GPS:GPSLatitude'])).toBeCloseTo(48.8584, 4);
      expect(Number(still['GPS:GPSLongitude'])).toBeCloseTo(2.2945, 4);
      expect(raw(movie['Keys:CreationDate'])).toBe('2025:06:01 12:20:30+02:00');
      expect(result.warnings.map((w) => w.code)).not.toContain('CAPTURE_TIME_UTC');
    });
  }

  if (kind === 'one-second') {
    it('uses the whole 1 s source and says so', () => {
      expect(result.clip.duration).toBeCloseTo(1, 1);
      // the default 3 s is no promise: a 1 s source becoming a 1 s Live Photo is said in the reasons, not warned
      expect(result.warnings.map((w) => w.code)).not.toContain('SOURCE_SHORTER_THAN_CLIP');
      expect(result.reasons.join(' ')).toMatch(/shorter than the 3.00 s clip; using all of it/);
    });
  } else if (kind !== '4k') {
    it('makes a 3 s clip with the still near its middle', () => {
      expect(result.clip.duration).toBeCloseTo(3, 5);
      expect(result.stillTime).toBeGreaterThan(0.9);
      expect(result.stillTime).toBeLessThan(2.1);
    });
  }
});

describe('convertToLivePhoto options', () => {
  let source: string;
  beforeAll(() => {
    source = makeSource('no-audio', path.join(tmp, 'src', 'options'));
  });

  it('honours a user start, duration and key frame', async () => {
    const r = await convertToLivePhoto({
      source,
      outputDir: path.join(tmp, 'out', 'user'),
      baseName: 'U',
      options: { start: 0.5, duration: 2, keyFrame: 1.0 },
    });
    expect(r.clip).toEqual({ start: 0.5, duration: 2 });
    expect(r.stillTime).toBeCloseTo(0.5, 3);
    const report = await inspectLivePhoto(r.stillPath, r.moviePath);
    expect(report.valid).toBe(true);
    expect(report.stillTime).toBeCloseTo(0.5, 2);
  });

  it('writes a HEIC still and a Motion Photo on request', async () => {
    const r = await convertToLivePhoto({
      source,
      outputDir: path.join(tmp, 'out', 'heic'),
      baseName: 'H',
      options: { still: 'heic', motionPhoto: true },
    });
    expect(path.basename(r.stillPath)).toBe('H.HEIC');
    expect(path.basename(r.motionPhotoPath!)).toBe('H.MP.jpg');
    const report = await inspectLivePhoto(r.stillPath, r.moviePath);
    expect(report.errors).toEqual([]);
    const heic = await readAllTags(r.stillPath);
    expect(heic['Apple:ContentIdentifier']).toBe(r.contentIdentifier);
    const mp = await readAllTags(r.motionPhotoPath!);
    expect(mp['XMP-GCamera:MotionPhoto']).toBe(1);
    expect(Number(mp['XMP-GCamera:MotionPhotoPresentationTimestampUs'])).toBe(Math.round(r.stillTime * 1e6));
    // its own image, not a second claimant of the pair's MOV: no Apple MakerNote / ContentIdentifier
    expect(mp['Apple:ContentIdentifier']).toBeUndefined();
    expect(raw(mp['ExifIFD:DateTimeOriginal'])).toBe(raw(heic['ExifIFD:DateTimeOriginal']));
  });

  it('rejects a duration outside 1–5 s with INVALID_OPTIONS', async () => {
    await expect(
      convertToLivePhoto({ source, outputDir: path.join(tmp, 'out', 'bad'), baseName: 'B', options: { duration: 9 } }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('cancels: an aborted conversion rejects with CANCELED and leaves no output', async () => {
    const controller = new AbortController();
    const outDir = path.join(tmp, 'out', 'cancel');
    const p = convertToLivePhoto({ source, outputDir: outDir, baseName: 'C' }, {
      signal: controller.signal,
      onProgress: (s) => {
        if (s.stage === 'render' && s.percent > 0) controller.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'CANCELED' });
    expect(fs.existsSync(path.join(outDir, 'C.MOV'))).toBe(false);
    expect(fs.existsSync(path.join(outDir, 'C.JPG'))).toBe(false);
  });
});

describe('bad inputs fail with their own error code, naming the file', () => {
  const cases: Array<[BadInputKind, string]> = [
    ['empty', 'SOURCE_EMPTY'],
    ['text', 'INPUT_NOT_MEDIA'],
    ['jpeg', 'INPUT_IS_IMAGE'],
    ['audio-only', 'INPUT_NO_VIDEO'],
    ['truncated-mp4', 'INPUT_TRUNCATED'],
    ['zero-length-video', 'INPUT_ZERO_DURATION'],
  ];
  it.each(cases)('%s → %s', async (kind, code) => {
    const file = makeBadInput(kind, path.join(tmp, 'bad', kind));
    const err = await convertToLivePhoto({ source: file, outputDir: path.join(tmp, 'out', 'bad-' + kind), baseName: 'X' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LivePhotoError);
    expect((err as LivePhotoError).code).toBe(code);
    expect((err as LivePhotoError).message).toContain(path.basename(file));
    expect((err as LivePhotoError).retryable).toBe(false);
  });

  it('a missing file → SOURCE_NOT_FOUND', async () => {
    await expect(
      convertToLivePhoto({ source: path.join(tmp, 'nope.mp4'), outputDir: path.join(tmp, 'out', 'nope'), baseName: 'N' }),
    ).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });
});
