import { LivePhotoError } from '@vid2live/errors';
import { fourCC } from '../bmff/header';
import { Box, child, childrenOf, find } from './boxes';
import { readTopLevelBoxes } from './top-level';

/** Integrity of a QuickTime/MP4 source (the probe stage): boxes fit, `moov` parses, sample data lies inside the file. */

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
