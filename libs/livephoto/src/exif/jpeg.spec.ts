import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { LivePhotoError } from '@vid2live/errors';
import { buildAppleMakerNote } from './apple-maker-note';
import {
  appSegment,
  findJpegEnd,
  isExifApp1,
  isXmpApp1,
  JpegMarker,
  listJpegSegments,
  readJpegExif,
  writeJpegExif,
  XMP_APP1_IDENTIFIER,
} from './jpeg';
import { buildExifTiff, ExifTag } from './tiff';

const ID = 'C0FFEE00-1234-4ABC-9DEF-0123456789AB';

let dir: string;
let plainJpeg: Buffer;

/** exiftool-vendored turns dates into ExifDateTime objects; compare the string ExifTool printed. */
function rawValue(v: unknown): unknown {
  return v && typeof v === 'object' && 'rawValue' in v ? (v as { rawValue: unknown }).rawValue : v;
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

/** framemd5 of the decoded picture: equal hashes = identical pixels. */
function decodedFrameMd5(file: string): string {
  const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'framemd5', '-']).toString();
  const lines = out.split('\n').filter((l) => l && !l.startsWith('#'));
  expect(lines).toHaveLength(1);
  return lines[0].split(',').pop()!.trim();
}

function write(name: string, data: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-jpeg-'));
  const file = path.join(dir, 'plain.jpg');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1', '-q:v', '2', file]);
  plainJpeg = fs.readFileSync(file);
});

afterAll(async () => {
  await closeExifTool();
  fs.rmSync(dir, { recursive: true, force: true });
});

function liveTiff(gps = { latitude: -33.8567844, longitude: -70.6482933, altitude: 512.5 }): Buffer {
  return buildExifTiff({
    model: 'iPhone 15 Plus',
    dateTimeOriginal: '2025:01:01 11:06:47',
    offsetTimeOriginal: '+09:00',
    gps,
    makerNote: buildAppleMakerNote(ID),
    imageWidth: 640,
    imageHeight: 480,
  });
}

/** a JPEG that already has an Exif APP1 (as a camera or ffmpeg-with-metadata JPEG would) plus an XMP APP1 */
function jpegWithForeignExifAndXmp(): Buffer {
  const foreign = buildExifTiff({ make: 'samsung', model: 'SM-G991B', makerNote: Buffer.from('not apple') });
  const withExif = writeJpegExif(plainJpeg, foreign);
  const segments = listJpegSegments(withExif);
  const exif = segments.find((s) => isExifApp1(withExif, s))!;
  const xmp = appSegment(JpegMarker.APP1, Buffer.concat([XMP_APP1_IDENTIFIER, Buffer.from('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')]));
  // Put the XMP and a second (duplicate) Exif APP1 after the first one.
  const exifBytes = withExif.subarray(exif.offset, exif.offset + exif.length);
  return Buffer.concat([
    withExif.subarray(0, exif.offset + exif.length),
    xmp,
    exifBytes,
    withExif.subarray(exif.offset + exif.length),
  ]);
}

