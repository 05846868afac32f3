/**
 * The ISO-BMFF / QuickTime box core shared by the QuickTime reader/writer (`quicktime/`) and the HEIF model
 * (`heif/`): decoding a header (32-bit size, 64-bit largesize, size 0 "to the end"), classifying a header that
 * does not fit its enclosing space, FullBox version/flags, and encoding headers.
 */

const MAX_U32 = 0xffffffff;

export function fourCC(buf: Buffer, at: number): string {
  return buf.toString('latin1', at, at + 4);
}

/** True when `type` is four printable ASCII/latin1 characters (a plausible top-level box type). */
export function isPrintableType(type: string): boolean {
  for (let i = 0; i < type.length; i++) {
    const c = type.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return type.length === 4;
}

export interface DecodedBoxHeader {
  type: string;
  /** whole box, header included (for size 0: the enclosing space given to `decodeBoxHeader`) */
  size: number;
  /** 8, or 16 with a 64-bit largesize */
  headerSize: number;
  largeSize: boolean;
  /** the header said size 0 ("extends to the end of the enclosing space") */
  extendsToEnd: boolean;
}

/**
 * Decode a header at `at` of `buf` (`available` bytes readable there); `spaceEnd` is what a size-0 box
 * ("to the end of the enclosing space") extends over. Null when the header is cut off or its largesize
 * exceeds 2^53.
 */
export function decodeBoxHeader(buf: Buffer, at: number, available: number, spaceEnd: number): DecodedBoxHeader | null {
  if (available < 8) return null;
  const size32 = buf.readUInt32BE(at);
  const type = fourCC(buf, at + 4);
  if (size32 === 1) {
    if (available < 16) return null;
    const large = buf.readBigUInt64BE(at + 8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    return { type, size: Number(large), headerSize: 16, largeSize: true, extendsToEnd: false };
  }
  if (size32 === 0) return { type, size: spaceEnd, headerSize: 8, largeSize: false, extendsToEnd: true };
  return { type, size: size32, headerSize: 8, largeSize: false, extendsToEnd: false };
}

/**
 * What is wrong with a box header found where `remaining` bytes of the enclosing space are left: `cut-off`
 * (no complete header), `undersized` (size smaller than its own header), `overruns` (larger than the space);
 * null when the box fits. Every box walker decides with this, then words the error for its format.
 */
export type BoxHeaderProblem = 'cut-off' | 'undersized' | 'overruns';

export function boxHeaderProblem(header: DecodedBoxHeader | null, remaining: number): BoxHeaderProblem | null {
  if (!header) return 'cut-off';
  if (header.size < header.headerSize) return 'undersized';
  if (header.size > remaining) return 'overruns';
  return null;
}

/** Header bytes for a box of `contentLength` bytes: 8 bytes, or 16 with a 64-bit largesize when needed or forced. */
export function encodeBoxHeader(type: string, contentLength: number, forceLargeSize = false): Buffer {
  if (forceLargeSize || contentLength + 8 > MAX_U32) {
    const h = Buffer.alloc(16);
    h.writeUInt32BE(1, 0);
    h.write(type, 4, 4, 'latin1');
    h.writeBigUInt64BE(BigInt(contentLength + 16), 8);
    return h;
  }
  const h = Buffer.alloc(8);
  h.writeUInt32BE(contentLength + 8, 0);
  h.write(type, 4, 4, 'latin1');
  return h;
}

/** Whether a box of `contentLength` content bytes needs the 64-bit largesize header. */
export function needsLargeSize(contentLength: number): boolean {
  return contentLength + 8 > MAX_U32;
}

/** The 4 bytes that open a FullBox: u8 version, u24 flags. */
export function encodeVersionFlags(version: number, flags: number): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return vf;
}

/** Version and flags of the FullBox whose content starts at `at` (at least 4 bytes must be there). */
export function decodeVersionFlags(buf: Buffer, at: number): { version: number; flags: number } {
  const word = buf.readUInt32BE(at);
  return { version: word >>> 24, flags: word & 0xffffff };
}
