import { setExifMakerNote, MAX_EXIF_TIFF_BYTES } from './add-maker-note';
import { buildAppleMakerNote } from './apple-maker-note';
import { buildExifTiff, ExifTag, parseExifTiff } from './tiff';

const A = '11111111-2222-4333-8444-555555555555';
const B = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';

describe('setExifMakerNote', () => {
  it('replaces a MakerNote and keeps every other field; the original bytes stay in place', () => {
    const original = buildExifTiff({ make: 'Google', model: 'Pixel 8', orientation: 8, dateTimeOriginal: '2024:01:02 03:04:05', offsetTimeOriginal: '-05:00', gps: { latitude: 1.5, longitude: -2.25 }, makerNote: buildAppleMakerNote(A) });
    const out = setExifMakerNote(original, buildAppleMakerNote(B, { livePhotoVideoIndex: null }));
    const before = parseExifTiff(original);
    const after = parseExifTiff(out);
    expect(after.makerNote?.contentIdentifier).toBe(B);
    expect(after.ifd0.get(ExifTag.Make)).toBe('Google');
    expect(after.ifd0.get(ExifTag.Orientation)).toBe(8);
    expect(after.exif.get(ExifTag.DateTimeOriginal)).toBe('2024:01:02 03:04:05');
    expect(after.exif.get(ExifTag.OffsetTimeOriginal)).toBe('-05:00');
    expect(after.gps).toEqual(before.gps);
    expect([...after.exif.keys()].filter((t) => t === ExifTag.MakerNote)).toHaveLength(1);
    // only IFD0's ExifIFDPointer value changed inside the original span
    const diff = [...original].map((b, i) => (b !== out[i] ? i : -1)).filter((i) => i >= 0);
    expect(diff.length).toBeLessThanOrEqual(4);
  });

  it('adds an Exif IFD to a TIFF whose IFD0 has none (little-endian)', () => {
    // II, IFD0 at 8 with one entry: Make (ASCII, 6 bytes at 26) = "Nokia\0"
    const tiff = Buffer.alloc(32);
    tiff.write('II', 0, 'latin1');
    tiff.writeUInt16LE(42, 2);
    tiff.writeUInt32LE(8, 4);
    tiff.writeUInt16LE(1, 8);
    tiff.writeUInt16LE(ExifTag.Make, 10);
    tiff.writeUInt16LE(2, 12);
    tiff.writeUInt32LE(6, 14);
    tiff.writeUInt32LE(26, 18);
    tiff.writeUInt32LE(0, 22);
    tiff.write('Nokia\0', 26, 'latin1');
    const after = parseExifTiff(setExifMakerNote(tiff, buildAppleMakerNote(A, { livePhotoVideoIndex: null })));
    expect(after.byteOrder).toBe('II');
    expect(after.ifd0.get(ExifTag.Make)).toBe('Nokia');
    expect(after.makerNote?.contentIdentifier).toBe(A);
  });

  it('refuses (METADATA_WRITE_FAILED) when the grown block would not fit one APP1, and a damaged TIFF (INVALID_CONTAINER)', () => {
    const big = Buffer.alloc(MAX_EXIF_TIFF_BYTES - 50);
    buildExifTiff({ make: 'X' }).copy(big);
    expect(() => setExifMakerNote(big, buildAppleMakerNote(A))).toThrow(expect.objectContaining({ code: 'METADATA_WRITE_FAILED' }));
    expect(() => setExifMakerNote(Buffer.from('XX\0*\0\0\0\x08'), buildAppleMakerNote(A))).toThrow(expect.objectContaining({ code: 'INVALID_CONTAINER' }));
  });
});
