import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, exiftool, readAllTags } from '@vid2live/media/exiftool';
import { convertToLivePhoto } from '../convert';
import { LivePhotoError } from '@vid2live/errors';
import { appSegment, JpegMarker, listJpegSegments, rebuildJpegHeader, writeJpegExif, XMP_APP1_IDENTIFIER } from '../exif/jpeg';
import { buildExifTiff } from '../exif/tiff';
import { inspectLivePhoto } from '../inspect';
import { readMotionPhoto, writeMotionPhoto } from '../motion-photo';
import { PIXEL_MOTION_PHOTO_SHORTENED } from '../testing/real-media';
import { detectMotionPhotoSource, SAMSUNG_MOTION_PHOTO_NAME, SAMSUNG_MOTION_PHOTO_TYPE } from './motion-photo-layout';

/**
 * Motion Photos as sources, end to end with real ffmpeg/ExifTool: complete ones made here (the project's own Google
 * writer, a Samsung SEF trailer and a legacy MicroVideo packet by hand), and the real cut-short Pixel one.
 */

let dir: string;
let photo: Buffer; // the camera's JPEG (Exif with GPS, offset time, orientation), no video
let mp4: Buffer;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

/** bytes from the first SOS segment to EOI: the compressed image itself */
function imageData(jpeg: Buffer): Buffer {
  const sos = listJpegSegments(jpeg).pop()!;
  return jpeg.subarray(sos.offset);
}

/** ExifTool dates come back as objects; their text as written */
const raw = (v: unknown): string => (typeof v === 'object' && v !== null && 'rawValue' in v ? String((v as { rawValue: unknown }).rawValue) : String(v));

function decodedMd5(file: string): string {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-f', 'md5', '-'], { encoding: 'utf8' }).trim();
}

/** Samsung's layout: JPEG, then `MotionPhoto_Data` block, SEFH directory, length + SEFT. */
function samsungMotionPhoto(jpeg: Buffer, video: Buffer): Buffer {
  const name = Buffer.from(SAMSUNG_MOTION_PHOTO_NAME, 'latin1');
  const blockHead = Buffer.alloc(8);
  blockHead.writeUInt16LE(0, 0);
  blockHead.writeUInt16LE(SAMSUNG_MOTION_PHOTO_TYPE, 2);
  blockHead.writeUInt32LE(name.length, 4);
  const block = Buffer.concat([blockHead, name, video]);
  const dir = Buffer.alloc(12 + 12);
  dir.write('SEFH', 0, 'latin1');
  dir.writeUInt32LE(106, 4);
  dir.writeUInt32LE(1, 8);
  dir.writeUInt16LE(0, 12);
  dir.writeUInt16LE(SAMSUNG_MOTION_PHOTO_TYPE, 14);
  dir.writeUInt32LE(block.length, 16); // back from SEFH to the block
  dir.writeUInt32LE(block.length, 20);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(dir.length, 0);
  tail.write('SEFT', 4, 'latin1');
  return Buffer.concat([jpeg, block, dir, tail]);
}

/** The deprecated Google MicroVideo form: flag + offset from the end, then the MP4. */
function microVideo(jpeg: Buffer, video: Buffer, ptsUs: number): Buffer {
  const packet = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" GCamera:MicroVideo="1" GCamera:MicroVideoVersion="1" GCamera:MicroVideoOffset="${video.length}" GCamera:MicroVideoPresentationTimestampUs="${ptsUs}"/></rdf:RDF></x:xmpmeta>`;
  const xmp = appSegment(JpegMarker.APP1, Buffer.concat([XMP_APP1_IDENTIFIER, Buffer.from(packet)]));
  return Buffer.concat([rebuildJpegHeader(jpeg, { afterExif: [xmp] }, () => false), video]);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-mpsrc-'));
  const raw = path.join(dir, 'raw.jpg');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1600x1200', '-frames:v', '1', '-q:v', '3', raw]);
  photo = writeJpegExif(
    fs.readFileSync(raw),
    buildExifTiff({
      make: 'Google',
      model: 'Pixel 8',
      orientation: 6,
      dateTimeOriginal: '2024:05:06 07:08:09',
      offsetTimeOriginal: '+02:00',
      gps: { latitude: 48.8584, longitude: 2.2945, altitude: 35 },
    }),
  );
  const clip = path.join(dir, 'clip.mp4');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=30', '-t', '2.5', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-f', 'mp4', '-brand', 'isom', clip]);
  mp4 = fs.readFileSync(clip);
});

