import { LivePhotoError } from '@vid2live/errors';
import { parseExifTiff, ParsedExifTiff } from './tiff';

/** "Exif\0\0": the APP1 identifier preceding the TIFF block. */
export const EXIF_APP1_IDENTIFIER = Buffer.from('Exif\0\0', 'latin1');
/** The standard XMP APP1 identifier. */
export const XMP_APP1_IDENTIFIER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
/** Extended-XMP chunks are tied to one main packet by its GUID. */
export const EXTENDED_XMP_APP1_IDENTIFIER = Buffer.from('http://ns.adobe.com/xmp/extension/\0', 'latin1');
/** A marker segment's length field counts itself, so the payload is at most 65535 − 2 bytes. */
export const MAX_APP_PAYLOAD = 65533;

export const JpegMarker = {
  SOI: 0xd8,
  EOI: 0xd9,
  SOS: 0xda,
  APP0: 0xe0,
  APP1: 0xe1,
} as const;

export interface JpegSegment {
  /** second marker byte, e.g. 0xE1 for APP1 */
  marker: number;
  /** offset of the 0xFF marker byte */
  offset: number;
  /** whole segment: marker (2) + length field (2) + payload; 2 for markers without a length */
  length: number;
  payloadOffset: number;
  payloadLength: number;
}

const STANDALONE = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

function assertSoi(jpeg: Buffer): void {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== JpegMarker.SOI) {
    throw new LivePhotoError('INVALID_CONTAINER', 'not a JPEG (no SOI marker)');
  }
}

/**
 * One step of the JPEG marker walk, the core every segment walker uses (`listJpegSegments`, `findJpegEnd`,
 * `readJpegHeader`, the Motion Photo XMP reader, `inspect`'s frame size): what stands at `pos` of `jpeg[0, end)`.
 * - `not-a-marker`: no 0xFF at `pos`;
 * - `cut-off`: the bytes end inside the fill bytes, before the marker byte;
 * - `marker`: a marker at `offset` (after any 0xFF fill bytes). SOI, EOI, TEM and RSTn have no length and give a
 *   2-byte `segment`; any other marker's length field is read: `problem` is `no-length` when it is cut off,
 *   `bad-length` when it is below 2, `overruns` when the segment runs past `end`, else null.
 * `need` (not-a-marker excepted) is how many bytes from 0 would let the step go further, for readers that grow
 * their buffer (`readJpegHeader`).
 */
export type JpegStep =
  | { kind: 'not-a-marker'; at: number }
  | { kind: 'cut-off'; need: number }
  | { kind: 'marker'; marker: number; offset: number; segment: JpegSegment | null; problem: 'no-length' | 'bad-length' | 'overruns' | null; need: number };

export function jpegMarkerAt(jpeg: Buffer, pos: number, end = jpeg.length): JpegStep {
  if (pos >= end || jpeg[pos] !== 0xff) return pos >= end ? { kind: 'cut-off', need: pos + 1 } : { kind: 'not-a-marker', at: pos };
  let m = pos + 1;
  while (m < end && jpeg[m] === 0xff) m++; // fill bytes
  if (m >= end) return { kind: 'cut-off', need: m + 1 };
  const marker = jpeg[m];
  const offset = m - 1;
  if (STANDALONE(marker) || marker === JpegMarker.SOI || marker === JpegMarker.EOI) {
    return { kind: 'marker', marker, offset, problem: null, need: offset + 2, segment: { marker, offset, length: 2, payloadOffset: offset + 2, payloadLength: 0 } };
  }
  if (offset + 4 > end) return { kind: 'marker', marker, offset, segment: null, problem: 'no-length', need: offset + 4 };
  const fieldLength = jpeg.readUInt16BE(offset + 2);
  const segment = { marker, offset, length: 2 + fieldLength, payloadOffset: offset + 4, payloadLength: Math.max(0, fieldLength - 2) };
  const problem = fieldLength < 2 ? 'bad-length' : offset + 2 + fieldLength > end ? 'overruns' : null;
  return { kind: 'marker', marker, offset, segment, problem, need: offset + 2 + fieldLength };
}

