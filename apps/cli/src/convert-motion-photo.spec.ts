import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { writeJpegExif } from '@vid2live/livephoto/exif/jpeg';
import { buildExifTiff } from '@vid2live/livephoto/exif/tiff';
import { writeMotionPhoto } from '@vid2live/livephoto/motion-photo';
import { PIXEL_MOTION_PHOTO_SHORTENED } from '@vid2live/livephoto/testing/real-media';
import { runConvert, type ConvertSummary, type FileOutcome } from './convert-command';
import { discoverSources } from './discover';

/**
 * `vid2live convert FOLDER` on a folder of photos: Motion Photos (Google, Samsung) become Live Photo pairs, plain
 * photos are skipped, the real cut-short Pixel one fails with its own code. Real ffmpeg and ExifTool.
 */

let dir: string;
let input: string;
let photo: Buffer;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

function samsungTrailer(video: Buffer): Buffer {
  const name = Buffer.from('MotionPhoto_Data', 'latin1');
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0x0a30, 2);
  head.writeUInt32LE(name.length, 4);
  const block = Buffer.concat([head, name, video]);
  const sef = Buffer.alloc(24);
  sef.write('SEFH', 0, 'latin1');
  sef.writeUInt32LE(106, 4);
  sef.writeUInt32LE(1, 8);
  sef.writeUInt16LE(0x0a30, 14);
  sef.writeUInt32LE(block.length, 16);
  sef.writeUInt32LE(block.length, 20);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(sef.length, 0);
  tail.write('SEFT', 4, 'latin1');
  return Buffer.concat([block, sef, tail]);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-cli-mp-'));
  input = path.join(dir, 'DCIM');
  fs.mkdirSync(path.join(input, 'samsung'), { recursive: true });
  const raw = path.join(dir, 'raw.jpg');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1200x900', '-frames:v', '1', '-q:v', '3', raw]);
  photo = writeJpegExif(fs.readFileSync(raw), buildExifTiff({ make: 'Google', model: 'Pixel 8', gps: { latitude: -33.8568, longitude: 151.2153 } }));
  const clip = path.join(dir, 'clip.mp4');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=480x360:rate=30', '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-f', 'mp4', '-brand', 'isom', clip]);

  await writeMotionPhoto({ jpeg: photo, mp4Path: clip, outputPath: path.join(input, 'PXL_20240506_070809123.MP.jpg'), presentationTimestampUs: 1_000_000 });
  fs.writeFileSync(path.join(input, 'samsung', '20240506_070809.jpg'), Buffer.concat([photo, samsungTrailer(fs.readFileSync(clip))]));
  fs.writeFileSync(path.join(input, 'holiday.jpg'), photo); // a plain photo: not a source
  fs.copyFileSync(PIXEL_MOTION_PHOTO_SHORTENED, path.join(input, 'PXL_cut.MP.jpg'));
});

afterAll(async () => {
  await closeExifTool();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('discover: photos in a folder', () => {
  it('takes Motion Photos (complete or cut short) as sources, skips plain photos; PXL_….MP.jpg → stem PXL_…', async () => {
    const { sources, skipped } = await discoverSources([input], path.join(dir, 'unused'));
    expect(sources.map((s) => s.outputStem).sort()).toEqual(['PXL_20240506_070809123', 'PXL_cut', path.join('samsung', '20240506_070809')]);
    expect(skipped).toEqual([path.join(input, 'holiday.jpg')]);
  });
});

describe('vid2live convert FOLDER with Motion Photos', () => {
  let summary: ConvertSummary;
  let out: string;
  const byName = (name: string): FileOutcome => summary.files.find((f) => path.basename(f.source) === name)!;

  beforeAll(async () => {
    out = path.join(dir, 'live');
    // HEIC asked for: a Motion Photo keeps its own JPEG all the same
    summary = await runConvert([input], { output: out, convert: { still: 'heic', codec: 'h264' }, concurrency: 1, json: true, tty: false }, () => undefined);
  });

  it('converts both complete Motion Photos, fails the cut-short Pixel one with INPUT_TRUNCATED, skips the plain photo', () => {
    expect(summary).toMatchObject({ total: 3, converted: 2, failed: 1 });
    expect(summary.skippedNonVideo).toEqual([path.join(input, 'holiday.jpg')]);
    expect(byName('PXL_cut.MP.jpg')).toMatchObject({ status: 'failed', error: { code: 'INPUT_TRUNCATED' } });
  });

  it.each([
    ['PXL_20240506_070809123.MP.jpg', 'PXL_20240506_070809123', 1.0],
    ['20240506_070809.jpg', path.join('samsung', '20240506_070809'), 1.0],
  ])('%s → a valid pair whose halves carry one identifier, still = the original image data', async (name, stem, stillTime) => {
    const o = byName(name);
    expect(o.status).toBe('converted');
    if (o.status !== 'converted') return;
    expect(o.still).toBe(path.join(out, `${stem}.JPG`));
    expect(o.movie).toBe(path.join(out, `${stem}.MOV`));
    expect(Math.abs(o.stillTime - stillTime)).toBeLessThanOrEqual(0.5 / 30 + 1e-9);
    const report = await inspectLivePhoto(o.still, o.movie);
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
    const [s, m] = await Promise.all([readAllTags(o.still), readAllTags(o.movie)]);
    expect(s['Apple:ContentIdentifier']).toBe(o.contentIdentifier);
    expect(m['Keys:ContentIdentifier']).toBe(o.contentIdentifier);
    expect(s['GPS:GPSLatitude']).toBeCloseTo(33.8568, 5);
    expect(s['GPS:GPSLatitudeRef']).toBe('S');
    const still = fs.readFileSync(o.still);
    const sos = (b: Buffer) => b.subarray(b.indexOf(Buffer.from([0xff, 0xda])));
    expect(sos(still).equals(sos(photo))).toBe(true);
  });

  it('a second run keeps the pairs (resume recognises a Motion Photo pair by its JPG name and fingerprint)', async () => {
    const again = await runConvert([input], { output: out, convert: { still: 'heic', codec: 'h264' }, concurrency: 1, json: true, tty: false }, () => undefined);
    expect(again).toMatchObject({ total: 3, converted: 0, skipped: 2, failed: 1 });
  });
});