afterAll(async () => {
  await closeExifTool();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('detectMotionPhotoSource', () => {
  it('a plain JPEG, a video and a missing file are no Motion Photo (null): the probe decides as before', async () => {
    const plain = path.join(dir, 'plain.jpg');
    fs.writeFileSync(plain, photo);
    const clip = path.join(dir, 'clip.mp4');
    await expect(detectMotionPhotoSource(plain)).resolves.toBeNull();
    await expect(detectMotionPhotoSource(clip)).resolves.toBeNull();
    await expect(detectMotionPhotoSource(path.join(dir, 'missing.jpg'))).resolves.toBeNull();
  });

  it('finds the video of each layout exactly (offset, length, still length, timestamp)', async () => {
    const google = path.join(dir, 'detect-google.MP.jpg');
    const written = await writeMotionPhoto({ jpeg: photo, mp4Path: path.join(dir, 'clip.mp4'), outputPath: google, presentationTimestampUs: 1_500_000 });
    await expect(detectMotionPhotoSource(google)).resolves.toEqual({
      kind: 'google',
      fileSize: written.fileSize,
      stillLength: written.videoOffset,
      videoOffset: written.videoOffset,
      videoLength: mp4.length,
      presentationTimestampUs: 1_500_000,
    });

    const samsung = path.join(dir, 'detect-samsung.jpg');
    fs.writeFileSync(samsung, samsungMotionPhoto(photo, mp4));
    await expect(detectMotionPhotoSource(samsung)).resolves.toEqual({
      kind: 'samsung',
      fileSize: fs.statSync(samsung).size,
      stillLength: photo.length,
      videoOffset: photo.length + 8 + SAMSUNG_MOTION_PHOTO_NAME.length,
      videoLength: mp4.length,
      presentationTimestampUs: null,
    });

    const micro = path.join(dir, 'detect-micro.jpg');
    const microBytes = microVideo(photo, mp4, 700_000);
    fs.writeFileSync(micro, microBytes);
    await expect(detectMotionPhotoSource(micro)).resolves.toMatchObject({
      kind: 'google-micro-video',
      videoOffset: microBytes.length - mp4.length,
      videoLength: mp4.length,
      presentationTimestampUs: 700_000,
    });
  });

  it('ExifTool reads the hand-made Samsung trailer as a Samsung Motion Photo (the test layout is the real one)', async () => {
    const tags = await readAllTags(path.join(dir, 'detect-samsung.jpg'));
    expect(tags['Samsung:EmbeddedVideoType']).toBe('MotionPhoto_Data');
  });

  it('a Motion Photo whose video is not where its XMP says (cut short) → INPUT_TRUNCATED', async () => {
    const cut = path.join(dir, 'cut.MP.jpg');
    const full = fs.readFileSync(path.join(dir, 'detect-google.MP.jpg'));
    fs.writeFileSync(cut, full.subarray(0, full.length - 1000));
    await expect(detectMotionPhotoSource(cut)).rejects.toMatchObject({ code: 'INPUT_TRUNCATED' });
  });
});

describe('a Motion Photo source → Live Photo', () => {
  const cases = [
    { name: 'Google Motion Photo (the project writer)', file: 'PXL_20240506.MP.jpg', pts: 1_500_000 as number | null },
    { name: 'Samsung SEF trailer (by hand, no timestamp: middle of the video)', file: '20240506_070809.jpg', pts: null },
    { name: 'legacy MicroVideo (by hand)', file: 'MVIMG_20240506.jpg', pts: 700_000 },
  ];

  beforeAll(async () => {
    await writeMotionPhoto({ jpeg: photo, mp4Path: path.join(dir, 'clip.mp4'), outputPath: path.join(dir, cases[0].file), presentationTimestampUs: 1_500_000 });
    fs.writeFileSync(path.join(dir, cases[1].file), samsungMotionPhoto(photo, mp4));
    fs.writeFileSync(path.join(dir, cases[2].file), microVideo(photo, mp4, 700_000));
  });

  it.each(cases)('$name: the original photo is the still (image data byte for byte, Exif kept, MakerNote added), the MOV is the video', async ({ file, pts }) => {
    const source = path.join(dir, file);
    const out = path.join(dir, `out-${path.parse(file).name}`);
    const result = await convertToLivePhoto({ source, outputDir: out, baseName: 'LIVE', options: { still: 'heic', motionPhoto: true } });

    // The JPEG is kept as JPEG (no re-encode even though HEIC was asked for), and no Motion Photo is written.
    expect(path.basename(result.stillPath)).toBe('LIVE.JPG');
    expect(result.motionPhotoPath).toBeUndefined();
    expect(fs.readdirSync(out).sort()).toEqual(['LIVE.JPG', 'LIVE.MOV']);

    const still = fs.readFileSync(result.stillPath);
    expect(imageData(still).equals(imageData(photo))).toBe(true);
    expect(decodedMd5(result.stillPath)).toBe(decodedMd5(path.join(dir, 'plain.jpg')));
    // the video and the trailer are gone: the still ends with the photo's own EOI
    expect(still.length).toBeLessThan(photo.length + 2000);
    expect((await readMotionPhoto(result.stillPath)).isMotionPhoto).toBe(false);

    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);

    const [s, m] = await Promise.all([readAllTags(result.stillPath), readAllTags(result.moviePath)]);
    expect(s['Apple:ContentIdentifier']).toBe(result.contentIdentifier);
    expect(m['Keys:ContentIdentifier']).toBe(result.contentIdentifier);
    // the grown Exif block (original left in place, new Exif IFD + MakerNote appended) reads cleanly
    expect(s['ExifTool:Warning']).toBeUndefined();
    // the camera's Exif survives: make, model, orientation, time, GPS
    expect(s['IFD0:Make']).toBe('Google');
    expect(s['IFD0:Model']).toBe('Pixel 8');
    expect(s['IFD0:Orientation']).toBe(6);
    expect(raw(s['ExifIFD:DateTimeOriginal'])).toBe('2024:05:06 07:08:09');
    expect(s['ExifIFD:OffsetTimeOriginal']).toBe('+02:00');
    expect(s['GPS:GPSLatitude']).toBeCloseTo(48.8584, 5);
    expect(s['GPS:GPSLongitude']).toBeCloseTo(2.2945, 5);
    // no Motion Photo claim is left: the XMP flag (when there was one) is 0, no Samsung trailer, no Google video
    expect(s['XMP-GCamera:MotionPhoto'] ?? s['XMP-GCamera:MicroVideo']).toBe(file.startsWith('2024') ? undefined : 0);
    expect(s['Samsung:EmbeddedVideoType']).toBeUndefined();
    expect(s['Google:MotionPhotoVideo']).toBeUndefined();
    expect(raw(m['Keys:CreationDate'])).toMatch(/^2024:05:06 07:08:09\+02:00/);

    // still time = the Motion Photo's presentation timestamp (30 fps grid), the middle of the video without one
    const expected = pts !== null ? pts / 1e6 : 2.5 / 2;
    expect(Math.abs(result.stillTime - expected)).toBeLessThanOrEqual(0.5 / 30 + 1e-9);
    expect(report.stillTime).toBeCloseTo(result.stillTime, 2);
    expect(result.clip.duration).toBeCloseTo(2.5, 1);
  });

  it('the real cut-short Pixel Motion Photo fails with INPUT_TRUNCATED naming it; nothing is written', async () => {
    const out = path.join(dir, 'out-pixel');
    const err = await convertToLivePhoto({ source: PIXEL_MOTION_PHOTO_SHORTENED, outputDir: out, baseName: 'PIXEL' }).catch((e) => e);
    expect(err).toBeInstanceOf(LivePhotoError);
    expect(err.code).toBe('INPUT_TRUNCATED');
    expect(err.message).toContain('pixel-motion-photo-shortened.jpg');
    expect(err.message).toMatch(/video embedded in the Motion Photo .* is truncated/);
    expect(fs.existsSync(out) ? fs.readdirSync(out) : []).toEqual([]);
  });

  it('the Motion Photo source still keeps an Exif written by ExifTool in little-endian order (Samsung style)', async () => {
    // a JPEG with no Exif yet: ExifTool creates the block in the byte order asked for
    const le = path.join(dir, 'le.jpg');
    fs.copyFileSync(path.join(dir, 'raw.jpg'), le);
    await exiftool().write(
      le,
      { ExifByteOrder: 'Little-endian', Make: 'samsung', Model: 'SM-S911B', GPSLatitude: 48.8584, GPSLatitudeRef: 'N', GPSLongitude: 2.2945, GPSLongitudeRef: 'E' } as never,
      { writeArgs: ['-overwrite_original'] },
    );
    const src = path.join(dir, 'samsung-le.jpg');
    const leBytes = fs.readFileSync(le);
    fs.writeFileSync(src, samsungMotionPhoto(leBytes, mp4));
    const result = await convertToLivePhoto({ source: src, outputDir: path.join(dir, 'out-le'), baseName: 'LE' });
    const s = await readAllTags(result.stillPath);
    expect(s['Apple:ContentIdentifier']).toBe(result.contentIdentifier);
    expect(s['IFD0:Make']).toBe('samsung');
    expect(s['File:ExifByteOrder']).toBe('II');
    expect(s['GPS:GPSLatitude']).toBeCloseTo(48.8584, 5);
    expect(imageData(fs.readFileSync(result.stillPath)).equals(imageData(leBytes))).toBe(true);
    expect((await inspectLivePhoto(result.stillPath, result.moviePath)).valid).toBe(true);
  });
});
