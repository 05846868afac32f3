import { LivePhotoError } from '@vid2live/errors';
import { openRegularFile, readAt } from './regular-file';

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

export interface BoxHeader {
  type: string;
  size: number;
  headerSize: number;
  largeSize: boolean;
  extendsToEnd: boolean;
}

/**
 * Decode a header at `at` of `buf` (`available` bytes readable there); `spaceEnd` is what a size-0 box
 * ("to the end of the enclosing space") extends over. Null when the header is cut off or its largesize
 * exceeds 2^53. Shared by both box readers (this one and heif/boxes.ts).
 */
export function decodeBoxHeader(buf: Buffer, at: number, available: number, spaceEnd: number): BoxHeader | null {
  return decodeHeader(buf, at, available, spaceEnd);
}

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

/** Deeper nesting is no real movie (genuine files nest about 10 levels): refused, never descended into. */
export const MAX_BOX_DEPTH = 32;
/** Boxes one `parseBoxes` call may produce; a genuine `moov` has a few hundred. */
export const MAX_BOXES_PER_PARSE = 100_000;

export interface ParseBoxesOptions {
  /** container nesting allowed (the enclosing `ancestors` count too); deeper is INVALID_CONTAINER */
  maxDepth?: number;
  /** boxes allowed in the result; more is INVALID_CONTAINER */
  maxBoxes?: number;
  /**
   * copy leaf content, prefixes and trailers out of `buf` (default) so the tree neither pins nor aliases it;
   * pass false when `buf` is private to the tree anyway (each byte is then never copied at all)
   */
  copy?: boolean;
}

/** One open container (or the root list) of the iterative walk. */
interface Frame {
  /** null for the root list */
  box: Box | null;
  strict: boolean;
  /** next child header */
  at: number;
  end: number;
  contentStart: number;
  prefixLength: number;
  children: Box[];
}

/**
 * Parse the boxes in `buf[start, end)`. `baseOffset` is the absolute position of `buf[0]` in its file, so
 * `Box.offset` is absolute. Throws INPUT_TRUNCATED when a top-level box runs past the end of the buffer.
 *
 * Bounded: the walk is iterative (an explicit stack, never recursion), visits every header once (a container
 * whose children do not tile it becomes a leaf without re-parsing or copying anything), refuses nesting deeper
 * than `maxDepth` and more than `maxBoxes` boxes as INVALID_CONTAINER, and copies each byte at most once.
 */
