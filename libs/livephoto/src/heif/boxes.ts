import { LivePhotoError } from '@vid2live/errors';
import { boxHeaderProblem, decodeBoxHeader, decodeVersionFlags, encodeBoxHeader, encodeVersionFlags } from '../bmff/header';

/** HEIF's view of ISO BMFF boxes (headers by offset, builders, a bounded reader) over the shared core in `bmff/header`. */

export interface BoxHeader {
  type: string;
  /** offset of the size field */
  start: number;
  headerSize: number;
  /** whole box, header included */
  size: number;
  end: number;
  /** the box declared size 0 ("extends to the end of the file") */
  toEnd: boolean;
}

export function invalidHeif(message: string): LivePhotoError {
  return new LivePhotoError('INVALID_CONTAINER', `HEIF: ${message}`);
}

/** Boxes one `readBoxes` call may list; a genuine HEIC has at most a few thousand in any one box. */
export const MAX_HEIF_BOXES_PER_LEVEL = 100_000;

/**
 * Child boxes laid end to end in `buf[start, end)`: one level, never recursive (callers descend explicitly into
 * the few containers HEIF has: meta → iinf/iprp/iref/grpl → ipco). Headers are decoded by the same function as
 * the QuickTime reader's (`bmff/header`); more than `maxBoxes` boxes is INVALID_CONTAINER.
 */
export function readBoxes(buf: Buffer, start: number, end: number, maxBoxes = MAX_HEIF_BOXES_PER_LEVEL): BoxHeader[] {
  const boxes: BoxHeader[] = [];
  let pos = start;
  while (pos < end) {
    const h = decodeBoxHeader(buf, pos, end - pos, end - pos);
    const problem = boxHeaderProblem(h, end - pos);
    if (!h) throw invalidHeif(`truncated box header at ${pos}`);
    if (problem) throw invalidHeif(`box '${h.type}' at ${pos} (size ${h.size}) overruns its parent`);
    if (boxes.length >= maxBoxes) throw invalidHeif(`more than ${maxBoxes} boxes at one level (at ${pos})`);
    boxes.push({ type: h.type, start: pos, headerSize: h.headerSize, size: h.size, end: pos + h.size, toEnd: h.extendsToEnd });
    pos += h.size;
  }
  return boxes;
}

/** A box of `type` around `parts`; switches to a 64-bit largesize header only when needed. */
export function box(type: string, ...parts: Buffer[]): Buffer {
  const bodyLength = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([encodeBoxHeader(type, bodyLength), ...parts]);
}

export function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, encodeVersionFlags(version, flags), ...parts);
}

/** version and flags of the FullBox whose header is `h` */
export function fullBoxHead(buf: Buffer, h: BoxHeader): { version: number; flags: number; bodyStart: number } {
  if (h.headerSize + 4 > h.size) throw invalidHeif(`'${h.type}' is too short for a full box`);
  return { ...decodeVersionFlags(buf, h.start + h.headerSize), bodyStart: h.start + h.headerSize + 4 };
}

/** Sequential big-endian reader bounded to one box body. */
export class BoxCursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) throw invalidHeif(`'${this.what}' is truncated`);
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** an unsigned integer of 0, 4 or 8 bytes (iloc field sizes) */
  uint(size: number): number {
    if (size === 0) return 0;
    if (size === 4) return this.u32();
    if (size === 8) {
      this.need(8);
      const v = this.buf.readBigUInt64BE(this.pos);
      this.pos += 8;
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidHeif(`'${this.what}' holds an offset beyond 2^53`);
      return Number(v);
    }
    throw invalidHeif(`'${this.what}' uses an invalid field size ${size}`);
  }

  fourcc(): string {
    this.need(4);
    const s = this.buf.toString('latin1', this.pos, this.pos + 4);
    this.pos += 4;
    return s;
  }

  /** NUL-terminated UTF-8; tolerates a missing terminator at the end of the box */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.pos);
    const stop = nul === -1 || nul >= this.end ? this.end : nul;
    const s = this.buf.toString('utf8', this.pos, stop);
    this.pos = Math.min(this.end, stop + 1);
    return s;
  }

  get remaining(): number {
    return this.end - this.pos;
  }
}

/** Write an unsigned integer of 0, 4 or 8 bytes. */
export function uintBytes(value: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  if (size === 4) b.writeUInt32BE(value);
  else if (size === 8) b.writeBigUInt64BE(BigInt(value));
  else if (size !== 0) throw new LivePhotoError('METADATA_WRITE_FAILED', `invalid HEIF field size ${size}`);
  return b;
}

export function fitsIn(value: number, size: number): boolean {
  if (size === 0) return value === 0;
  if (size === 4) return value <= 0xffffffff;
  return size === 8;
}

export function u16be(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

export function u32be(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}
