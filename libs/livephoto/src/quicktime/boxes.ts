import { promises as fsp } from 'node:fs';
import { LivePhotoError } from '../errors';

/**
 * One ISO-BMFF / QuickTime box. Container boxes carry `children` (plus the bytes that sit between their
 * header and first child in `prefix`); leaf boxes carry their content in `data`. Top-level boxes read from
 * a file (see `readTopLevelBoxes`) carry neither, except `ftyp` and `moov`: media data is never loaded.
 */
export interface Box {
  /** four-character code, decoded as latin1 so `©nam` and key-index types (`\0\0\0\1`) round-trip */
  type: string;
  /** absolute offset of the box header in the file (or buffer) it was parsed from; 0 for built boxes */
  offset: number;
  /** total size in bytes as read, header included (resolved for size 0); the writer recomputes it after edits */
  size: number;
  /** 8, or 16 with a 64-bit largesize */
  headerSize: number;
  /** the header used the 64-bit `largesize` form; kept on write so round trips are byte-exact */
  largeSize?: boolean;
  /** the header said size 0 ("extends to the end of the enclosing space") */
  extendsToEnd?: boolean;
  /** leaf content (everything after the header) */
  data?: Buffer;
  /** container: bytes between header and first child (FullBox version/flags, stsd entry count, sample-entry fields) */
  prefix?: Buffer;
  children?: Box[];
  /** container: bytes after the last child, too short to be a box (old QuickTime `udta` ends with a u32 0) */
  trailer?: Buffer;
}

/** Boxes whose children must parse: damage here means the file is unusable, not merely odd. */
const STRICT_CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);
/** Containers made only of child boxes. */
const PLAIN_CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'dinf', 'udta', 'tref', 'gmhd', 'mvex', 'ilst', 'tapt']);

export function fourCC(buf: Buffer, at: number): string {
  return buf.toString('latin1', at, at + 4);
}

