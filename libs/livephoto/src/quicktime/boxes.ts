import { LivePhotoError } from '@vid2live/errors';
import { boxHeaderProblem, BoxHeaderProblem, decodeBoxHeader, DecodedBoxHeader, fourCC } from '../bmff/header';

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

    const header = decodeBoxHeader(buf, frame.at, remaining, remaining);
    const problem = boxHeaderProblem(header, remaining);
    if (problem !== null || !header) {
      if (frame.box === null) {
        const truncated = problem !== 'undersized';
        throw new LivePhotoError(truncated && topLevel ? 'INPUT_TRUNCATED' : 'INVALID_CONTAINER', describeProblem(problem, header, baseOffset + frame.at));
      }
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
    const box = boxOfHeader(header, baseOffset + at);
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

/** A box (no content yet) for a decoded header at absolute `offset`. */
export function boxOfHeader(header: DecodedBoxHeader, offset: number): Box {
  return {
    type: header.type,
    offset,
    size: header.size,
    headerSize: header.headerSize,
    ...(header.largeSize ? { largeSize: true } : {}),
    ...(header.extendsToEnd ? { extendsToEnd: true } : {}),
  };
}

/** The error text of a header that does not fit (the wording callers and tests know). */
function describeProblem(problem: BoxHeaderProblem | null, header: DecodedBoxHeader | null, at: number): string {
  if (problem === 'cut-off' || !header) return `box header at ${at} is cut off`;
  if (problem === 'undersized') return `box '${header.type}' at ${at} has size ${header.size}`;
  return `box '${header.type}' at ${at} (${header.size} B) extends beyond its end`;
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
