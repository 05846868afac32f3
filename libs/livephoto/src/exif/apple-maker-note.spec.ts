import * as fs from 'node:fs';
import { LivePhotoError } from '@vid2live/errors';
import { IPHONE_CONTENT_IDENTIFIER, IPHONE_HEIC } from '../testing/fixtures';
import {
  AppleMakerNoteTag,
  buildAppleMakerNote,
  isContentIdentifier,
  LIVE_PHOTO_VIDEO_INDEX,
  parseAppleMakerNote,
} from './apple-maker-note';
import { TiffType } from './tiff-ifd';

const GOLDEN_ID = '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6';
/** live-photo-format.md Appendix A.1 */
const GOLDEN_HEX = `
41 70 70 6c 65 20 69 4f 53 00 00 01 4d 4d 00 04
00 01 00 09 00 00 00 01 00 00 00 10 00 11 00 02
00 00 00 25 00 00 00 44 00 14 00 09 00 00 00 01
00 00 00 0c 00 17 00 10 00 00 00 01 00 00 00 6a
00 00 00 00 38 46 32 41 33 43 34 44 2d 31 42 32
43 2d 34 44 35 45 2d 38 46 39 30 2d 41 31 42 32
43 33 44 34 45 35 46 36 00 00 00 00 00 02 00 50
20 24`;
const golden = Buffer.from(GOLDEN_HEX.replace(/\s+/g, ''), 'hex');

describe('buildAppleMakerNote', () => {
  it('is byte-exact with the golden MakerNote of Appendix A.1', () => {
    const note = buildAppleMakerNote(GOLDEN_ID);
    expect(note.length).toBe(114);
    expect(note.toString('hex')).toBe(golden.toString('hex'));
  });

  it.each(['8f2a3c4d-1b2c-4d5e-8f90-a1b2c3d4e5f6', '8F2A3C4D1B2C4D5E8F90A1B2C3D4E5F6', '', `${GOLDEN_ID}\0`])(
    'refuses a content identifier that is not an upper-case UUID: %j',
    (id) => {
      expect(() => buildAppleMakerNote(id)).toThrow(LivePhotoError);
      try {
        buildAppleMakerNote(id);
      } catch (e) {
        expect((e as LivePhotoError).code).toBe('METADATA_WRITE_FAILED');
      }
    },
  );

  it('leaves out the LONG8 tag 0x0017 when asked (for stills whose Make is not Apple, pitfall P5)', () => {
    const note = parseAppleMakerNote(buildAppleMakerNote(GOLDEN_ID, { livePhotoVideoIndex: null, version: 15 }));
    expect(note.entries.map((e) => e.tag)).toEqual([0x0001, 0x0011, 0x0014]);
    expect(note.entries.some((e) => e.type === TiffType.LONG8)).toBe(false);
    expect(note.makerNoteVersion).toBe(15);
    expect(note.contentIdentifier).toBe(GOLDEN_ID);
  });
});

describe('parseAppleMakerNote', () => {
  it('reads back the golden MakerNote', () => {
    const note = parseAppleMakerNote(golden);
    expect(note).toMatchObject({
      version: 1,
      byteOrder: 'MM',
      contentIdentifier: GOLDEN_ID,
      makerNoteVersion: 16,
      imageCaptureType: 12,
      livePhotoVideoIndex: LIVE_PHOTO_VIDEO_INDEX,
    });
    expect(note.entries.find((e) => e.tag === AppleMakerNoteTag.LivePhotoVideoIndex)).toEqual({
      tag: 0x17,
      type: TiffType.LONG8,
      count: 1,
      value: 8595185700n,
    });
  });

  it('parses the genuine 49-entry MakerNote of IMG_3853.HEIC', () => {
    // Located by signature here so this test does not depend on the HEIF reader (heif/ tests read it properly).
    const heic = fs.readFileSync(IPHONE_HEIC);
    const at = heic.indexOf(Buffer.from('Apple iOS\0', 'latin1'));
    expect(at).toBeGreaterThan(0);
    const note = parseAppleMakerNote(heic.subarray(at, at + 1675));
    expect(note.version).toBe(1);
    expect(note.byteOrder).toBe('MM');
    expect(note.entries).toHaveLength(49);
    expect(note.contentIdentifier).toBe(IPHONE_CONTENT_IDENTIFIER);
    expect(note.makerNoteVersion).toBe(15);
    expect(note.imageCaptureType).toBe(12);
    expect(note.livePhotoVideoIndex).toBe(8595185700n);
    expect(note.entries.find((e) => e.tag === AppleMakerNoteTag.PhotoIdentifier)?.value).toBe(
      'E5674AD5-E37A-4F39-BB7B-776478A8F6A1',
    );
    // Entries come sorted by tag on a genuine iPhone, as our writer emits them.
    const tags = note.entries.map((e) => e.tag);
    expect(tags).toEqual([...tags].sort((a, b) => a - b));
  });

  it('rejects a blob without the Apple signature and one whose offsets point outside it', () => {
    expect(() => parseAppleMakerNote(Buffer.from('Nikon\0\x02\x10\0\0MM\0*'))).toThrow(/Apple MakerNote/);
    expect(() => parseAppleMakerNote(golden.subarray(0, 80))).toThrow(LivePhotoError);
  });

  it('isContentIdentifier accepts only the canonical upper-case form', () => {
    expect(isContentIdentifier(GOLDEN_ID)).toBe(true);
    expect(isContentIdentifier(GOLDEN_ID.toLowerCase())).toBe(false);
  });
});
