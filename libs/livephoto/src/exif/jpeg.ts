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
 * The marker segments between SOI and the first SOS (the header, where APPn live). The SOS segment itself is
 * included last; what follows it is entropy-coded data, not segments.
 */
export function listJpegSegments(jpeg: Buffer): JpegSegment[] {
  assertSoi(jpeg);
  const segments: JpegSegment[] = [];
  let pos = 2;
  for (;;) {
    if (pos >= jpeg.length) throw new LivePhotoError('INVALID_CONTAINER', 'JPEG ends before its first SOS segment');
    if (jpeg[pos] !== 0xff) throw new LivePhotoError('INVALID_CONTAINER', `JPEG marker expected at byte ${pos}`);
    let m = pos + 1;
    while (m < jpeg.length && jpeg[m] === 0xff) m++; // fill bytes
    if (m >= jpeg.length) throw new LivePhotoError('INVALID_CONTAINER', 'JPEG truncated inside a marker');
    const marker = jpeg[m];
    const start = m - 1;
    if (STANDALONE(marker)) {
      segments.push({ marker, offset: start, length: 2, payloadOffset: start + 2, payloadLength: 0 });
      pos = start + 2;
      continue;
    }
    if (marker === JpegMarker.EOI || marker === JpegMarker.SOI) {
      throw new LivePhotoError('INVALID_CONTAINER', `unexpected JPEG marker FF${marker.toString(16).toUpperCase()} before SOS`);
    }
    if (start + 4 > jpeg.length) throw new LivePhotoError('INVALID_CONTAINER', 'JPEG truncated inside a segment header');
    const fieldLength = jpeg.readUInt16BE(start + 2);
    if (fieldLength < 2 || start + 2 + fieldLength > jpeg.length) {
      throw new LivePhotoError('INVALID_CONTAINER', `JPEG segment FF${marker.toString(16).toUpperCase()} at ${start} overruns the file`);
    }
    segments.push({ marker, offset: start, length: 2 + fieldLength, payloadOffset: start + 4, payloadLength: fieldLength - 2 });
    pos = start + 2 + fieldLength;
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
    if (jpeg[pos] !== 0xff) throw new LivePhotoError('INVALID_CONTAINER', `JPEG marker expected at byte ${pos}`);
    let m = pos + 1;
    while (m < jpeg.length && jpeg[m] === 0xff) m++;
    if (m >= jpeg.length) break;
    const marker = jpeg[m];
    if (marker === JpegMarker.EOI) return m + 1;
    if (STANDALONE(marker)) {
      pos = m + 1;
      continue;
    }
    if (m + 3 > jpeg.length) break;
    pos = m + 1 + jpeg.readUInt16BE(m + 1);
    if (marker === JpegMarker.SOS) {
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
    let m = pos + 1;
    for (;;) {
      if (m + 1 > have) await ensure(m + 1);
      if (m >= have || buf[m] !== 0xff) break;
      m++; // fill bytes
    }
    if (m >= have) return buf.subarray(0, have);
    const marker = buf[m];
    const start = m - 1;
    if (STANDALONE(marker)) {
      pos = start + 2;
      continue;
    }
    if (marker === JpegMarker.EOI || marker === JpegMarker.SOI) return buf.subarray(0, m + 1);
    if (start + 4 > have) await ensure(start + 4);
    if (start + 4 > have) return buf.subarray(0, have);
    const fieldLength = buf.readUInt16BE(start + 2);
    if (fieldLength < 2) return buf.subarray(0, start + 4);
    const segmentEnd = start + 2 + fieldLength;
    if (segmentEnd > have) await ensure(segmentEnd);
    if (segmentEnd > have) return buf.subarray(0, have);
    if (marker === JpegMarker.SOS) return buf.subarray(0, segmentEnd);
    pos = segmentEnd;
  }
}