const hex = (marker: number) => marker.toString(16).toUpperCase();

/**
 * The marker segments between SOI and the first SOS (the header, where APPn live). The SOS segment itself is
 * included last; what follows it is entropy-coded data, not segments.
 */
export function listJpegSegments(jpeg: Buffer): JpegSegment[] {
  assertSoi(jpeg);
  const segments: JpegSegment[] = [];
  let pos = 2;
  for (;;) {
    if (pos >= jpeg.length) throw new LivePhotoError('INVALID_CONTAINER', 'JPEG ends before its first SOS segment');
    const step = jpegMarkerAt(jpeg, pos);
    if (step.kind === 'not-a-marker') throw new LivePhotoError('INVALID_CONTAINER', `JPEG marker expected at byte ${pos}`);
    if (step.kind === 'cut-off') throw new LivePhotoError('INVALID_CONTAINER', 'JPEG truncated inside a marker');
    const { marker, offset } = step;
    if (marker === JpegMarker.EOI || marker === JpegMarker.SOI) {
      throw new LivePhotoError('INVALID_CONTAINER', `unexpected JPEG marker FF${hex(marker)} before SOS`);
    }
    if (step.problem === 'no-length') throw new LivePhotoError('INVALID_CONTAINER', 'JPEG truncated inside a segment header');
    if (step.problem !== null || !step.segment) {
      throw new LivePhotoError('INVALID_CONTAINER', `JPEG segment FF${hex(marker)} at ${offset} overruns the file`);
    }
    segments.push(step.segment);
    pos = offset + step.segment.length;
    if (marker === JpegMarker.SOS) return segments;
  }
}

const payloadOf = (jpeg: Buffer, s: JpegSegment) => jpeg.subarray(s.payloadOffset, s.payloadOffset + s.payloadLength);
const startsWith = (b: Buffer, prefix: Buffer) => b.length >= prefix.length && b.subarray(0, prefix.length).equals(prefix);

export function isExifApp1(jpeg: Buffer, s: JpegSegment): boolean {
  // Some writers pad the identifier with 0xFF instead of 0x00; "Exif\0" identifies it either way.
  return s.marker === JpegMarker.APP1 && startsWith(payloadOf(jpeg, s), EXIF_APP1_IDENTIFIER.subarray(0, 5));
}

export function isXmpApp1(jpeg: Buffer, s: JpegSegment): boolean {
  return s.marker === JpegMarker.APP1 && startsWith(payloadOf(jpeg, s), XMP_APP1_IDENTIFIER);
}

export function isExtendedXmpApp1(jpeg: Buffer, s: JpegSegment): boolean {
  return s.marker === JpegMarker.APP1 && startsWith(payloadOf(jpeg, s), EXTENDED_XMP_APP1_IDENTIFIER);
}

/** JFIF APP0 and its JFXX extension, which must stay together at the front. */
function isJfifApp0(jpeg: Buffer, s: JpegSegment): boolean {
  const payload = payloadOf(jpeg, s);
  return s.marker === JpegMarker.APP0 && (startsWith(payload, Buffer.from('JFIF\0', 'latin1')) || startsWith(payload, Buffer.from('JFXX\0', 'latin1')));
}