/** True when `type` is four printable ASCII/latin1 characters (a plausible top-level box type). */
function isPrintableType(type: string): boolean {
  for (let i = 0; i < type.length; i++) {
    const c = type.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return type.length === 4;
}

/**
 * How many bytes precede the children of a box, or null when the box is a leaf.
 * `ancestors` are the types of the enclosing boxes, outermost first.
 */
function childrenPrefixLength(type: string, ancestors: string[], content: Buffer): number | null {
  const parent = ancestors[ancestors.length - 1];
  if (PLAIN_CONTAINERS.has(type)) return 0;
  // Items of an `ilst` (`©too`, or key indexes `\0\0\0\1`) hold `data` boxes.
  if (parent === 'ilst') return 0;
  if (type === 'meta') return isQuickTimeStyleMeta(content) ? 0 : 4;
  if (type === 'stsd' || type === 'dref') return 8; // version/flags + entry_count
  // Timed-metadata sample entry: 6 reserved + data_reference_index, then `keys`.
  if (parent === 'stsd' && type === 'mebx') return 8;
  // MetadataKeyTableBox (`mebx/keys`) is a plain box of key boxes, each holding `keyd` + `dtyp`.
  if (parent === 'mebx' && type === 'keys') return 0;
  if (parent === 'keys' && ancestors[ancestors.length - 2] === 'mebx') return 0;
  return null;
}

/**
 * QuickTime writes `meta` without version/flags; ISO writes it as a FullBox. Apple's form starts directly
 * with a child box (`hdlr`), so the 4 bytes after the header are a size and the next 4 spell `hdlr`.
 */
export function isQuickTimeStyleMeta(content: Buffer): boolean {
  return content.length >= 8 && fourCC(content, 4) === 'hdlr';
}

interface BoxHeader {
  type: string;
  size: number;
  headerSize: number;
  largeSize: boolean;
  extendsToEnd: boolean;
}

/** Decode a header at `at` of `buf`; `limit` is the end of the enclosing space (for size 0). */
function decodeHeader(buf: Buffer, at: number, available: number, spaceEnd: number): BoxHeader | null {
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
 * Parse the boxes in `buf[start, end)`. `baseOffset` is the absolute position of `buf[0]` in its file, so
 * `Box.offset` is absolute. Throws INPUT_TRUNCATED when a top-level box runs past the end of the buffer.
 */
export function parseBoxes(buf: Buffer, start = 0, end = buf.length, baseOffset = 0, ancestors: string[] = []): Box[] {
  const boxes: Box[] = [];
  let at = start;
  while (at < end) {
    const header = decodeHeader(buf, at, end - at, end - at);
    if (!header) {
      if (ancestors.length === 0) {
        throw new LivePhotoError('INPUT_TRUNCATED', `box header at ${baseOffset + at} is cut off`);
      }
      throw new LivePhotoError('INVALID_CONTAINER', `box header at ${baseOffset + at} is cut off`);
    }
    if (header.size < header.headerSize) {
      throw new LivePhotoError('INVALID_CONTAINER', `box '${header.type}' at ${baseOffset + at} has size ${header.size}`);
    }
    if (at + header.size > end) {
      const code = ancestors.length === 0 ? 'INPUT_TRUNCATED' : 'INVALID_CONTAINER';
      throw new LivePhotoError(code, `box '${header.type}' at ${baseOffset + at} (${header.size} B) extends beyond its end`);
    }
    boxes.push(parseBoxBody(buf, at, header, baseOffset, ancestors));
    at += header.size;
  }
  return boxes;
}

function parseBoxBody(buf: Buffer, at: number, header: BoxHeader, baseOffset: number, ancestors: string[]): Box {
  const contentStart = at + header.headerSize;
  const contentEnd = at + header.size;
  const content = buf.subarray(contentStart, contentEnd);
  const box: Box = {
    type: header.type,
    offset: baseOffset + at,
    size: header.size,
    headerSize: header.headerSize,
    ...(header.largeSize ? { largeSize: true } : {}),
    ...(header.extendsToEnd ? { extendsToEnd: true } : {}),
  };
  const prefixLength = childrenPrefixLength(header.type, ancestors, content);
  if (prefixLength !== null && prefixLength <= content.length) {
    const parsed = tryParseChildren(buf, contentStart + prefixLength, contentEnd, baseOffset, [...ancestors, header.type]);
    if (parsed) {
      box.prefix = Buffer.from(content.subarray(0, prefixLength));
      box.children = parsed.children;
      if (parsed.trailer.length > 0) box.trailer = Buffer.from(parsed.trailer);
      return box;
    }
    if (STRICT_CONTAINERS.has(header.type)) {
      throw new LivePhotoError('INVALID_CONTAINER', `'${header.type}' at ${box.offset} has malformed children`);
    }
  }
  // Copy so the tree does not pin a large source buffer and can be edited independently.
  box.data = Buffer.from(content);
  return box;
}

/** Children must tile the container exactly; up to 7 trailing bytes are kept as a trailer. */
function tryParseChildren(
  buf: Buffer,
  start: number,
  end: number,
  baseOffset: number,
  ancestors: string[],
): { children: Box[]; trailer: Buffer } | null {
  const children: Box[] = [];
  let at = start;
  while (end - at >= 8) {
    const header = decodeHeader(buf, at, end - at, end - at);
    if (!header || header.size < header.headerSize || at + header.size > end) return null;
    try {
      children.push(parseBoxBody(buf, at, header, baseOffset, ancestors));
    } catch (e) {
      if (STRICT_CONTAINERS.has(ancestors[ancestors.length - 1])) throw e;
      return null;
    }
    at += header.size;
  }
  return { children, trailer: buf.subarray(at, end) };
}

// ---------------------------------------------------------------------------------------------------
// Tree navigation

/** First child of `box` with `type`. */
export function child(box: Box | undefined, type: string): Box | undefined {
  return box?.children?.find((c) => c.type === type);
}

/** All children of `box` with `type`. */
export function childrenOf(box: Box | undefined, type: string): Box[] {
  return box?.children?.filter((c) => c.type === type) ?? [];
}

/** Follow a path of types from `box`, e.g. `find(trak, 'mdia', 'minf', 'stbl', 'stsd')`. */
export function find(box: Box | undefined, ...types: string[]): Box | undefined {
  let current = box;
  for (const t of types) current = child(current, t);
  return current;
}

// ---------------------------------------------------------------------------------------------------
// Files: headers only, except `moov` (small) and `ftyp`

export interface TopLevelLayout {
  fileSize: number;
  /** top-level boxes in file order; `moov` is parsed into children, `ftyp` carries `data`, others are headers only */
  boxes: Box[];
}

/** Types a QuickTime/ISO-BMFF file can start with (AFC exports start with `wide`, old QuickTime with `mdat`). */
const FIRST_BOX_TYPES = new Set(['ftyp', 'styp', 'wide', 'free', 'skip', 'mdat', 'moov', 'pnot', 'uuid', 'junk', 'pdin', 'sidx', 'meta']);
/** Top-level boxes whose content is read into memory. Everything else (mdat, free, wide, …) stays on disk. */
const LOADED_TOP_LEVEL = new Set(['moov', 'ftyp']);
/** A `moov` beyond this is not a plausible movie header; refuse instead of allocating it. */
const MAX_MOOV_BYTES = 256 * 1024 * 1024;

async function readExactly(handle: fsp.FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/**
 * Walk the top-level boxes of a QuickTime/MP4 file by reading only their headers, then load and parse
 * `moov`. Throws INPUT_TRUNCATED when a box claims to extend beyond the end of the file,
 * INVALID_CONTAINER when the bytes are not a box structure at all.
 */
export async function readTopLevelBoxes(path: string): Promise<TopLevelLayout> {
  const handle = await fsp.open(path, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const boxes: Box[] = [];
    let at = 0;
    while (at < fileSize) {
      const head = await readExactly(handle, Math.min(16, fileSize - at), at);
      const header = decodeHeader(head, 0, head.length, fileSize - at);
      if (!header) {
        // A few zero bytes of padding at the end are harmless; anything else is a cut-off header.
        if (head.every((b) => b === 0)) break;
        throw new LivePhotoError('INPUT_TRUNCATED', `box header at ${at} is cut off (file is ${fileSize} B)`, { path });
      }
      // The first box decides whether this is a box file at all (text or another container would
      // otherwise read as a huge "truncated" box).
      const implausible = boxes.length === 0 && !FIRST_BOX_TYPES.has(header.type);
      if (implausible || !isPrintableType(header.type) || header.size < header.headerSize) {
        throw new LivePhotoError('INVALID_CONTAINER', `no valid box at offset ${at} of ${path}`, { path, offset: at });
      }
      if (at + header.size > fileSize) {
        throw new LivePhotoError(
          'INPUT_TRUNCATED',
          `'${header.type}' at ${at} claims ${header.size} B but the file ends after ${fileSize - at} B`,
          { path, offset: at, type: header.type },
        );
      }
      if (LOADED_TOP_LEVEL.has(header.type)) {
        if (header.size > MAX_MOOV_BYTES) {
          throw new LivePhotoError('INVALID_CONTAINER', `'${header.type}' of ${header.size} B is implausibly large`, { path });
        }
        const bytes = await readExactly(handle, header.size, at);
        const [box] = parseBoxes(bytes, 0, bytes.length, at);
        if (header.extendsToEnd) box.extendsToEnd = true;
        boxes.push(box);
      } else {
        boxes.push({
          type: header.type,
          offset: at,
          size: header.size,
          headerSize: header.headerSize,
          ...(header.largeSize ? { largeSize: true } : {}),
          ...(header.extendsToEnd ? { extendsToEnd: true } : {}),
        });
      }
      at += header.size;
    }
    return { fileSize, boxes };
  } finally {
    await handle.close();
  }
}

export interface ContainerSummary {
  fileSize: number;
  /** top-level box types in file order */
  topLevel: string[];
  majorBrand: string | null;
  moovFirst: boolean;
}

/**
 * Integrity check for the probe stage (MOV/MP4 sources): every top-level box fits in the file, `moov`
 * exists and parses, and every track's samples lie inside the file. A download cut short loses either the
 * tail of `mdat` (faststart files) or the whole `moov` (moov-last files); both are INPUT_TRUNCATED. So is a
 * file whose boxes all fit but whose sample tables point past its end: the media data was cut and the box
 * sizes rewritten (or an `mdat` of size 0, "to the end of the file", lost its tail), as in the shortened
 * video of a Pixel Motion Photo.
 */
export async function checkContainerIntegrity(path: string): Promise<ContainerSummary> {
  const { fileSize, boxes } = await readTopLevelBoxes(path);
  const moovIndex = boxes.findIndex((b) => b.type === 'moov');
  const mdatIndex = boxes.findIndex((b) => b.type === 'mdat');
  if (moovIndex < 0) {
    const code = mdatIndex >= 0 ? 'INPUT_TRUNCATED' : 'INVALID_CONTAINER';
    throw new LivePhotoError(code, `no 'moov' box in ${path}`, { path });
  }
  checkSampleDataInFile(boxes[moovIndex], fileSize, path);
  const ftyp = boxes.find((b) => b.type === 'ftyp');
  return {
    fileSize,
    topLevel: boxes.map((b) => b.type),
    majorBrand: ftyp?.data && ftyp.data.length >= 4 ? fourCC(ftyp.data, 0) : null,
    moovFirst: mdatIndex < 0 || moovIndex < mdatIndex,
  };
}

/**
 * Throws INPUT_TRUNCATED when a track's sample data reaches past `fileSize`. Reads only the sample tables
 * already in memory with `moov`: chunk offsets (`stco`/`co64`), samples per chunk (`stsc`) and sample sizes
 * (`stsz`), walked once without expanding them (time linear in the sample count, no allocation per
 * sample). Where the sizes are unknown or inconsistent (`stz2`, a count that runs out) it falls back to the
 * chunk offsets alone: a chunk must at least start inside the file. Tracks whose data lives in another file
 * (a `dref` entry without the self-contained flag) and fragmented files (samples in `moof`, whose boxes the
 * top-level walk already checked) have nothing to check here.
 */
export function checkSampleDataInFile(moov: Box, fileSize: number, path: string): void {
  let worst: { track: number; handler: string; chunk: number; chunks: number; end: number } | undefined;
  childrenOf(moov, 'trak').forEach((trak, index) => {
    const stbl = find(trak, 'mdia', 'minf', 'stbl');
    if (!stbl || !isSelfContained(trak)) return;
    const co = child(stbl, 'stco') ?? child(stbl, 'co64');
    const offsets = co?.data;
    if (!offsets || offsets.length < 8) return;
    const width = co.type === 'co64' ? 8 : 4;
    const chunkCount = Math.min(offsets.readUInt32BE(4), Math.floor((offsets.length - 8) / width));
    const perChunk = samplesPerChunkTable(child(stbl, 'stsc'));
    const sizes = sampleSizeTable(child(stbl, 'stsz'));
    let sizesUsable = perChunk !== null && sizes !== null;
    let entry = 0;
    let sample = 0;
    for (let c = 0; c < chunkCount; c++) {
      const offset = width === 8 ? Number(offsets.readBigUInt64BE(8 + c * 8)) : offsets.readUInt32BE(8 + c * 4);
      let bytes = 1; // sizes unknown: the chunk's first byte must exist
      if (sizesUsable && perChunk && sizes) {
        while (entry + 1 < perChunk.length && perChunk[entry + 1].firstChunk <= c + 1) entry++;
        const n = perChunk[entry].firstChunk <= c + 1 ? perChunk[entry].samples : -1;
        if (n < 0 || sample + n > sizes.count) {
          sizesUsable = false;
        } else {
          bytes = 0;
          for (let k = 0; k < n; k++) bytes += sizes.sizeOf(sample + k);
          sample += n;
        }
      }
      const end = offset + bytes;
      if (end > fileSize && (!worst || end > worst.end)) {
        worst = { track: index + 1, handler: handlerOf(trak), chunk: c + 1, chunks: chunkCount, end };
      }
    }
  });
  if (worst) {
    const missing = worst.end - fileSize;
    throw new LivePhotoError(
      'INPUT_TRUNCATED',
      `track ${worst.track} (${worst.handler}) has sample data up to byte ${worst.end} (chunk ${worst.chunk} of ${worst.chunks}) ` +
        `but the file ends at ${fileSize}: at least ${missing} B of media data are missing`,
      { path, track: worst.track, sampleDataEnd: worst.end, fileSize },
    );
  }
}

/** `stsc` as (first chunk, samples per chunk) runs; null when absent or malformed. */
function samplesPerChunkTable(stsc: Box | undefined): Array<{ firstChunk: number; samples: number }> | null {
  const d = stsc?.data;
  if (!d || d.length < 8) return null;
  const count = d.readUInt32BE(4);
  if (count === 0 || 8 + count * 12 > d.length) return null;
  const out: Array<{ firstChunk: number; samples: number }> = [];
  for (let i = 0; i < count; i++) out.push({ firstChunk: d.readUInt32BE(8 + i * 12), samples: d.readUInt32BE(12 + i * 12) });
  return out;
}

/** `stsz` without expanding it: a fixed size or a table; null when absent or its count exceeds the box. */
function sampleSizeTable(stsz: Box | undefined): { count: number; sizeOf: (i: number) => number } | null {
  const d = stsz?.data;
  if (!d || d.length < 12) return null;
  const fixed = d.readUInt32BE(4);
  const count = d.readUInt32BE(8);
  if (fixed !== 0) return { count, sizeOf: () => fixed };
  if (12 + count * 4 > d.length) return null;
  return { count, sizeOf: (i) => d.readUInt32BE(12 + i * 4) };
}

/** False when a `dref` entry lacks the self-contained flag (1): its chunk offsets point into another file. */
function isSelfContained(trak: Box): boolean {
  const dref = find(trak, 'mdia', 'minf', 'dinf', 'dref');
  for (const entry of dref?.children ?? []) {
    const flags = entry.data && entry.data.length >= 4 ? entry.data.readUInt32BE(0) & 0xffffff : 0;
    if ((flags & 1) === 0) return false;
  }
  return true;
}

function handlerOf(trak: Box): string {
  const hdlr = find(trak, 'mdia', 'hdlr')?.data;
  return hdlr && hdlr.length >= 12 ? fourCC(hdlr, 8) : '?';
}
