import { LivePhotoError } from '@vid2live/errors';
import { buildAppleMakerNote } from './apple-maker-note';
import { buildExifTiff, ExifTag, GpsTag, gpsPositionOf, parseExifTiff } from './tiff';

const ID = '0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D';

describe('buildExifTiff', () => {
  const makerNote = buildAppleMakerNote(ID);

  it('writes a big-endian TIFF with IFD0, Exif IFD and GPS IFD, entries sorted and values word-aligned', () => {
    const tiff = buildExifTiff({
      model: 'iPhone 15 Plus',
      software: 'vid2live',
      dateTimeOriginal: '2025:01:01 11:06:47',
      offsetTimeOriginal: '+09:00',
      gps: { latitude: 35.681236, longitude: 139.767125, altitude: 40.5 },
      makerNote,
      imageWidth: 1920,
      imageHeight: 1440,
    });
    expect(tiff.subarray(0, 8).toString('hex')).toBe('4d4d002a00000008');

    const parsed = parseExifTiff(tiff);
    expect(parsed.byteOrder).toBe('MM');
    expect(parsed.ifd0.get(ExifTag.Make)).toBe('Apple');
    expect(parsed.ifd0.get(ExifTag.Model)).toBe('iPhone 15 Plus');
    expect(parsed.ifd0.get(ExifTag.Software)).toBe('vid2live');
    expect(parsed.ifd0.get(ExifTag.Orientation)).toBe(1);
    expect(parsed.exif.get(ExifTag.ExifVersion)).toEqual(Buffer.from('0232'));
    expect(parsed.exif.get(ExifTag.DateTimeOriginal)).toBe('2025:01:01 11:06:47');
    expect(parsed.exif.get(ExifTag.CreateDate)).toBe('2025:01:01 11:06:47');
    expect(parsed.exif.get(ExifTag.OffsetTimeOriginal)).toBe('+09:00');
    expect(parsed.exif.get(ExifTag.ColorSpace)).toBe(1);
    expect(parsed.exif.get(ExifTag.PixelXDimension)).toBe(1920);
    expect(parsed.exif.get(ExifTag.PixelYDimension)).toBe(1440);
    expect(parsed.exif.get(ExifTag.MakerNote)).toEqual(makerNote);
    expect(parsed.makerNote?.contentIdentifier).toBe(ID);
    expect(parsed.gps.get(GpsTag.GPSVersionID)).toEqual([2, 3, 0, 0]);
    expect(parsed.gps.get(GpsTag.GPSLatitudeRef)).toBe('N');
    expect(parsed.gps.get(GpsTag.GPSLongitudeRef)).toBe('E');
    expect(parsed.gps.get(GpsTag.GPSAltitudeRef)).toBe(0);
    const gps = gpsPositionOf(parsed)!;
    expect(Math.abs(gps.latitude - 35.681236)).toBeLessThan(1e-9);
    expect(Math.abs(gps.longitude - 139.767125)).toBeLessThan(1e-9);
    expect(gps.altitude).toBeCloseTo(40.5, 6);

    // Every IFD must start on a word boundary and list its tags in ascending order.
    for (const pointer of [ExifTag.ExifIFDPointer, ExifTag.GPSInfoPointer]) {
      const at = parsed.ifd0.get(pointer) as number;
      expect(at % 2).toBe(0);
      const n = tiff.readUInt16BE(at);
      const tags = Array.from({ length: n }, (_, i) => tiff.readUInt16BE(at + 2 + i * 12));
      expect(tags).toEqual([...tags].sort((a, b) => a - b));
      for (let i = 0; i < n; i++) {
        const e = at + 2 + i * 12;
        const type = tiff.readUInt16BE(e + 2);
        const count = tiff.readUInt32BE(e + 4);
        const size = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1 }[type as 1]! * count;
        if (size > 4) expect(tiff.readUInt32BE(e + 8) % 2).toBe(0);
      }
    }
  });

  it('maps negative latitude/longitude/altitude to S/W refs and below-sea-level', () => {
    const parsed = parseExifTiff(buildExifTiff({ makerNote, gps: { latitude: -33.8567844, longitude: -70.6482933, altitude: -12.25 } }));
    expect(parsed.gps.get(GpsTag.GPSLatitudeRef)).toBe('S');
    expect(parsed.gps.get(GpsTag.GPSLongitudeRef)).toBe('W');
    expect(parsed.gps.get(GpsTag.GPSAltitudeRef)).toBe(1);
    const gps = gpsPositionOf(parsed)!;
    expect(Math.abs(gps.latitude + 33.8567844)).toBeLessThan(1e-9);
    expect(Math.abs(gps.longitude + 70.6482933)).toBeLessThan(1e-9);
    expect(gps.altitude).toBeCloseTo(-12.25, 6);
  });

  it('carries seconds that round up to 60 into the minutes', () => {
    // 10.9999999999° rounds to 11°00'00" rather than 10°59'60"
    const parsed = parseExifTiff(buildExifTiff({ makerNote, gps: { latitude: 10.99999999999, longitude: 0 } }));
    expect(parsed.gps.get(GpsTag.GPSLatitude)).toEqual([11, 0, 0]);
  });

  it('omits GPS and dates when not given', () => {
    const parsed = parseExifTiff(buildExifTiff({ makerNote }));
    expect(parsed.ifd0.has(ExifTag.GPSInfoPointer)).toBe(false);
    expect(parsed.gps.size).toBe(0);
    expect(parsed.exif.has(ExifTag.DateTimeOriginal)).toBe(false);
    expect([...parsed.ifd0.keys()]).toEqual([ExifTag.Make, ExifTag.Orientation, ExifTag.ExifIFDPointer]);
  });

  it('omits the MakerNote when none is given (the Motion Photo must not claim a content identifier)', () => {
    const parsed = parseExifTiff(
      buildExifTiff({ dateTimeOriginal: '2016:05:31 13:01:35', offsetTimeOriginal: '-04:00', gps: { latitude: 40.68, longitude: -74.5 } }),
    );
    expect(parsed.exif.has(ExifTag.MakerNote)).toBe(false);
    expect(parsed.makerNote).toBeUndefined();
    expect(parsed.exif.get(ExifTag.DateTimeOriginal)).toBe('2016:05:31 13:01:35');
    expect(parsed.exif.get(ExifTag.OffsetTimeOriginal)).toBe('-04:00');
    expect(gpsPositionOf(parsed)!.longitude).toBeCloseTo(-74.5, 6);
  });

  it.each([
    [{ dateTimeOriginal: '2025-01-01T11:06:47' }, 'dateTimeOriginal'],
    [{ offsetTimeOriginal: '+0900' }, 'offsetTimeOriginal'],
    [{ gps: { latitude: 91, longitude: 0 } }, 'gps.latitude'],
    [{ gps: { latitude: 0, longitude: NaN } }, 'gps.longitude'],
    [{ orientation: 9 }, 'orientation'],
  ])('refuses invalid %j', (bad, field) => {
    try {
      buildExifTiff({ makerNote, ...bad });
      throw new Error('expected a LivePhotoError');
    } catch (e) {
      expect(e).toBeInstanceOf(LivePhotoError);
      expect((e as LivePhotoError).code).toBe('METADATA_WRITE_FAILED');
      expect((e as LivePhotoError).details?.field).toBe(field);
    }
  });
});

