import { LivePhotoError } from '@vid2live/errors';

/**
 * TIFF IFD primitives shared by the Exif TIFF block and the Apple MakerNote (which is itself a TIFF IFD whose
 * offsets count from the MakerNote's own first byte). Writing is big-endian only, as every iPhone writes;
 * reading accepts both byte orders.
 */

export type TiffByteOrder = 'MM' | 'II';

/** TIFF field types; 16 (LONG8) is the BigTIFF type Apple uses for MakerNote tag 0x0017. */
export const TiffType = {
  BYTE: 1,
  ASCII: 2,
  SHORT: 3,
  LONG: 4,
  RATIONAL: 5,
  SBYTE: 6,
  UNDEFINED: 7,
  SSHORT: 8,
  SLONG: 9,
  SRATIONAL: 10,
  FLOAT: 11,
  DOUBLE: 12,
  IFD: 13,
  LONG8: 16,
  SLONG8: 17,
  IFD8: 18,
} as const;

const TYPE_SIZE: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

/**
 * A decoded field value: ASCII → string (trailing NULs dropped), UNDEFINED → Buffer, (S)RATIONAL → number
 * (numerator/denominator), 64-bit integers → bigint; a single value is a scalar, several are an array.
 * Unknown types come back as the raw Buffer.
 */
export type TiffValue = string | number | bigint | Buffer | number[] | bigint[];

export interface TiffEntry {
  tag: number;
  type: number;
  count: number;
  value: TiffValue;
}

/** One entry to write: `data` is the value already encoded big-endian (`count` elements of `type`). */
export interface IfdEntryInput {
  tag: number;
  type: number;
  count: number;
  data: Buffer;
}

// ---------------------------------------------------------------------------------------------- writing

export function asciiEntry(tag: number, text: string): IfdEntryInput {
  if (text.includes('\0')) {
    throw new LivePhotoError('METADATA_WRITE_FAILED', `TIFF ASCII value for tag 0x${hex4(tag)} contains a NUL`);
  }
  const data = Buffer.concat([Buffer.from(text, 'utf8'), Buffer.of(0)]);
  return { tag, type: TiffType.ASCII, count: data.length, data };
}

export function shortEntry(tag: number, values: number | number[]): IfdEntryInput {
  const list = Array.isArray(values) ? values : [values];
  const data = Buffer.alloc(list.length * 2);
  list.forEach((v, i) => data.writeUInt16BE(v, i * 2));
  return { tag, type: TiffType.SHORT, count: list.length, data };
}

export function longEntry(tag: number, values: number | number[]): IfdEntryInput {
  const list = Array.isArray(values) ? values : [values];
  const data = Buffer.alloc(list.length * 4);
  list.forEach((v, i) => data.writeUInt32BE(v, i * 4));
  return { tag, type: TiffType.LONG, count: list.length, data };
}

export function slongEntry(tag: number, value: number): IfdEntryInput {
  const data = Buffer.alloc(4);
  data.writeInt32BE(value);
  return { tag, type: TiffType.SLONG, count: 1, data };
}

export function long8Entry(tag: number, value: bigint): IfdEntryInput {
  const data = Buffer.alloc(8);
  data.writeBigUInt64BE(value);
  return { tag, type: TiffType.LONG8, count: 1, data };
}

export function byteEntry(tag: number, values: number[]): IfdEntryInput {
  return { tag, type: TiffType.BYTE, count: values.length, data: Buffer.from(values) };
}

export function undefinedEntry(tag: number, data: Buffer): IfdEntryInput {
  return { tag, type: TiffType.UNDEFINED, count: data.length, data };
}

/** Unsigned rationals given as [numerator, denominator] pairs. */
export function rationalEntry(tag: number, values: Array<[number, number]>): IfdEntryInput {
  const data = Buffer.alloc(values.length * 8);
  values.forEach(([n, d], i) => {
    data.writeUInt32BE(n, i * 8);
    data.writeUInt32BE(d, i * 8 + 4);
  });
  return { tag, type: TiffType.RATIONAL, count: values.length, data };
}

const padded = (n: number): number => n + (n & 1);

/** Bytes an IFD occupies when laid out by `encodeIfd`: count, entries, next pointer, word-aligned values. */
export function ifdByteLength(entries: IfdEntryInput[]): number {
  let n = 2 + entries.length * 12 + 4;
  for (const e of entries) if (e.data.length > 4) n += padded(e.data.length);
  return n;
}

/**
 * Lay out one big-endian IFD followed by its value area. `ifdOffset` is where the IFD will sit, measured from
 * the origin the offsets count from (TIFF header, or MakerNote start). Entries are sorted by tag; every value
 * longer than 4 bytes starts on an even offset (odd lengths are followed by one zero pad byte, except the last).
 */
