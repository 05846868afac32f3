import { LivePhotoError } from '@vid2live/errors';
import { fourCC } from '../bmff/header';
import { Box, child, childrenOf, find } from './boxes';
import { APPLE_KEYS } from './quicktime-meta';

/** Field readers for the movie/track header boxes of a parsed `moov`. */

/** The content of a leaf box that must be there (INVALID_CONTAINER otherwise). */
export function need(box: Box | undefined, what: string): Buffer {
  if (!box?.data) throw new LivePhotoError('INVALID_CONTAINER', `missing or malformed '${what}' box`);
  return box.data;
}

export interface MovieHeader {
  version: number;
  timescale: number;
  duration: number;
  nextTrackId: number;
}

export function readMovieHeader(moov: Box): MovieHeader {
  const d = need(child(moov, 'mvhd'), 'mvhd');
  const version = d[0];
  const minLength = version === 1 ? 112 - 8 : 100 - 8;
  if (d.length < minLength) throw new LivePhotoError('INVALID_CONTAINER', "'mvhd' is too short");
  const timescale = version === 1 ? d.readUInt32BE(20) : d.readUInt32BE(12);
  const duration = version === 1 ? Number(d.readBigUInt64BE(24)) : d.readUInt32BE(16);
  return { version, timescale, duration, nextTrackId: d.readUInt32BE(d.length - 4) };
}

/** Returns an updated copy of `mvhd` (timescale is never changed: every edit list depends on it). */
export function withMovieHeader(mvhd: Box, changes: { duration?: number; nextTrackId?: number }): Box {
  const d = Buffer.from(need(mvhd, 'mvhd'));
  if (changes.duration !== undefined) {
    if (d[0] === 1) d.writeBigUInt64BE(BigInt(changes.duration), 24);
    else d.writeUInt32BE(changes.duration, 16);
  }
  if (changes.nextTrackId !== undefined) d.writeUInt32BE(changes.nextTrackId, d.length - 4);
  return { ...mvhd, data: d };
}

export interface TrackHeader {
  version: number;
  flags: number;
  trackId: number;
  /** in movie timescale units */
  duration: number;
  /** 3×3 display matrix as stored (a, b, u, c, d, v, x, y, w; 16.16 except u, v, w in 2.30) */
  matrix: number[];
  /** display size from tkhd (16.16 → integer part) */
  width: number;
  height: number;
}

export function readTrackHeader(trak: Box): TrackHeader {
  const d = need(child(trak, 'tkhd'), 'tkhd');
  const version = d[0];
  if (d.length < (version === 1 ? 96 : 84)) throw new LivePhotoError('INVALID_CONTAINER', "'tkhd' is too short");
  const flags = d.readUIntBE(1, 3);
  const trackId = version === 1 ? d.readUInt32BE(20) : d.readUInt32BE(12);
  const duration = version === 1 ? Number(d.readBigUInt64BE(28)) : d.readUInt32BE(20);
  const matrixAt = version === 1 ? 52 : 40;
  const matrix: number[] = [];
  for (let i = 0; i < 9; i++) matrix.push(d.readInt32BE(matrixAt + i * 4));
  return { version, flags, trackId, duration, matrix, width: d.readUInt32BE(matrixAt + 36) >>> 16, height: d.readUInt32BE(matrixAt + 40) >>> 16 };
}

export function withTrackFlags(tkhd: Box, flags: number): Box {
  const d = Buffer.from(need(tkhd, 'tkhd'));
  d.writeUIntBE(flags, 1, 3);
  return { ...tkhd, data: d };
}

/** Seconds from the QuickTime epoch (1904-01-01T00:00:00Z) to the Unix epoch. */
export const QUICKTIME_EPOCH_OFFSET_SECONDS = 2_082_844_800;

/** A Date as QuickTime header time: whole seconds since 1904-01-01 UTC. */
export function toQuickTimeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) + QUICKTIME_EPOCH_OFFSET_SECONDS;
}

/** The boxes that open with creation + modification times: `mvhd`, `tkhd`, `mdhd`. */
const TIMED_HEADERS = new Set(['mvhd', 'tkhd', 'mdhd']);

/**
 * Copy of a `mvhd`/`tkhd`/`mdhd` with creation and modification time set to `seconds` (QuickTime epoch). All
 * three start alike after version/flags: two u32 (version 0) or two u64 (version 1). A version-0 box cannot
 * hold a time after 2040-02-06; it is returned unchanged rather than re-laid out as version 1.
 */
export function withHeaderTimes(box: Box, seconds: number): Box {
  if (!TIMED_HEADERS.has(box.type)) throw new LivePhotoError('INVALID_CONTAINER', `'${box.type}' has no creation time`);
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new LivePhotoError('INVALID_OPTIONS', `creation time must be whole seconds since 1904, got ${seconds}`);
  }
  const d = Buffer.from(need(box, box.type));
  if (d[0] === 1) {
    if (d.length < 20) throw new LivePhotoError('INVALID_CONTAINER', `'${box.type}' is too short`);
    d.writeBigUInt64BE(BigInt(seconds), 4);
    d.writeBigUInt64BE(BigInt(seconds), 12);
  } else {
    if (d.length < 12) throw new LivePhotoError('INVALID_CONTAINER', `'${box.type}' is too short`);
    if (seconds > 0xffffffff) return box;
    d.writeUInt32BE(seconds, 4);
    d.writeUInt32BE(seconds, 8);
  }
  return { ...box, data: d };
}

