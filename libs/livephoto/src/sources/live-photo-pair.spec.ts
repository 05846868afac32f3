import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { convertToLivePhoto } from '../convert';
import { buildAppleMakerNote } from '../exif/apple-maker-note';
import { listJpegSegments, writeJpegExif } from '../exif/jpeg';
import { buildExifTiff } from '../exif/tiff';
import { readItemData } from '../heif/items';
import { parseHeif } from '../heif/parse';
import { inspectLivePhoto, inspectMotionPhoto } from '../inspect';
import { parseMotionPhotoXmp, readMotionPhoto } from '../motion-photo';
import { IPHONE_CONTENT_IDENTIFIER, IPHONE_HEIC, IPHONE_MOV, IPHONE_STILL_TIME } from '../testing/fixtures';
import { makeSource } from '@vid2live/media/test-media';
import { convertLivePhotoPair } from './live-photo-pair';

/** Live Photo pairs → Google Motion Photos (iPhone → Android), with real ffmpeg and ExifTool. */
let dir: string;
let pair: { still: string; movie: string; stillTime: number; id: string };

/** bytes from the first SOS segment to EOI: the compressed image itself */
function imageData(jpeg: Buffer): Buffer {
  const sos = listJpegSegments(jpeg).pop()!;
  return jpeg.subarray(sos.offset);
}