describe('writeJpegExif', () => {
  it('writes an Exif APP1 that ExifTool reads as a Live Photo still, without MakerNote warnings', async () => {
    const out = write('live.jpg', writeJpegExif(plainJpeg, liveTiff()));
    const tags = await readAllTags(out);
    expect(tags['Apple:ContentIdentifier']).toBe(ID);
    expect(tags['Apple:ImageCaptureType']).toBe(12);
    expect(tags['Apple:LivePhotoVideoIndex']).toBe(8595185700);
    expect(tags['IFD0:Make']).toBe('Apple');
    expect(tags['IFD0:Model']).toBe('iPhone 15 Plus');
    expect(tags['IFD0:Orientation']).toBe(1);
    expect(rawValue(tags['ExifIFD:DateTimeOriginal'])).toBe('2025:01:01 11:06:47');
    expect(rawValue(tags['ExifIFD:CreateDate'])).toBe('2025:01:01 11:06:47');
    expect(tags['ExifIFD:OffsetTimeOriginal']).toBe('+09:00');
    expect(tags['GPS:GPSLatitudeRef']).toBe('S');
    expect(tags['GPS:GPSLongitudeRef']).toBe('W');
    expect(Math.abs(Number(tags['GPS:GPSLatitude']) - 33.8567844)).toBeLessThan(1e-6);
    expect(Math.abs(Number(tags['GPS:GPSLongitude']) - 70.6482933)).toBeLessThan(1e-6);
    expect(Number(tags['GPS:GPSAltitude'])).toBeCloseTo(512.5, 3);
    expect(tags['File:ExifByteOrder']).toBe('MM');

    // exiftool-vendored gathers ExifTool:Warning into `warnings`; check both spellings.
    const warnings = Object.entries(tags)
      .filter(([k]) => /warning|error/i.test(k) && k !== 'GPS:GPSHPositioningError')
      .flatMap(([, v]) => (Array.isArray(v) ? v : [v]).map(String));
    expect(warnings.filter((w) => /maker ?note/i.test(w))).toEqual([]);
  });

  it('reads positive coordinates as N/E', async () => {
    const out = write('north-east.jpg', writeJpegExif(plainJpeg, liveTiff({ latitude: 35.681236, longitude: 139.767125, altitude: 0 })));
    const tags = await readAllTags(out);
    expect(tags['GPS:GPSLatitudeRef']).toBe('N');
    expect(tags['GPS:GPSLongitudeRef']).toBe('E');
    expect(Math.abs(Number(tags['GPS:GPSLatitude']) - 35.681236)).toBeLessThan(1e-6);
    expect(Math.abs(Number(tags['GPS:GPSLongitude']) - 139.767125)).toBeLessThan(1e-6);
  });

  it('leaves exactly one Exif APP1 (ours) when the input already had two, keeping XMP and the image data', async () => {
    const input = jpegWithForeignExifAndXmp();
    expect(readJpegExif(input).exifApp1Count).toBe(2);

    const output = writeJpegExif(input, liveTiff());
    const read = readJpegExif(output);
    expect(read.exifApp1Count).toBe(1);
    expect(read.tiff?.ifd0.get(ExifTag.Make)).toBe('Apple');
    expect(read.tiff?.makerNote?.contentIdentifier).toBe(ID);
    expect(listJpegSegments(output).filter((s) => isXmpApp1(output, s))).toHaveLength(1);

    const file = write('replaced.jpg', output);
    const tags = await readAllTags(file);
    expect(tags['IFD0:Make']).toBe('Apple');
    expect(tags['IFD0:Model']).toBe('iPhone 15 Plus');
    expect(tags['Apple:ContentIdentifier']).toBe(ID);
  });

  it('keeps the JFIF APP0 first, the Exif APP1 second and the pixels identical', () => {
    const output = writeJpegExif(plainJpeg, liveTiff());
    const segments = listJpegSegments(output);
    expect(segments[0].marker).toBe(JpegMarker.APP0);
    expect(output.subarray(segments[0].payloadOffset, segments[0].payloadOffset + 5).toString('latin1')).toBe('JFIF\0');
    expect(isExifApp1(output, segments[1])).toBe(true);
    // The scan data after the header is copied byte for byte.
    const inSos = listJpegSegments(plainJpeg).pop()!;
    const outSos = segments.pop()!;
    expect(output.subarray(outSos.offset).equals(plainJpeg.subarray(inSos.offset))).toBe(true);
    expect(decodedFrameMd5(write('pixels.jpg', output))).toBe(decodedFrameMd5(write('pixels-in.jpg', plainJpeg)));
  });

  it('refuses a TIFF that cannot fit one APP1 segment, and input that is not a JPEG', () => {
    expect(() => writeJpegExif(plainJpeg, Buffer.alloc(65528))).toThrow(/at most 65533/);
    expect(() => writeJpegExif(plainJpeg, Buffer.alloc(65527))).not.toThrow();
    try {
      writeJpegExif(Buffer.from('\x89PNG\r\n\x1a\n'), liveTiff());
      throw new Error('expected a LivePhotoError');
    } catch (e) {
      expect((e as LivePhotoError).code).toBe('INVALID_CONTAINER');
    }
  });
});

describe('readJpegExif / findJpegEnd', () => {
  it('reports no Exif for a plain ffmpeg JPEG', () => {
    expect(readJpegExif(plainJpeg)).toEqual({ exifApp1Count: 0, tiff: null, tiffBytes: null });
  });

  it('finds the end of the image before a trailer', () => {
    // The trailer deliberately contains an FF D9 pair of its own.
    const trailer = Buffer.from('\0\0\0\x18ftypisom trailer bytes \xff\xd9', 'latin1');
    for (const jpeg of [plainJpeg, writeJpegExif(plainJpeg, liveTiff())]) {
      expect(findJpegEnd(Buffer.concat([jpeg, trailer]))).toBe(jpeg.length);
    }
    expect(() => findJpegEnd(plainJpeg.subarray(0, plainJpeg.length - 2))).toThrow(/EOI/);
  });
});
