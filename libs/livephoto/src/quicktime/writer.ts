import { encodeBoxHeader, encodeVersionFlags, needsLargeSize } from '../bmff/header';
import type { Box } from './boxes';

/** Content length of a box: prefix + children + trailer for containers, `data` for leaves. */
function contentLength(box: Box): number {
  if (box.children) {
    let n = (box.prefix?.length ?? 0) + (box.trailer?.length ?? 0);
    for (const c of box.children) n += encodedSize(c);
    return n;
  }
  return box.data?.length ?? 0;
}

/** Whether the box needs (or originally used) the 16-byte header with a 64-bit largesize. */
function usesLargeSize(box: Box, content: number): boolean {
  return box.largeSize === true || needsLargeSize(content);
}

/** Serialised size of a box, header included. */
export function encodedSize(box: Box): number {
  const content = contentLength(box);
  return content + (usesLargeSize(box, content) ? 16 : 8);
}

function writeInto(box: Box, out: Buffer, at: number): number {
  const content = contentLength(box);
  const large = usesLargeSize(box, content);
  const size = content + (large ? 16 : 8);
  if (large) {
    out.writeUInt32BE(1, at);
    out.write(box.type, at + 4, 4, 'latin1');
    out.writeBigUInt64BE(BigInt(size), at + 8);
    at += 16;
  } else {
    // Size 0 ("to the end") is only kept when the source said so, so round trips stay exact.
    out.writeUInt32BE(box.extendsToEnd ? 0 : size, at);
    out.write(box.type, at + 4, 4, 'latin1');
    at += 8;
  }
  if (box.children) {
    if (box.prefix) at += box.prefix.copy(out, at);
    for (const c of box.children) at = writeInto(c, out, at);
    if (box.trailer) at += box.trailer.copy(out, at);
  } else if (box.data) {
    at += box.data.copy(out, at);
  }
  return at;
}

/** Serialise one box (and its subtree) to bytes. */
export function serializeBox(box: Box): Buffer {
  const out = Buffer.alloc(encodedSize(box));
  writeInto(box, out, 0);
  return out;
}

/** Header bytes for a box of `contentLength` bytes that will be streamed separately (e.g. an `mdat`). */
export function boxHeader(type: string, contentLength: number, forceLargeSize = false): Buffer {
  return encodeBoxHeader(type, contentLength, forceLargeSize);
}

// ---------------------------------------------------------------------------------------------------
// Builders

/** A leaf box holding `data`. */
export function leafBox(type: string, data: Buffer): Box {
  return { type, offset: 0, size: data.length + 8, headerSize: 8, data };
}

/** A FullBox leaf: u8 version, u24 flags, then `body`. */
export function fullBox(type: string, version: number, flags: number, body: Buffer): Box {
  return leafBox(type, Buffer.concat([encodeVersionFlags(version, flags), body]));
}

/** A container of `children`, optionally preceded by `prefix` bytes (e.g. version/flags + entry count). */
export function containerBox(type: string, children: Box[], prefix?: Buffer): Box {
  const box: Box = { type, offset: 0, size: 0, headerSize: 8, children, ...(prefix ? { prefix } : {}) };
  box.size = encodedSize(box);
  return box;
}

/** A four-character code whose bytes are the big-endian u32 `n` (QuickTime key indexes, local key ids). */
export function u32Type(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b.toString('latin1');
}

/** Big-endian u32 values as bytes. */
export function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}