export function encodeIfd(entries: IfdEntryInput[], ifdOffset: number, nextIfdOffset = 0): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].tag === sorted[i - 1].tag) {
      throw new LivePhotoError('METADATA_WRITE_FAILED', `duplicate TIFF tag 0x${hex4(sorted[i].tag)}`);
    }
  }
  const head = Buffer.alloc(2 + sorted.length * 12 + 4);
  head.writeUInt16BE(sorted.length, 0);
  const values: Buffer[] = [];
  let valueOffset = ifdOffset + head.length;
  sorted.forEach((e, i) => {
    const at = 2 + i * 12;
    if (e.data.length !== e.count * (TYPE_SIZE[e.type] ?? 1)) {
      throw new LivePhotoError('METADATA_WRITE_FAILED', `TIFF tag 0x${hex4(e.tag)}: data length ≠ count × type size`);
    }
    head.writeUInt16BE(e.tag, at);
    head.writeUInt16BE(e.type, at + 2);
    head.writeUInt32BE(e.count, at + 4);
    if (e.data.length <= 4) {
      e.data.copy(head, at + 8); // left-justified in the 4-byte field, rest stays 0
    } else {
      if (valueOffset & 1) {
        values.push(Buffer.alloc(1));
        valueOffset += 1;
      }
      head.writeUInt32BE(valueOffset, at + 8);
      values.push(e.data);
      valueOffset += e.data.length;
    }
  });
  head.writeUInt32BE(nextIfdOffset, 2 + sorted.length * 12);
  return Buffer.concat([head, ...values]);
}

// ---------------------------------------------------------------------------------------------- reading

export interface TiffReader {
  buf: Buffer;
  littleEndian: boolean;
}

export function u16(r: TiffReader, at: number): number {
  check(r, at, 2);
  return r.littleEndian ? r.buf.readUInt16LE(at) : r.buf.readUInt16BE(at);
}

export function u32(r: TiffReader, at: number): number {
  check(r, at, 4);
  return r.littleEndian ? r.buf.readUInt32LE(at) : r.buf.readUInt32BE(at);
}

function check(r: TiffReader, at: number, len: number): void {
  if (at < 0 || at + len > r.buf.length) {
    throw new LivePhotoError('INVALID_CONTAINER', `TIFF structure points outside its block (${at}+${len} > ${r.buf.length})`);
  }
}

/**
 * Read the IFD at `ifdOffset`. Value offsets are resolved relative to byte 0 of `r.buf`, so pass the buffer
 * that starts at the offsets' origin (the TIFF header, or the MakerNote).
 */
export function readIfd(r: TiffReader, ifdOffset: number): { entries: TiffEntry[]; nextIfdOffset: number } {
  const n = u16(r, ifdOffset);
  const entries: TiffEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = ifdOffset + 2 + i * 12;
    const tag = u16(r, at);
    const type = u16(r, at + 2);
    const count = u32(r, at + 4);
    const size = TYPE_SIZE[type];
    if (size === undefined) {
      // Unknown type: keep the raw 4-byte field; its length is unknowable.
      check(r, at + 8, 4);
      entries.push({ tag, type, count, value: Buffer.from(r.buf.subarray(at + 8, at + 12)) });
      continue;
    }
    const byteLength = size * count;
    const dataAt = byteLength <= 4 ? at + 8 : u32(r, at + 8);
    check(r, dataAt, byteLength);
    entries.push({ tag, type, count, value: decodeValue(r, type, count, dataAt) });
  }
  const nextIfdOffset = u32(r, ifdOffset + 2 + n * 12);
  return { entries, nextIfdOffset };
}

function decodeValue(r: TiffReader, type: number, count: number, at: number): TiffValue {
  const b = r.buf;
  const le = r.littleEndian;
  const size = TYPE_SIZE[type];
  switch (type) {
    case TiffType.ASCII:
      return b.subarray(at, at + count).toString('utf8').replace(/\0+$/, '');
    case TiffType.UNDEFINED:
      return Buffer.from(b.subarray(at, at + count));
  }
  const read = (i: number): number | bigint => {
    const p = at + i * size;
    switch (type) {
      case TiffType.BYTE: return b.readUInt8(p);
      case TiffType.SBYTE: return b.readInt8(p);
      case TiffType.SHORT: return le ? b.readUInt16LE(p) : b.readUInt16BE(p);
      case TiffType.SSHORT: return le ? b.readInt16LE(p) : b.readInt16BE(p);
      case TiffType.LONG:
      case TiffType.IFD: return le ? b.readUInt32LE(p) : b.readUInt32BE(p);
      case TiffType.SLONG: return le ? b.readInt32LE(p) : b.readInt32BE(p);
      case TiffType.RATIONAL: {
        const n = le ? b.readUInt32LE(p) : b.readUInt32BE(p);
        const d = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
        return d === 0 ? NaN : n / d;
      }
      case TiffType.SRATIONAL: {
        const n = le ? b.readInt32LE(p) : b.readInt32BE(p);
        const d = le ? b.readInt32LE(p + 4) : b.readInt32BE(p + 4);
        return d === 0 ? NaN : n / d;
      }
      case TiffType.FLOAT: return le ? b.readFloatLE(p) : b.readFloatBE(p);
      case TiffType.DOUBLE: return le ? b.readDoubleLE(p) : b.readDoubleBE(p);
      case TiffType.LONG8:
      case TiffType.IFD8: return le ? b.readBigUInt64LE(p) : b.readBigUInt64BE(p);
      case TiffType.SLONG8: return le ? b.readBigInt64LE(p) : b.readBigInt64BE(p);
      default: return NaN;
    }
  };
  if (count === 1) return read(0);
  const list = Array.from({ length: count }, (_, i) => read(i));
  return typeof list[0] === 'bigint' ? (list as bigint[]) : (list as number[]);
}

export function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
