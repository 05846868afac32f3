import { LivePhotoError } from '@vid2live/errors';
import { EXIF_APP1_IDENTIFIER, MAX_APP_PAYLOAD } from './jpeg';
import { ExifTag } from './tiff';
import { TiffReader, TiffType, u16, u32 } from './tiff-ifd';

/** Room the TIFF block may take inside one Exif APP1 segment ("Exif\0\0" + TIFF ≤ 65533 bytes). */
export const MAX_EXIF_TIFF_BYTES = MAX_APP_PAYLOAD - EXIF_APP1_IDENTIFIER.length;

const ENTRY = 12;

/**
 * A camera's own Exif block with `makerNote` set as its Exif IFD's MakerNote (0x927C) — or, for `null`, with its
 * MakerNote removed — everything else kept
 * byte for byte: the original TIFF is left in place and only grows at its end. A new Exif IFD — the original
 * entries' 12-byte records copied unchanged (their value offsets still point into the untouched original),
 * minus any old MakerNote, plus the new one — and the MakerNote blob are appended, and IFD0's ExifIFDPointer is
 * rewritten to the new IFD (when IFD0 has no Exif IFD, a copy of IFD0 with the pointer added is appended too and
 * the header points to it). The makerNote must be position-independent (offsets from its own first byte, as
 * Apple's are). IFD1 (the thumbnail), GPS and interoperability IFDs are not touched.
 *
 * METADATA_WRITE_FAILED when the result would not fit one APP1 segment; INVALID_CONTAINER for a damaged TIFF.
 */
export function setExifMakerNote(tiff: Buffer, makerNote: Buffer | null): Buffer {
  if (tiff.length < 8) throw new LivePhotoError('INVALID_CONTAINER', 'TIFF block is shorter than its header');
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'MM' && order !== 'II') throw new LivePhotoError('INVALID_CONTAINER', `TIFF block has an unknown byte order "${order}"`);
  const r: TiffReader = { buf: tiff, littleEndian: order === 'II' };
  if (u16(r, 2) !== 42) throw new LivePhotoError('INVALID_CONTAINER', 'TIFF magic number is not 42');
  const w16 = (b: Buffer, v: number, at: number) => (r.littleEndian ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const w32 = (b: Buffer, v: number, at: number) => (r.littleEndian ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));

  /** raw 12-byte records of the IFD at `at`, and its next-IFD offset */
  const rawIfd = (at: number): { records: Buffer[]; next: number } => {
    const n = u16(r, at);
    if (at + 2 + n * ENTRY + 4 > tiff.length) throw new LivePhotoError('INVALID_CONTAINER', `TIFF IFD at ${at} overruns its block`);
    const records = Array.from({ length: n }, (_, i) => Buffer.from(tiff.subarray(at + 2 + i * ENTRY, at + 2 + (i + 1) * ENTRY)));
    return { records, next: u32(r, at + 2 + n * ENTRY) };
  };
  const tagOf = (rec: Buffer) => (r.littleEndian ? rec.readUInt16LE(0) : rec.readUInt16BE(0));
  const encode = (records: Buffer[], next: number): Buffer => {
    const sorted = [...records].sort((a, b) => tagOf(a) - tagOf(b));
    const out = Buffer.alloc(2 + sorted.length * ENTRY + 4);
    w16(out, sorted.length, 0);
    sorted.forEach((rec, i) => rec.copy(out, 2 + i * ENTRY));
    w32(out, next, 2 + sorted.length * ENTRY);
    return out;
  };
  const record = (tag: number, type: number, count: number, value: number): Buffer => {
    const rec = Buffer.alloc(ENTRY);
    w16(rec, tag, 0);
    w16(rec, type, 2);
    w32(rec, count, 4);
    w32(rec, value, 8);
    return rec;
  };

  const ifd0At = u32(r, 4);
  const ifd0 = rawIfd(ifd0At);
  const pointerIndex = ifd0.records.findIndex((rec) => tagOf(rec) === ExifTag.ExifIFDPointer);
  const exifIfd = pointerIndex >= 0 ? rawIfd(r.littleEndian ? ifd0.records[pointerIndex].readUInt32LE(8) : ifd0.records[pointerIndex].readUInt32BE(8)) : { records: [], next: 0 };

  // Appended parts start on an even offset (TIFF word alignment).
  let end = tiff.length + (tiff.length % 2);
  const newExifAt = end;
  const exifRecords = exifIfd.records.filter((rec) => tagOf(rec) !== ExifTag.MakerNote);
  const note = makerNote ?? Buffer.alloc(0);
  const exifLength = 2 + (exifRecords.length + (makerNote ? 1 : 0)) * ENTRY + 4;
  const makerNoteAt = newExifAt + exifLength;
  // null: the old MakerNote is dropped and none is added
  if (makerNote) exifRecords.push(record(ExifTag.MakerNote, TiffType.UNDEFINED, makerNote.length, makerNoteAt));
  end = makerNoteAt + note.length;
  const parts: Buffer[] = [encode(exifRecords, exifIfd.next), note];

  const head = Buffer.from(tiff);
  if (pointerIndex >= 0) {
    w32(head, newExifAt, ifd0At + 2 + pointerIndex * ENTRY + 8);
  } else {
    end += end % 2;
    const newIfd0At = end;
    const ifd0Bytes = encode([...ifd0.records, record(ExifTag.ExifIFDPointer, TiffType.LONG, 1, newExifAt)], ifd0.next);
    parts.push(Buffer.alloc(newIfd0At - (makerNoteAt + note.length)), ifd0Bytes);
    end = newIfd0At + ifd0Bytes.length;
    w32(head, newIfd0At, 4);
  }
  const out = Buffer.concat([head, Buffer.alloc(newExifAt - tiff.length), ...parts]);
  if (out.length !== end) throw new Error(`setExifMakerNote: layout mismatch (${out.length} ≠ ${end})`);
  if (out.length > MAX_EXIF_TIFF_BYTES) {
    throw new LivePhotoError(
      'METADATA_WRITE_FAILED',
      `the photo's Exif block with the MakerNote added is ${out.length} bytes; one Exif APP1 holds at most ${MAX_EXIF_TIFF_BYTES}`,
      { exifBytes: out.length },
    );
  }
  return out;
}
