import { LivePhotoError } from '@vid2live/errors';
import {
  asciiEntry,
  encodeIfd,
  IfdEntryInput,
  long8Entry,
  readIfd,
  slongEntry,
  TiffByteOrder,
  TiffEntry,
  TiffReader,
} from './tiff-ifd';

/** "Apple iOS\0" — the MakerNote signature ExifTool and ImageIO look for. */
export const APPLE_MAKER_NOTE_SIGNATURE = Buffer.from('Apple iOS\0', 'latin1');

/** Apple MakerNote tags a Live Photo writer cares about (live-photo-format.md §2.2). */
export const AppleMakerNoteTag = {
  MakerNoteVersion: 0x0001,
  /** ImageIO `MakerApple["17"]`: the Live Photo content identifier. */
  ContentIdentifier: 0x0011,
  ImageCaptureType: 0x0014,
  LivePhotoVideoIndex: 0x0017,
  PhotoIdentifier: 0x002b,
} as const;

/** Constant every genuine iPhone Live Photo carries in tag 0x0017 (0x0000000200502024). */
export const LIVE_PHOTO_VIDEO_INDEX = 8595185700n;

const CONTENT_IDENTIFIER_PATTERN = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
/** 10-byte signature + u16 version + "MM": the IFD (entry count) starts here. */
const IFD_START = 14;

export function isContentIdentifier(id: string): boolean {
  return CONTENT_IDENTIFIER_PATTERN.test(id);
}

export interface AppleMakerNoteOptions {
  /** tag 0x0001; iOS 26 writes 16, iOS 18 writes 15 */
  version?: number;
  /** tag 0x0014; 12 on every genuine Live Photo */
  imageCaptureType?: number;
  /** tag 0x0017 (type 16 LONG8); null leaves the tag out (do so when IFD0 Make is not "Apple", pitfall P5) */
  livePhotoVideoIndex?: bigint | null;
}

/**
 * Build the big-endian Apple MakerNote carrying the Live Photo content identifier (§2.1). Offsets count from
 * the MakerNote's first byte, so the blob can be dropped unchanged into any Exif block as tag 0x927C.
 */
export function buildAppleMakerNote(contentIdentifier: string, options: AppleMakerNoteOptions = {}): Buffer {
  const { version = 16, imageCaptureType = 12, livePhotoVideoIndex = LIVE_PHOTO_VIDEO_INDEX } = options;
  if (!isContentIdentifier(contentIdentifier)) {
    // Consumers compare the identifier byte-for-byte (immich: exact SQL equality), so never write a variant.
    throw new LivePhotoError(
      'METADATA_WRITE_FAILED',
      `content identifier must be an upper-case UUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX), got "${contentIdentifier}"`,
      { contentIdentifier },
    );
  }
  const entries: IfdEntryInput[] = [
    slongEntry(AppleMakerNoteTag.MakerNoteVersion, version),
    asciiEntry(AppleMakerNoteTag.ContentIdentifier, contentIdentifier),
    slongEntry(AppleMakerNoteTag.ImageCaptureType, imageCaptureType),
  ];
  if (livePhotoVideoIndex !== null) entries.push(long8Entry(AppleMakerNoteTag.LivePhotoVideoIndex, livePhotoVideoIndex));
  const header = Buffer.concat([APPLE_MAKER_NOTE_SIGNATURE, Buffer.from([0x00, 0x01]), Buffer.from('MM', 'latin1')]);
  return Buffer.concat([header, encodeIfd(entries, IFD_START)]);
}

export interface AppleMakerNote {
  /** the u16 after the signature (1 on every iPhone) */
  version: number;
  byteOrder: TiffByteOrder;
  entries: TiffEntry[];
  /** tag 0x0011, or null when absent (then the still is not a Live Photo still) */
  contentIdentifier: string | null;
  /** tag 0x0001 (15 on iOS 18, 16 on iOS 26) */
  makerNoteVersion: number | null;
  /** tag 0x0014 */
  imageCaptureType: number | null;
  /** tag 0x0017 */
  livePhotoVideoIndex: bigint | null;
}

export function isAppleMakerNote(buf: Buffer): boolean {
  return buf.length >= IFD_START && buf.subarray(0, APPLE_MAKER_NOTE_SIGNATURE.length).equals(APPLE_MAKER_NOTE_SIGNATURE);
}

/** Parse an Apple MakerNote blob (the value of Exif tag 0x927C); offsets are relative to its first byte. */
export function parseAppleMakerNote(buf: Buffer): AppleMakerNote {
  if (!isAppleMakerNote(buf)) {
    throw new LivePhotoError('INVALID_CONTAINER', 'not an Apple MakerNote (no "Apple iOS\\0" signature)');
  }
  const version = buf.readUInt16BE(10);
  const order = buf.subarray(12, 14).toString('latin1');
  if (order !== 'MM' && order !== 'II') {
    throw new LivePhotoError('INVALID_CONTAINER', `Apple MakerNote has an unknown byte order "${order}"`);
  }
  const reader: TiffReader = { buf, littleEndian: order === 'II' };
  const { entries } = readIfd(reader, IFD_START);
  const find = (tag: number) => entries.find((e) => e.tag === tag)?.value;
  const id = find(AppleMakerNoteTag.ContentIdentifier);
  const ver = find(AppleMakerNoteTag.MakerNoteVersion);
  const capture = find(AppleMakerNoteTag.ImageCaptureType);
  const index = find(AppleMakerNoteTag.LivePhotoVideoIndex);
  return {
    version,
    byteOrder: order,
    entries,
    contentIdentifier: typeof id === 'string' ? id : null,
    makerNoteVersion: typeof ver === 'number' ? ver : null,
    imageCaptureType: typeof capture === 'number' ? capture : null,
    livePhotoVideoIndex: typeof index === 'bigint' ? index : typeof index === 'number' ? BigInt(index) : null,
  };
}