describe('parseExifTiff', () => {
  it('reads a little-endian (II) TIFF', () => {
    // Hand-laid II TIFF: IFD0 {Make "Foo", Orientation 6, ExifIFD →} ; ExifIFD {DateTimeOriginal}
    const b = Buffer.alloc(8 + 2 + 3 * 12 + 4 + 4 + 2 + 12 + 4 + 20);
    b.write('II', 0, 'latin1');
    b.writeUInt16LE(42, 2);
    b.writeUInt32LE(8, 4);
    let p = 8;
    b.writeUInt16LE(3, p);
    const entry = (at: number, tag: number, type: number, count: number, value: number) => {
      b.writeUInt16LE(tag, at);
      b.writeUInt16LE(type, at + 2);
      b.writeUInt32LE(count, at + 4);
      b.writeUInt32LE(value, at + 8);
    };
    const exifAt = 8 + 2 + 36 + 4 + 4;
    entry(p + 2, 0x010f, 2, 4, 0);
    b.write('Foo\0', p + 2 + 8, 'latin1');
    entry(p + 14, 0x0112, 3, 1, 6);
    entry(p + 26, 0x8769, 4, 1, exifAt);
    p = exifAt;
    b.writeUInt16LE(1, p);
    entry(p + 2, 0x9003, 2, 20, p + 2 + 12 + 4);
    b.write('2024:02:29 23:59:58\0', p + 18, 'latin1');

    const parsed = parseExifTiff(b);
    expect(parsed.byteOrder).toBe('II');
    expect(parsed.ifd0.get(ExifTag.Make)).toBe('Foo');
    expect(parsed.ifd0.get(ExifTag.Orientation)).toBe(6);
    expect(parsed.exif.get(ExifTag.DateTimeOriginal)).toBe('2024:02:29 23:59:58');
    expect(parsed.makerNote).toBeUndefined();
  });

  it('rejects a block that is not TIFF', () => {
    expect(() => parseExifTiff(Buffer.from('XX\0*\0\0\0\x08'))).toThrow(/byte order/);
    expect(() => parseExifTiff(Buffer.from('MM\0\x2b\0\0\0\x08'))).toThrow(/42/);
  });
});