/** An APPn segment with the given payload; throws when it cannot fit a segment. */
export function appSegment(marker: number, payload: Buffer): Buffer {
  if (payload.length > MAX_APP_PAYLOAD) {
    throw new LivePhotoError(
      'METADATA_WRITE_FAILED',
      `APP${marker - JpegMarker.APP0} payload is ${payload.length} bytes; a JPEG segment holds at most ${MAX_APP_PAYLOAD}`,
    );
  }
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/**
 * Rebuild the JPEG header as: SOI, the JFIF APP0 (if any), the given new segments, then every other original
 * header segment except those `drop` rejects; the image data from SOS on is copied unchanged.
 */
export function rebuildJpegHeader(
  jpeg: Buffer,
  insert: { afterJfif?: Buffer[]; afterExif?: Buffer[] },
  drop: (s: JpegSegment) => boolean,
): Buffer {
  const segments = listJpegSegments(jpeg);
  const sos = segments[segments.length - 1];
  const jfif = segments.filter((s) => isJfifApp0(jpeg, s));
  const exif = segments.find((s) => isExifApp1(jpeg, s) && !drop(s));
  const out: Buffer[] = [jpeg.subarray(0, 2)];
  for (const s of jfif) out.push(jpeg.subarray(s.offset, s.offset + s.length));
  out.push(...(insert.afterJfif ?? []));
  if (exif) out.push(jpeg.subarray(exif.offset, exif.offset + exif.length));
  // With no Exif APP1 to follow, segments meant to come after it go right after the JFIF position.
  out.push(...(insert.afterExif ?? []));
  for (const s of segments) {
    if (s === sos || jfif.includes(s) || s === exif || drop(s)) continue;
    out.push(jpeg.subarray(s.offset, s.offset + s.length));
  }
  out.push(jpeg.subarray(sos.offset));
  return Buffer.concat(out);
}

/**
 * Put `tiff` into the JPEG as its only Exif APP1 (live-photo-format.md §2.3): SOI, JFIF APP0 kept first, then
 * the Exif APP1, then every other segment (XMP, ICC, …) and the image data unchanged. Existing Exif APP1s are
 * removed: two Exif blocks make readers disagree on which identifier counts.
 */
export function writeJpegExif(jpeg: Buffer, tiff: Buffer): Buffer {
  const app1 = appSegment(JpegMarker.APP1, Buffer.concat([EXIF_APP1_IDENTIFIER, tiff]));
  return rebuildJpegHeader(jpeg, { afterJfif: [app1] }, (s) => isExifApp1(jpeg, s));
}

export interface JpegExif {
  exifApp1Count: number;
  /** the first Exif APP1's TIFF block, parsed */
  tiff: ParsedExifTiff | null;
  /** raw TIFF bytes of the first Exif APP1 */
  tiffBytes: Buffer | null;
}

export function readJpegExif(jpeg: Buffer): JpegExif {
  const exifSegments = listJpegSegments(jpeg).filter((s) => isExifApp1(jpeg, s));
  if (exifSegments.length === 0) return { exifApp1Count: 0, tiff: null, tiffBytes: null };
  const first = exifSegments[0];
  const tiffBytes = Buffer.from(payloadOf(jpeg, first).subarray(EXIF_APP1_IDENTIFIER.length));
  return { exifApp1Count: exifSegments.length, tiff: parseExifTiff(tiffBytes), tiffBytes };
}

/**
 * Offset just past the EOI marker, found by walking segments and skipping entropy-coded data (0xFF00 stuffing,
 * RSTn); handles progressive files with several scans. Anything after it is a trailer (e.g. Motion Photo video).
 */
export function findJpegEnd(jpeg: Buffer): number {
  assertSoi(jpeg);
  let pos = 2;
  while (pos < jpeg.length) {
    const step = jpegMarkerAt(jpeg, pos);
    if (step.kind === 'not-a-marker') throw new LivePhotoError('INVALID_CONTAINER', `JPEG marker expected at byte ${pos}`);
    if (step.kind === 'cut-off' || step.problem === 'no-length' || !step.segment) break;
    if (step.problem === 'bad-length') throw new LivePhotoError('INVALID_CONTAINER', `JPEG segment FF${hex(step.marker)} at ${step.offset} has length ${step.segment.length - 2}`);
    if (step.marker === JpegMarker.EOI) return step.offset + 2;
    pos = step.offset + step.segment.length;
    if (step.marker === JpegMarker.SOS) {
      // Entropy-coded data runs until a marker that is neither a stuffed 0xFF00 nor a restart marker.
      while (pos + 1 < jpeg.length) {
        if (jpeg[pos] === 0xff) {
          const next = jpeg[pos + 1];
          if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
        }
        pos++;
      }
      if (pos + 1 >= jpeg.length) break;
    }
  }
  throw new LivePhotoError('INVALID_CONTAINER', 'JPEG has no EOI marker');
}

/** Header segments (APPn, DQT, SOF, …) of a JPEG on disk may take this much at most; more is INVALID_CONTAINER. */
export const MAX_JPEG_HEADER_BYTES = 16 * 1024 * 1024;
const JPEG_READ_CHUNK = 64 * 1024;

/**
 * The header of a JPEG on disk: SOI up to and including its first SOS segment, read in chunks by offset (the
 * entropy-coded data and any trailer, such as a Motion Photo's video, are never read). Stops early at EOI, at
 * the end of the file or at bytes that are not a marker, returning what it has, so the in-memory readers
 * (`listJpegSegments`, `readJpegExif`) report the damage as they would on the whole file. A header over
 * `maxHeaderBytes` is INVALID_CONTAINER; so is a file that does not start with SOI.
 */
export async function readJpegHeader(
  handle: { read: (buf: Buffer, offset: number, length: number, position: number) => Promise<{ bytesRead: number }> },
  fileSize: number,
  maxHeaderBytes = MAX_JPEG_HEADER_BYTES,
): Promise<Buffer> {
  let buf = Buffer.alloc(Math.min(fileSize, maxHeaderBytes, JPEG_READ_CHUNK));
  let have = 0;
  const limit = Math.min(fileSize, maxHeaderBytes);
  /** make at least `n` bytes available, unless the file (or the header budget) ends first */
  const ensure = async (n: number): Promise<void> => {
    if (n > maxHeaderBytes && fileSize > maxHeaderBytes) {
      throw new LivePhotoError('INVALID_CONTAINER', `the JPEG header is larger than ${maxHeaderBytes} B`, { maxHeaderBytes });
    }
    while (have < n && have < limit) {
      if (have === buf.length) {
        const grown = Buffer.alloc(Math.min(limit, Math.max(buf.length * 2, n)));
        buf.copy(grown, 0, 0, have);
        buf = grown;
      }
      const { bytesRead } = await handle.read(buf, have, buf.length - have, have);
      if (bytesRead === 0) break;
      have += bytesRead;
    }
  };
  await ensure(4);
  if (have < 4 || buf[0] !== 0xff || buf[1] !== JpegMarker.SOI) throw new LivePhotoError('INVALID_CONTAINER', 'not a JPEG (no SOI marker)');
  let pos = 2;
  for (;;) {
    if (pos + 4 > have) await ensure(pos + 4);
    if (pos >= have || buf[pos] !== 0xff) return buf.subarray(0, Math.min(have, pos + 1));
    let step = jpegMarkerAt(buf, pos, have);
    // Grow the buffer until the step has what it needs or the file (or the header budget) ends.
    while (step.kind !== 'not-a-marker' && (step.kind === 'cut-off' || step.problem === 'no-length' || step.problem === 'overruns') && step.need > have) {
      const before = have;
      await ensure(step.need);
      if (have === before) break;
      step = jpegMarkerAt(buf, pos, have);
    }
    if (step.kind !== 'marker') return buf.subarray(0, have);
    const { marker, offset, segment } = step;
    if (marker === JpegMarker.EOI || marker === JpegMarker.SOI) return buf.subarray(0, offset + 2);
    if (step.problem === 'bad-length') return buf.subarray(0, offset + 4);
    if (step.problem !== null || !segment) return buf.subarray(0, have);
    if (marker === JpegMarker.SOS) return buf.subarray(0, offset + segment.length);
    pos = offset + segment.length;
  }
}