/** `mdia/hdlr` component subtype: `vide`, `soun`, `meta`, `tmcd`, … */
export function trackHandler(trak: Box): string | null {
  const d = find(trak, 'mdia', 'hdlr')?.data;
  return d && d.length >= 12 ? fourCC(d, 8) : null;
}

/** The first sample entry of `stsd` (codec `avc1`/`hvc1`/`mp4a`/`mebx`, …). */
export function firstSampleEntry(trak: Box): Box | undefined {
  return find(trak, 'mdia', 'minf', 'stbl', 'stsd')?.children?.[0];
}

/** Coded size of a visual sample entry (fields after the 8-byte SampleEntry header). */
export function visualSampleEntrySize(entry: Box): { width: number; height: number } | null {
  const d = entry.data;
  // reserved 6, data_reference_index 2, version 2, revision 2, vendor 4, temporal/spatial quality 4+4
  if (!d || d.length < 28) return null;
  return { width: d.readUInt16BE(24), height: d.readUInt16BE(26) };
}

export interface EditListEntry {
  segmentDuration: number;
  /** −1 = empty edit */
  mediaTime: number;
  mediaRate: number;
}

export function readEditList(trak: Box): EditListEntry[] {
  const d = find(trak, 'edts', 'elst')?.data;
  if (!d || d.length < 8) return [];
  const version = d[0];
  const count = d.readUInt32BE(4);
  const entrySize = version === 1 ? 20 : 12;
  const out: EditListEntry[] = [];
  for (let i = 0, at = 8; i < count && at + entrySize <= d.length; i++, at += entrySize) {
    out.push(
      version === 1
        ? { segmentDuration: Number(d.readBigUInt64BE(at)), mediaTime: Number(d.readBigInt64BE(at + 8)), mediaRate: d.readInt32BE(at + 16) }
        : { segmentDuration: d.readUInt32BE(at), mediaTime: d.readInt32BE(at + 4), mediaRate: d.readInt32BE(at + 8) },
    );
  }
  return out;
}

/** Track ids listed by `tref/<type>` (e.g. `cdsc`). */
export function trackReferences(trak: Box, type: string): number[] {
  const d = find(trak, 'tref', type)?.data;
  const ids: number[] = [];
  for (let at = 0; d && at + 4 <= d.length; at += 4) ids.push(d.readUInt32BE(at));
  return ids;
}

export interface MebxKey {
  localKeyId: number;
  namespace: string;
  key: string;
  /** `dtyp` well-known type (65 = int8) when the namespace is 0 */
  dataType: number | null;
}

/** Keys declared by a `mebx` sample entry (`mebx/keys/<local id>/{keyd,dtyp}`). */
export function readMebxKeys(entry: Box | undefined): MebxKey[] {
  if (entry?.type !== 'mebx') return [];
  return (child(entry, 'keys')?.children ?? []).map((k) => {
    const keyd = child(k, 'keyd')?.data;
    const dtyp = child(k, 'dtyp')?.data;
    return {
      localKeyId: Buffer.from(k.type, 'latin1').readUInt32BE(0),
      namespace: keyd && keyd.length >= 4 ? fourCC(keyd, 0) : '',
      key: keyd ? keyd.toString('utf8', 4) : '',
      dataType: dtyp && dtyp.length >= 8 && dtyp.readUInt32BE(0) === 0 ? dtyp.readUInt32BE(4) : null,
    };
  });
}

/** A timed-metadata track that declares `com.apple.quicktime.still-image-time`. */
export function isStillImageTimeTrack(trak: Box): boolean {
  return readMebxKeys(firstSampleEntry(trak)).some((k) => k.key === APPLE_KEYS.stillImageTime);
}

/** All `trak` boxes of a `moov`. */
export function tracksOf(moov: Box): Box[] {
  return childrenOf(moov, 'trak');
}

/** The identity display matrix of `tkhd`/`mvhd` (16.16 a, b, u=2.30 …): "show the pixels as stored". */
const IDENTITY_MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

/**
 * Absolute file offsets of each `tkhd` display matrix in `moov` (as parsed by readTopLevelBoxes, whose box
 * offsets are absolute). tkhd v0: matrix at 40 bytes into the content, v1: at 52.
 */
export function trackMatrixOffsets(moov: Box): number[] {
  const offsets: number[] = [];
  for (const trak of moov.children?.filter((c) => c.type === 'trak') ?? []) {
    const tkhd = trak.children?.find((c) => c.type === 'tkhd');
    if (!tkhd?.data) continue;
    const at = tkhd.data[0] === 1 ? 52 : 40;
    if (tkhd.data.length >= at + 36) offsets.push(tkhd.offset + tkhd.headerSize + at);
  }
  return offsets;
}

/** The 36 bytes of an identity display matrix. */
export function identityMatrixBytes(): Buffer {
  const b = Buffer.alloc(36);
  IDENTITY_MATRIX.forEach((v, i) => b.writeUInt32BE(v, i * 4));
  return b;
}
