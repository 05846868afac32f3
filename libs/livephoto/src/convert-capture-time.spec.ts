import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { convertToLivePhoto } from './convert';
import { ExifTag, readJpegExif } from './exif';
import { realMedia } from './testing/fixtures';
import type { LivePhotoResult } from './types';

/**
 * Real phone clips end to end: the capture time written into the still's Exif, the MOV's creationdate and its
 * movie headers is local time with the right offset, and the Motion Photo carries no Apple ContentIdentifier.
 */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-capture-time-'));
afterAll(async () => {
  await closeExifTool();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** ExifTool dates arrive as ExifDateTime objects; compare their raw text. */
const raw = (v: unknown): string => String((v as { rawValue?: string })?.rawValue ?? v);

function formatCreationTime(file: string): string | undefined {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format_tags=creation_time', '-of', 'json', file], { encoding: 'utf8' });
  return JSON.parse(out).format?.tags?.creation_time;
}

describe('Android clip with UTC creation_time and a New Jersey position (sample_rotate_and_reflect.mp4)', () => {
  let result: LivePhotoResult;
  beforeAll(async () => {
    result = await convertToLivePhoto({
      source: realMedia('sample_rotate_and_reflect.mp4'),
      outputDir: path.join(tmp, 'nj'),
      baseName: 'IMG',
      options: { motionPhoto: true },
    });
  });

  it('dates the still in Eastern Daylight Time: 17:01:35Z → 13:01:35 -04:00', async () => {
    const still = await readAllTags(result.stillPath);
    expect(raw(still['ExifIFD:DateTimeOriginal'])).toBe('2016:05:31 13:01:35');
    expect(raw(still['ExifIFD:OffsetTimeOriginal'])).toBe('-04:00');
    expect(result.warnings.map((w) => w.code)).not.toContain('CAPTURE_TIME_UTC');
  });

  it("dates the MOV alike: creationdate in local time, mvhd/tkhd/mdhd at the instant (ffmpeg's creation_time)", async () => {
    const movie = await readAllTags(result.moviePath);
    expect(raw(movie['Keys:CreationDate'])).toBe('2016:05:31 13:01:35-04:00');
    expect(formatCreationTime(result.moviePath)).toBe('2016-05-31T17:01:35.000000Z');
  });

  it('writes the Motion Photo without the Apple MakerNote: no ContentIdentifier shared with the pair', async () => {
    const mp = await readAllTags(result.motionPhotoPath!);
    expect(mp['XMP-GCamera:MotionPhoto']).toBe(1);
    expect(Object.keys(mp).filter((k) => /ContentIdentifier|^Apple:|MakerNote/i.test(k))).toEqual([]);
    const exif = readJpegExif(fs.readFileSync(result.motionPhotoPath!));
    expect(exif.exifApp1Count).toBe(1);
    expect(exif.tiff!.makerNote).toBeUndefined();
    expect(exif.tiff!.exif.has(ExifTag.MakerNote)).toBe(false);
    // capture time and position are kept
    expect(raw(mp['ExifIFD:DateTimeOriginal'])).toBe('2016:05:31 13:01:35');
    expect(raw(mp['ExifIFD:OffsetTimeOriginal'])).toBe('-04:00');
    expect(Number(mp['GPS:GPSLatitude'])).toBeCloseTo(40.68, 3);
    expect(Number(mp['GPS:GPSLongitude'])).toBeCloseTo(74.5, 3); // ExifTool: magnitude + GPSLongitudeRef
    expect(mp['GPS:GPSLongitudeRef']).toBe('W');
    // while the pair still shares its identifier
    const still = await readAllTags(result.stillPath);
    expect(still['Apple:ContentIdentifier']).toBe(result.contentIdentifier);
  });
});

describe('Android clip with UTC creation_time and no GPS (portrait_4k60.mp4)', () => {
  it('stays UTC and says so with CAPTURE_TIME_UTC', async () => {
    const result = await convertToLivePhoto({ source: realMedia('portrait_4k60.mp4'), outputDir: path.join(tmp, 'utc'), baseName: 'IMG' });
    const still = await readAllTags(result.stillPath);
    expect(raw(still['ExifIFD:DateTimeOriginal'])).toBe('2023:03:16 15:26:24');
    expect(raw(still['ExifIFD:OffsetTimeOriginal'])).toBe('+00:00');
    const warning = result.warnings.find((w) => w.code === 'CAPTURE_TIME_UTC');
    expect(warning?.message).toMatch(/UTC.*no time zone and no GPS position/);
    expect(formatCreationTime(result.moviePath)).toBe('2023-03-16T15:26:24.000000Z');
  });
});
