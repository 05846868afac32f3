import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, exiftool } from '@vid2live/media/exiftool';
import { convertToLivePhoto } from './convert';
import { inspectLivePhoto, inspectMotionPhoto } from './inspect';
import { injectLivePhotoMetadata } from './quicktime';
import { IPHONE_CONTENT_IDENTIFIER, IPHONE_HEIC, IPHONE_MOV, IPHONE_STILL_TIME } from './testing/fixtures';
import { makeSource } from '@vid2live/media/test-media';
import type { LivePhotoResult } from './types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-inspect-'));
let good: LivePhotoResult;

beforeAll(async () => {
  const source = makeSource('no-audio', path.join(tmp, 'src'));
  good = await convertToLivePhoto({ source, outputDir: path.join(tmp, 'good'), baseName: 'IMG', options: { motionPhoto: true } });
});
afterAll(async () => {
  await closeExifTool();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const codes = (issues: Array<{ code: string }>) => issues.map((i) => i.code);

function copyPair(name: string): { still: string; movie: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const still = path.join(dir, 'IMG.JPG');
  const movie = path.join(dir, 'IMG.MOV');
  fs.copyFileSync(good.stillPath, still);
  fs.copyFileSync(good.moviePath, movie);
  return { still, movie };
}

describe('inspectLivePhoto', () => {
  it('passes the genuine iPhone pair, with the AFC-export warnings the spec predicts', async () => {
    const r = await inspectLivePhoto(IPHONE_HEIC, IPHONE_MOV);
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
    expect(r.contentIdentifier).toBe(IPHONE_CONTENT_IDENTIFIER);
    expect(r.stillTime).toBeCloseTo(IPHONE_STILL_TIME, 3);
    expect(codes(r.warnings).sort()).toEqual(['MOVIE_NO_FTYP', 'NO_TREF_CDSC']);
  });

  it('passes our own output with no warnings at all', async () => {
    const r = await inspectLivePhoto(good.stillPath, good.moviePath);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('fails when the ids differ', async () => {
    const { still, movie } = copyPair('mismatch');
    const other = path.join(tmp, 'mismatch', 'other.MOV');
    await injectLivePhotoMetadata(movie, other, { contentIdentifier: '11111111-2222-4333-8444-555555555555', stillTime: good.stillTime });
    const r = await inspectLivePhoto(still, other);
    expect(r.valid).toBe(false);
    expect(codes(r.errors)).toEqual(['CONTENT_ID_MISMATCH']);
  });

  it('fails on a lower-case id (same in both halves)', async () => {
    const { still, movie } = copyPair('lower');
    const upper = Buffer.from(good.contentIdentifier, 'latin1');
    const lower = Buffer.from(good.contentIdentifier.toLowerCase(), 'latin1');
    for (const f of [still, movie]) {
      const bytes = fs.readFileSync(f);
      let at = bytes.indexOf(upper);
      expect(at).toBeGreaterThan(0);
      for (; at >= 0; at = bytes.indexOf(upper, at + 1)) lower.copy(bytes, at);
      fs.writeFileSync(f, bytes);
    }
    const r = await inspectLivePhoto(still, movie);
    expect(r.valid).toBe(false);
    expect(codes(r.errors)).toEqual(expect.arrayContaining(['CONTENT_ID_LOWER_CASE']));
    expect(codes(r.errors)).not.toContain('CONTENT_ID_MISMATCH');
  });

  it('fails without a still-image-time track (id written by ExifTool only, as many recipes do)', async () => {
    const { still } = copyPair('no-track');
    const movie = path.join(tmp, 'no-track', 'plain.MOV');
    // a plain re-mux drops the timed-metadata track; ExifTool can write the key but not the track
    execFileSync('ffmpeg', ['-v', 'error', '-i', good.moviePath, '-map', '0:v', '-c', 'copy', '-f', 'mov', '-y', movie]);
    await exiftool().write(movie, { 'Keys:ContentIdentifier': good.contentIdentifier } as never, { writeArgs: ['-overwrite_original'] });
    const r = await inspectLivePhoto(still, movie);
    expect(r.valid).toBe(false);
    expect(codes(r.errors)).toEqual(['NO_STILL_IMAGE_TIME_TRACK']);
  });

  it('fails when the key sits in udta/meta (ffmpeg -movflags use_metadata_tags)', async () => {
    const { still } = copyPair('udta');
    const movie = path.join(tmp, 'udta', 'udta.MOV');
    execFileSync('ffmpeg', [
      '-v', 'error', '-i', good.moviePath, '-map', '0:v', '-c', 'copy', '-movflags', 'use_metadata_tags',
      '-metadata', `com.apple.quicktime.content.identifier=${good.contentIdentifier}`, '-f', 'mov', '-y', movie,
    ]);
    const r = await inspectLivePhoto(still, movie);
    expect(r.valid).toBe(false);
    expect(codes(r.errors)).toEqual(expect.arrayContaining(['MOVIE_META_IN_UDTA', 'NO_STILL_IMAGE_TIME_TRACK']));
  });

  it('fails when the MakerNote is missing', async () => {
    const { still, movie } = copyPair('no-makernote');
    await exiftool().write(still, { MakerNotes: null } as never, { writeArgs: ['-overwrite_original'] });
    const r = await inspectLivePhoto(still, movie);
    expect(r.valid).toBe(false);
    expect(codes(r.errors)).toEqual(['MAKERNOTE_MISSING']);
  });

  it('fails when the still has no Exif at all', async () => {
    const { movie } = copyPair('no-exif');
    const still = path.join(tmp, 'no-exif', 'bare.jpg');
    execFileSync('ffmpeg', ['-v', 'error', '-i', good.stillPath, '-map_metadata', '-1', '-y', still]);
    const r = await inspectLivePhoto(still, movie);
    expect(codes(r.errors)).toEqual(['STILL_NO_EXIF']);
  });
});

describe('inspectMotionPhoto', () => {
  it('passes our Motion Photo and reads its presentation time', async () => {
    const r = await inspectMotionPhoto(good.motionPhotoPath!);
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
    expect(r.stillTime).toBeCloseTo(good.stillTime, 5);
    // No Apple MakerNote: the Motion Photo must not claim the pair's ContentIdentifier (galleries would link both).
    expect(r.contentIdentifier).toBeNull();
  });

  it('fails on a plain JPEG', async () => {
    const r = await inspectMotionPhoto(good.stillPath);
    expect(r.valid).toBe(false);
    expect(codes(r.errors)).toContain('NOT_MOTION_PHOTO');
  });
});