export function parseBoxes(
  buf: Buffer,
  start = 0,
  end = buf.length,
  baseOffset = 0,
  ancestors: string[] = [],
  options: ParseBoxesOptions = {},
): Box[] {
  const maxDepth = options.maxDepth ?? MAX_BOX_DEPTH;
  const maxBoxes = options.maxBoxes ?? MAX_BOXES_PER_PARSE;
  const topLevel = ancestors.length === 0;
  const root: Frame = { box: null, strict: true, at: start, end, contentStart: start, prefixLength: 0, children: [] };
  const stack: Frame[] = [root];
  /** types of the boxes enclosing the current frame's children, outermost first */
  const path = [...ancestors];
  let count = 0;

  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const remaining = frame.end - frame.at;
    if (frame.box === null) {
      if (remaining <= 0) break;
    } else if (remaining < 8) {
      // Children tile the container (up to 7 trailing bytes, kept as a trailer): close it.
      stack.pop();
      path.pop();
      const box = frame.box;
      box.prefix = buf.subarray(frame.contentStart, frame.contentStart + frame.prefixLength);
      box.children = frame.children;
      if (remaining > 0) box.trailer = buf.subarray(frame.at, frame.end);
      const parent = stack[stack.length - 1];
      parent.children.push(box);
      parent.at += box.size;
      continue;
    }

    const header = decodeHeader(buf, frame.at, remaining, remaining);
    let problem: string | null = null;
    let truncated = false;
    if (!header) {
      problem = `box header at ${baseOffset + frame.at} is cut off`;
      truncated = true;
    } else if (header.size < header.headerSize) {
      problem = `box '${header.type}' at ${baseOffset + frame.at} has size ${header.size}`;
    } else if (header.size > remaining) {
      problem = `box '${header.type}' at ${baseOffset + frame.at} (${header.size} B) extends beyond its end`;
      truncated = true;
    }
    if (problem !== null || !header) {
      if (frame.box === null) throw new LivePhotoError(truncated && topLevel ? 'INPUT_TRUNCATED' : 'INVALID_CONTAINER', problem ?? undefined);
      failContainer(buf, stack, path);
      continue;
    }

    if (++count > maxBoxes) {
      throw new LivePhotoError('INVALID_CONTAINER', `more than ${maxBoxes} boxes (at ${baseOffset + frame.at}): not a plausible movie header`, {
        offset: baseOffset + frame.at,
        maxBoxes,
      });
    }
    const at = frame.at;
    const contentStart = at + header.headerSize;
    const contentEnd = at + header.size;
    const box: Box = {
      type: header.type,
      offset: baseOffset + at,
      size: header.size,
      headerSize: header.headerSize,
      ...(header.largeSize ? { largeSize: true } : {}),
      ...(header.extendsToEnd ? { extendsToEnd: true } : {}),
    };
    const prefixLength = childrenPrefixLength(header.type, path, buf.subarray(contentStart, contentEnd));
    if (prefixLength !== null && prefixLength <= contentEnd - contentStart) {
      if (path.length >= maxDepth) {
        throw new LivePhotoError('INVALID_CONTAINER', `boxes nest deeper than ${maxDepth} levels ('${header.type}' at ${box.offset})`, {
          offset: box.offset,
          maxDepth,
        });
      }
      stack.push({
        box,
        strict: STRICT_CONTAINERS.has(header.type),
        at: contentStart + prefixLength,
        end: contentEnd,
        contentStart,
        prefixLength,
        children: [],
      });
      path.push(header.type);
      continue;
    }
    box.data = buf.subarray(contentStart, contentEnd);
    frame.children.push(box);
    frame.at = contentEnd;
  }

  if (options.copy !== false) copyOutOf(root.children);
  return root.children;
}

/**
 * The children of the innermost open container do not tile it. A lenient container becomes a leaf (its
 * content, children included, kept as `data`: a view, nothing is copied or parsed again); a strict one
 * (`STRICT_CONTAINERS`) fails its parent in turn, up to the first lenient ancestor or out of the root.
 */
function failContainer(buf: Buffer, stack: Frame[], path: string[]): void {
  let error: LivePhotoError | null = null;
  for (;;) {
    const frame = stack.pop()!;
    path.pop();
    const box = frame.box!;
    if (!frame.strict) {
      box.data = buf.subarray(frame.contentStart, frame.end);
      const parent = stack[stack.length - 1];
      parent.children.push(box);
      parent.at += box.size;
      return;
    }
    error ??= new LivePhotoError('INVALID_CONTAINER', `'${box.type}' at ${box.offset} has malformed children`);
    if (stack[stack.length - 1].box === null) throw error;
  }
}