function decodedFrames(file: string, args: string[] = []): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', ...args, file], { encoding: 'utf8' });
  return Number(out.trim());
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-photo-pair-'));
  const source = makeSource('landscape-1080p-audio', dir);
  const r = await convertToLivePhoto({ source, outputDir: path.join(dir, 'pair'), baseName: 'IMG_0001', options: { start: 0.5, duration: 2, keyFrame: 1.2 } });
  pair = { still: r.stillPath, movie: r.moviePath, stillTime: r.stillTime, id: r.contentIdentifier };
}, 120_000);
afterAll(async () => {
  await closeExifTool();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('keeps the still byte for byte in its image data, its Exif minus the Apple MakerNote, and the MOV as the MP4 at the still time', async () => {
  const out = path.join(dir, 'mp');
  const r = await convertLivePhotoPair({ still: pair.still, movie: pair.movie, outputDir: out, baseName: 'IMG_0001', workDir: path.join(dir, 'work') });
  expect(r.motionPhotoPath).toBe(path.join(out, 'IMG_0001.MP.jpg'));
  expect(r.sourceContentIdentifier).toBe(pair.id);
  expect(r.presentationTimestampUs).toBe(Math.round(pair.stillTime * 1e6));
  expect(r.warnings).toEqual([]);

  const original = fs.readFileSync(pair.still);
  const written = fs.readFileSync(r.motionPhotoPath);
  expect(imageData(written.subarray(0, (await readMotionPhoto(r.motionPhotoPath)).videoOffset!)).equals(imageData(original))).toBe(true);

  const info = await readMotionPhoto(r.motionPhotoPath);
  expect(info.isMotionPhoto).toBe(true);
  expect(info.presentationTimestampUs).toBe(r.presentationTimestampUs);
  expect(info.videoBrand).toBe('isom');
  const report = await inspectMotionPhoto(r.motionPhotoPath);
  expect(report.errors).toEqual([]);
  expect(report.valid).toBe(true);

  // the video inside is the pair's movie, every frame (copied, not re-encoded)
  const mp4 = path.join(dir, 'inside.mp4');
  fs.writeFileSync(mp4, written.subarray(info.videoOffset!));
  expect(decodedFrames(mp4)).toBe(decodedFrames(pair.movie));
  const codec = (f: string) => execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', f], { encoding: 'utf8' }).trim();
  expect(codec(mp4)).toBe(codec(pair.movie));

  // ExifTool: the camera's Exif is there, the Apple ContentIdentifier is not (no second claimant of the pair's MOV)
  const tags = await readAllTags(r.motionPhotoPath);
  const before = await readAllTags(pair.still);
  expect(before['Apple:ContentIdentifier']).toBe(pair.id);
  expect(tags['Apple:ContentIdentifier']).toBeUndefined();
  expect(tags['EXIF:DateTimeOriginal']).toEqual(before['EXIF:DateTimeOriginal']);
  expect(tags['XMP-GCamera:MotionPhoto']).toBe(1);
}, 120_000);

it('refuses a pair whose halves carry different identifiers (PAIR_MISMATCH) and a still that is no photo (INPUT_NOT_MEDIA), each in words', async () => {
  const other = await convertToLivePhoto({ source: makeSource('landscape-1080p-audio', dir), outputDir: path.join(dir, 'other'), baseName: 'IMG_0002', options: { duration: 1 } });
  const mismatch = await convertLivePhotoPair({ still: pair.still, movie: other.moviePath, outputDir: path.join(dir, 'x'), baseName: 'X', workDir: path.join(dir, 'work') }).catch((e) => e);
  expect(mismatch.code).toBe('PAIR_MISMATCH');
  expect(mismatch.message).toMatch(/IMG_0001\.JPG \+ IMG_0002\.MOV/);
  expect(fs.existsSync(path.join(dir, 'x', 'X.MP.jpg'))).toBe(false);

  // a still that is neither JPEG nor HEIC
  const text = path.join(dir, 'NOTE.JPG');
  fs.writeFileSync(text, 'not a photo\n');
  const notPhoto = await convertLivePhotoPair({ still: text, movie: pair.movie, outputDir: path.join(dir, 'y'), baseName: 'Y', workDir: path.join(dir, 'work') }).catch((e) => e);
  expect(notPhoto.code).toBe('INPUT_NOT_MEDIA');
}, 120_000);

it("the genuine iPhone MOV (HEVC) with a JPEG still of its identifier: the Motion Photo's video is the iPhone's, keyed at its 0.9 s", async () => {
  // the pair as a JPEG still ("Most Compatible"): the MOV's own key frame with Apple's Exif and identifier
  const frame = path.join(dir, 'iphone-frame.jpg');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', String(IPHONE_STILL_TIME), '-i', IPHONE_MOV, '-frames:v', '1', '-q:v', '2', frame]);
  const tiff = buildExifTiff({ make: 'Apple', model: 'iPhone', dateTimeOriginal: '2024:05:01 12:00:00', makerNote: buildAppleMakerNote(IPHONE_CONTENT_IDENTIFIER) });
  const still = path.join(dir, 'IMG_3853.JPG');
  fs.writeFileSync(still, writeJpegExif(fs.readFileSync(frame), tiff));

  const r = await convertLivePhotoPair({ still, movie: IPHONE_MOV, outputDir: path.join(dir, 'iphone'), baseName: 'IMG_3853', workDir: path.join(dir, 'work') });
  expect(r.sourceContentIdentifier).toBe(IPHONE_CONTENT_IDENTIFIER);
  expect(r.presentationTimestampUs).toBe(IPHONE_STILL_TIME * 1e6);
  const info = await readMotionPhoto(r.motionPhotoPath);
  expect(info.isMotionPhoto).toBe(true);
  const mp4 = path.join(dir, 'iphone-inside.mp4');
  fs.writeFileSync(mp4, fs.readFileSync(r.motionPhotoPath).subarray(info.videoOffset!));
  expect(decodedFrames(mp4)).toBe(decodedFrames(IPHONE_MOV));
  // copied, not re-encoded: the same decoded pictures
  const md5 = (f: string) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', f, '-map', '0:v:0', '-f', 'md5', '-'], { encoding: 'utf8' }).trim();
  expect(md5(mp4)).toBe(md5(IPHONE_MOV));
  expect((await readAllTags(r.motionPhotoPath))['Apple:ContentIdentifier']).toBeUndefined();
}, 120_000);

it('the genuine iPhone pair (HEIC + HEVC MOV) → IMG_3853.MP.HEIC: its coded image items byte for byte, Exif minus the MakerNote, XMP item, the MOV in a trailing mpvd box', async () => {
  const r = await convertLivePhotoPair({ still: IPHONE_HEIC, movie: IPHONE_MOV, outputDir: path.join(dir, 'heic'), baseName: 'IMG_3853', workDir: path.join(dir, 'work') });
  expect(path.basename(r.motionPhotoPath)).toBe('IMG_3853.MP.HEIC');
  expect(r.sourceContentIdentifier).toBe(IPHONE_CONTENT_IDENTIFIER);
  expect(r.presentationTimestampUs).toBe(IPHONE_STILL_TIME * 1e6);

  const before = parseHeif(fs.readFileSync(IPHONE_HEIC));
  const bytes = fs.readFileSync(r.motionPhotoPath);
  const after = parseHeif(bytes);
  // every coded image item (the tiles, the grid, the thumbnail…) carries the same bytes
  const coded = (f: ReturnType<typeof parseHeif>) =>
    new Map(f.meta.itemInfo!.entries.filter((e) => e.itemType === 'hvc1' || e.itemType === 'grid').map((e) => [e.itemId, readItemData(f, e.itemId).toString('base64')]));
  expect(coded(after)).toEqual(coded(before));
  expect(coded(after).size).toBeGreaterThan(1);
  expect(after.meta.primaryItem!.itemId).toBe(before.meta.primaryItem!.itemId);

  // the XMP item, described cdsc → the primary, says where the video is
  const xmpItem = after.meta.itemInfo!.entries.find((e) => e.itemType === 'mime' && e.contentType === 'application/rdf+xml')!;
  expect(after.meta.itemReference!.references).toContainEqual({ type: 'cdsc', fromItemId: xmpItem.itemId, toItemIds: [after.meta.primaryItem!.itemId] });
  const xmp = parseMotionPhotoXmp(readItemData(after, xmpItem.itemId).toString('utf8'));
  expect(xmp.motionPhotoFlag).toBe(true);
  expect(xmp.presentationTimestampUs).toBe(IPHONE_STILL_TIME * 1e6);
  const last = after.topLevel[after.topLevel.length - 1];
  expect(last.type).toBe('mpvd');
  const video = bytes.subarray(last.start + 8, last.end);
  expect(xmp.items.map((i) => [i.mime, i.semantic, i.length, i.padding])).toEqual([
    ['image/heic', 'Primary', 0, 8],
    ['video/mp4', 'MotionPhoto', video.length, 0],
  ]);
  const mp4 = path.join(dir, 'heic-inside.mp4');
  fs.writeFileSync(mp4, video);
  const md5 = (f: string) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', f, '-map', '0:v:0', '-f', 'md5', '-'], { encoding: 'utf8' }).trim();
  expect(md5(mp4)).toBe(md5(IPHONE_MOV));

  // ExifTool: a Motion Photo whose camera Exif stayed, without the Apple ContentIdentifier
  const tags = await readAllTags(r.motionPhotoPath);
  const original = await readAllTags(IPHONE_HEIC);
  expect(tags['XMP-GCamera:MotionPhoto']).toBe(1);
  // what Immich and other ExifTool-based galleries extract as the motion part
  expect(tags['QuickTime:MotionPhotoVideo']).toBeDefined();
  expect(tags['Apple:ContentIdentifier']).toBeUndefined();
  expect(original['Apple:ContentIdentifier']).toBe(IPHONE_CONTENT_IDENTIFIER);
  for (const tag of ['EXIF:Make', 'EXIF:Model', 'EXIF:DateTimeOriginal', 'EXIF:GPSLatitude']) expect([tag, tags[tag]]).toEqual([tag, original[tag]]);
}, 120_000);

it('and back (Android → iPhone): the HEIC Motion Photo as a source gives a valid pair whose HEIC still has the iPhone\'s coded image bytes', async () => {
  const mp = await convertLivePhotoPair({ still: IPHONE_HEIC, movie: IPHONE_MOV, outputDir: path.join(dir, 'round'), baseName: 'IMG_3853', workDir: path.join(dir, 'work') });
  const r = await convertToLivePhoto({ source: mp.motionPhotoPath, outputDir: path.join(dir, 'back'), baseName: 'IMG_3853' });
  expect(path.basename(r.stillPath)).toBe('IMG_3853.HEIC');
  expect(r.stillTime).toBeCloseTo(IPHONE_STILL_TIME, 2);
  const report = await inspectLivePhoto(r.stillPath, r.moviePath);
  expect(report.errors).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.contentIdentifier).toBe(r.contentIdentifier);

  const coded = (f: ReturnType<typeof parseHeif>) =>
    new Map(f.meta.itemInfo!.entries.filter((e) => e.itemType === 'hvc1' || e.itemType === 'grid').map((e) => [e.itemId, readItemData(f, e.itemId).toString('base64')]));
  const back = parseHeif(fs.readFileSync(r.stillPath));
  expect(coded(back)).toEqual(coded(parseHeif(fs.readFileSync(IPHONE_HEIC))));
  // a plain still now: no Motion Photo XMP item, no mpvd box
  expect(back.meta.itemInfo!.entries.some((e) => e.itemType === 'mime')).toBe(false);
  expect(back.topLevel.some((b) => b.type === 'mpvd')).toBe(false);
  const tags = await readAllTags(r.stillPath);
  expect(tags['Apple:ContentIdentifier']).toBe(r.contentIdentifier);
  expect(tags['EXIF:GPSLatitude']).toEqual((await readAllTags(IPHONE_HEIC))['EXIF:GPSLatitude']);
}, 180_000);
