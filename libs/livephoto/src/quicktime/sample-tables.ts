import { LivePhotoError } from '@vid2live/errors';
import { Box, child, find } from './boxes';
import { need, readEditList } from './movie';
import { fullBox } from './writer';

/** A track's sample tables: chunk offsets (`stco`/`co64`), sample sizes (`stsz`), presentation times (`stts`/`ctts` + edit list). */

/** Chunk offset table of a track (`stco` or `co64`). */
export function chunkOffsetBox(trak: Box): Box | undefined {
  const stbl = find(trak, 'mdia', 'minf', 'stbl');
  return child(stbl, 'stco') ?? child(stbl, 'co64');
}

export function readChunkOffsets(box: Box): number[] {
  const d = need(box, box.type);
  const count = d.readUInt32BE(4);
  const width = box.type === 'co64' ? 8 : 4;
  if (8 + count * width > d.length) throw new LivePhotoError('INVALID_CONTAINER', `'${box.type}' entry count exceeds the box`);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    out[i] = width === 8 ? Number(d.readBigUInt64BE(8 + i * 8)) : d.readUInt32BE(8 + i * 4);
  }
  return out;
}

/** A chunk offset table for `offsets`: `stco` when every offset fits 32 bits, else `co64`. */
export function buildChunkOffsetBox(offsets: number[], preferred: 'stco' | 'co64' = 'stco'): Box {
  const use64 = preferred === 'co64' || offsets.some((o) => o > 0xffffffff);
  const body = Buffer.alloc(4 + offsets.length * (use64 ? 8 : 4));
  body.writeUInt32BE(offsets.length, 0);
  offsets.forEach((o, i) => {
    if (use64) body.writeBigUInt64BE(BigInt(o), 4 + i * 8);
    else body.writeUInt32BE(o, 4 + i * 4);
  });
  return fullBox(use64 ? 'co64' : 'stco', 0, 0, body);
}

/** Sample sizes of a track (`stsz`), expanded. */
export function readSampleSizes(trak: Box): number[] {
  const d = find(trak, 'mdia', 'minf', 'stbl', 'stsz')?.data;
  if (!d || d.length < 12) return [];
  const fixed = d.readUInt32BE(4);
  const count = d.readUInt32BE(8);
  if (fixed !== 0) return new Array<number>(Math.min(count, 1_000_000)).fill(fixed);
  const out: number[] = [];
  for (let i = 0; i < count && 12 + i * 4 + 4 <= d.length; i++) out.push(d.readUInt32BE(12 + i * 4));
  return out;
}

/** Size of a track's first sample, without expanding `stsz`; undefined when the track has none. */
export function firstSampleSize(trak: Box): number | undefined {
  const d = find(trak, 'mdia', 'minf', 'stbl', 'stsz')?.data;
  if (!d || d.length < 12 || d.readUInt32BE(8) === 0) return undefined;
  const fixed = d.readUInt32BE(4);
  if (fixed !== 0) return fixed;
  return d.length >= 16 ? d.readUInt32BE(12) : undefined;
}

/** Offset of a track's first chunk (`stco`/`co64`), without expanding the table; undefined when there is none. */
export function firstChunkOffset(box: Box): number | undefined {
  const d = box.data;
  const width = box.type === 'co64' ? 8 : 4;
  if (!d || d.length < 8 + width || d.readUInt32BE(4) === 0) return undefined;
  return width === 8 ? Number(d.readBigUInt64BE(8)) : d.readUInt32BE(8);
}

/** `mdia/mdhd` timescale of a track (units per second of its sample times). */
export function readMediaTimescale(trak: Box): number {
  const d = need(find(trak, 'mdia', 'mdhd'), 'mdhd');
  if (d.length < (d[0] === 1 ? 24 : 16)) throw new LivePhotoError('INVALID_CONTAINER', "'mdhd' is too short");
  return d[0] === 1 ? d.readUInt32BE(20) : d.readUInt32BE(12);
}

export interface PresentationTimes {
  /** the interval ends and starts below count 1/`unitsPerSecond` s: media timescale × movie timescale, exact */
  unitsPerSecond: number;
  /** units per tick of the movie timescale (= the media timescale) */
  unitsPerMovieTick: number;
  /** presentation interval of every sample on the movie timeline, by start time */
  frames: Array<{ start: number; end: number }>;
}

/**
 * When each sample of a track is shown on the movie timeline, exactly: decode times (`stts`) plus composition
 * offsets (`ctts`, version 0 or 1), mapped through the edit list (leading empty edits, then one media edit at
 * rate 1: what ffmpeg and iPhones write). Null for tables or edits it does not model (several media edits,
 * another rate), so a caller can fall back to plain arithmetic.
 */
export function readPresentationTimes(trak: Box, movieTimescale: number): PresentationTimes | null {
  const stbl = find(trak, 'mdia', 'minf', 'stbl');
  const stts = child(stbl, 'stts')?.data;
  const mdhd = find(trak, 'mdia', 'mdhd')?.data;
  if (!stts || stts.length < 8 || !mdhd || mdhd.length < (mdhd[0] === 1 ? 24 : 16) || movieTimescale <= 0) return null;
  const mediaTimescale = readMediaTimescale(trak);
  if (mediaTimescale <= 0) return null;

  const decode: number[] = [];
  const durations: number[] = [];
  let t = 0;
  for (let i = 0, at = 8, n = stts.readUInt32BE(4); i < n && at + 8 <= stts.length; i++, at += 8) {
    const count = stts.readUInt32BE(at);
    const delta = stts.readUInt32BE(at + 4);
    if (decode.length + count > 10_000_000) return null;
    for (let k = 0; k < count; k++, t += delta) {
      decode.push(t);
      durations.push(delta);
    }
  }
  const composition = decode.slice();
  const ctts = child(stbl, 'ctts')?.data;
  if (ctts && ctts.length >= 8) {
    // Offsets are signed in version 1; version 0 says unsigned, but only a negative value would exceed 2^31.
    let sample = 0;
    for (let i = 0, at = 8, n = ctts.readUInt32BE(4); i < n && at + 8 <= ctts.length; i++, at += 8) {
      const count = ctts.readUInt32BE(at);
      const offset = ctts.readInt32BE(at + 4);
      for (let k = 0; k < count && sample < composition.length; k++, sample++) composition[sample] += offset;
    }
  }

  let emptyUnits = 0; // movie timescale
  let mediaStart = 0; // media timescale
  const edits = readEditList(trak);
  let i = 0;
  for (; i < edits.length && edits[i].mediaTime === -1; i++) emptyUnits += edits[i].segmentDuration;
  if (i < edits.length) {
    if (edits[i].mediaRate !== 0x10000 || i !== edits.length - 1) return null;
    mediaStart = edits[i].mediaTime;
  }

  const order = composition.map((c, k) => k).sort((a, b) => composition[a] - composition[b]);
  const toMovie = (mediaTime: number) => (mediaTime - mediaStart) * movieTimescale + emptyUnits * mediaTimescale;
  const frames = order.map((k, j) => {
    const next = j + 1 < order.length ? composition[order[j + 1]] : composition[k] + durations[k];
    return { start: toMovie(composition[k]), end: toMovie(next) };
  });
  return { unitsPerSecond: mediaTimescale * movieTimescale, unitsPerMovieTick: mediaTimescale, frames };
}