/** Give every leaf, prefix and trailer its own bytes (each byte of the source is copied at most once). */
function copyOutOf(boxes: Box[]): void {
  const pending = [...boxes];
  while (pending.length > 0) {
    const box = pending.pop()!;
    if (box.data) box.data = Buffer.from(box.data);
    if (box.prefix) box.prefix = Buffer.from(box.prefix);
    if (box.trailer) box.trailer = Buffer.from(box.trailer);
    for (const c of box.children ?? []) pending.push(c);
  }
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
/**
 * A `moov` beyond this is not a plausible movie header; refuse instead of allocating it. Ten hours of 60 fps
 * video need about 40 MB of sample tables.
 */
export const MAX_MOOV_BYTES = 64 * 1024 * 1024;
/** Top-level boxes one file may have (a fragmented MP4 has two per fragment); more is INVALID_CONTAINER. */
export const MAX_TOP_LEVEL_BOXES = 200_000;
/** Headers are read through a window of this size, so a run of tiny boxes costs one read per window. */
const HEADER_WINDOW_BYTES = 64 * 1024;

/**
 * Walk the top-level boxes of a QuickTime/MP4 file by reading only their headers, then load and parse
 * `moov`. Throws INPUT_TRUNCATED when a box claims to extend beyond the end of the file,
 * INVALID_CONTAINER when the bytes are not a box structure at all (or too many boxes, nested too deep, a
 * `moov` over MAX_MOOV_BYTES), SOURCE_NOT_FOUND for a FIFO, device or directory (see `openRegularFile`).
 */
export async function readTopLevelBoxes(path: string): Promise<TopLevelLayout> {
  const { handle, size: fileSize } = await openRegularFile(path);
  try {
    const boxes: Box[] = [];
    let window: Buffer = Buffer.alloc(0);
    let windowStart = 0;
    let at = 0;
    while (at < fileSize) {
      if (at < windowStart || at + Math.min(16, fileSize - at) > windowStart + window.length) {
        window = await readAt(handle, Math.min(HEADER_WINDOW_BYTES, fileSize - at), at);
        windowStart = at;
      }
      const head = window.subarray(at - windowStart, at - windowStart + Math.min(16, fileSize - at));
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
      if (boxes.length >= MAX_TOP_LEVEL_BOXES) {
        throw new LivePhotoError('INVALID_CONTAINER', `${path} has more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`, { path, offset: at });
      }
      if (LOADED_TOP_LEVEL.has(header.type)) {
        if (header.size > MAX_MOOV_BYTES) {
          throw new LivePhotoError('INVALID_CONTAINER', `'${header.type}' of ${header.size} B is implausibly large`, { path });
        }
        const bytes = await readAt(handle, header.size, at);
        // The buffer belongs to this box alone: the tree may keep views of it instead of copies.
        const [box] = parseBoxes(bytes, 0, bytes.length, at, [], { copy: false });
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
        while (entry + 1 < perChunk.length && perChunk.firstChunk(entry + 1) <= c + 1) entry++;
        const n = perChunk.firstChunk(entry) <= c + 1 ? perChunk.samples(entry) : -1;
        if (n < 0 || sample + n > sizes.count) {
          sizesUsable = false;
        } else {
          // A fixed size costs no table bytes, so its count is unbounded by the box: multiply, never walk it.
          if (sizes.fixed !== undefined) {
            bytes = n * sizes.fixed;
          } else {
            bytes = 0;
            for (let k = 0; k < n; k++) bytes += sizes.sizeOf(sample + k);
          }
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

/** `stsc` as (first chunk, samples per chunk) runs, read in place (no object per run); null when absent or malformed. */
function samplesPerChunkTable(stsc: Box | undefined): { length: number; firstChunk: (i: number) => number; samples: (i: number) => number } | null {
  const d = stsc?.data;
  if (!d || d.length < 8) return null;
  const count = d.readUInt32BE(4);
  if (count === 0 || 8 + count * 12 > d.length) return null;
  return { length: count, firstChunk: (i) => d.readUInt32BE(8 + i * 12), samples: (i) => d.readUInt32BE(12 + i * 12) };
}

/** `stsz` without expanding it: a fixed size or a table; null when absent or its count exceeds the box. */
function sampleSizeTable(stsz: Box | undefined): { count: number; fixed?: number; sizeOf: (i: number) => number } | null {
  const d = stsz?.data;
  if (!d || d.length < 12) return null;
  const fixed = d.readUInt32BE(4);
  const count = d.readUInt32BE(8);
  if (fixed !== 0) return { count, fixed, sizeOf: () => fixed };
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
