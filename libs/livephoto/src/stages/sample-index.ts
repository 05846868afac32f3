import type { PacketInfo } from '@vid2live/media/measures';
import { isRemoteSource } from '@vid2live/media/source-url';
import { Box, childrenOf, find, readTopLevelBoxes } from '../quicktime';
import { readEditList, readMovieHeader, trackHandler } from '../quicktime/movie';

/**
 * The plan stage's compressed-domain pass for QuickTime/MP4 sources, read from the sample tables in `moov`
 * (stts/ctts/stss/stsz + the edit list) in this process: no ffprobe start, no media data read. Sizes, key flags and
 * presentation times of the video samples in [start, start+duration), from the key frame at or before `start`,
 * on the timeline ffmpeg seeks on. Undefined whenever the tables cannot be trusted to say what ffmpeg would (a
 * remote source, another container, a fragmented file, an edit list other than "optional empty edit + one
 * segment", compact `stz2` sizes, damage): the caller then asks ffprobe.
 */
export async function readMp4PacketIndex(
  path: string,
  formatName: string,
  streamIndex: number,
  start: number,
  duration: number,
): Promise<PacketInfo[] | undefined> {
  if (isRemoteSource(path) || !/(^|,)(mov|mp4)(,|$)/.test(formatName)) return undefined;
  try {
    const layout = await readTopLevelBoxes(path);
    if (layout.boxes.some((b) => b.type === 'moof')) return undefined;
    const moov = layout.boxes.find((b) => b.type === 'moov');
    // ffmpeg's mov demuxer makes one stream per `trak`, in file order
    const trak = childrenOf(moov, 'trak')[streamIndex];
    if (!moov || !trak || trackHandler(trak) !== 'vide') return undefined;
    const samples = readSampleTables(trak);
    if (!samples) return undefined;
    const offset = editOffset(trak, readMovieHeader(moov).timescale, samples.timescale);
    if (offset === undefined) return undefined;
    const end = start + duration;
    const all: PacketInfo[] = samples.pts.map((pts, i) => ({
      time: (pts - offset.mediaTime) / samples.timescale + offset.emptySeconds,
      size: samples.sizes[i],
      key: samples.keys ? samples.keys.has(i + 1) : true,
    }));
    all.sort((a, b) => a.time - b.time);
    let first = 0;
    for (let i = 0; i < all.length && all[i].time <= start + 1e-6; i++) if (all[i].key) first = i;
    return all.slice(first).filter((p) => p.time < end);
  } catch {
    return undefined;
  }
}

interface SampleTables {
  timescale: number;
  /** presentation time of each sample in media timescale units (dts + composition offset) */
  pts: number[];
  sizes: number[];
  /** 1-based sync sample numbers; undefined = every sample is a key frame */
  keys?: Set<number>;
}

/**
 * Samples read from one track's tables (each becomes a small object): 1 M is 4.6 h at 60 fps, ~100 MB at worst.
 * A longer (or crafted) index is left to ffprobe's listing of the analysed span alone.
 */
const MAX_SAMPLES = 1_000_000;

function readSampleTables(trak: Box): SampleTables | undefined {
  const stbl = find(trak, 'mdia', 'minf', 'stbl');
  const mdhd = find(trak, 'mdia', 'mdhd')?.data;
  const stts = find(stbl, 'stts')?.data;
  const stsz = find(stbl, 'stsz')?.data;
  if (!mdhd || !stts || !stsz || mdhd.length < 24 || stts.length < 8 || stsz.length < 12) return undefined;
  const timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(20) : mdhd.readUInt32BE(12);
  if (!(timescale > 0)) return undefined;

  const uniform = stsz.readUInt32BE(4);
  const count = stsz.readUInt32BE(8);
  if (count === 0 || count > MAX_SAMPLES || (uniform === 0 && stsz.length < 12 + 4 * count)) return undefined;
  const sizes = new Array<number>(count);
  for (let i = 0; i < count; i++) sizes[i] = uniform || stsz.readUInt32BE(12 + 4 * i);

  const pts = new Array<number>(count);
  let dts = 0;
  let n = 0;
  const sttsEntries = stts.readUInt32BE(4);
  for (let e = 0, at = 8; e < sttsEntries && at + 8 <= stts.length && n < count; e++, at += 8) {
    const run = stts.readUInt32BE(at);
    const delta = stts.readUInt32BE(at + 4);
    for (let k = 0; k < run && n < count; k++, n++, dts += delta) pts[n] = dts;
  }
  if (n < count) return undefined;

  const ctts = find(stbl, 'ctts')?.data;
  if (ctts && ctts.length >= 8) {
    let s = 0;
    const entries = ctts.readUInt32BE(4);
    // version 0 offsets are unsigned in the spec but written signed by real muxers; ffmpeg reads them signed too
    for (let e = 0, at = 8; e < entries && at + 8 <= ctts.length && s < count; e++, at += 8) {
      const run = ctts.readUInt32BE(at);
      const off = ctts.readInt32BE(at + 4);
      for (let k = 0; k < run && s < count; k++, s++) pts[s] += off;
    }
  }

  const stss = find(stbl, 'stss')?.data;
  let keys: Set<number> | undefined;
  if (stss && stss.length >= 8) {
    keys = new Set();
    const entries = stss.readUInt32BE(4);
    for (let e = 0, at = 8; e < entries && at + 4 <= stss.length; e++, at += 4) keys.add(stss.readUInt32BE(at));
  }
  return { timescale, pts, sizes, keys };
}

/**
 * The shift the edit list applies (what ffmpeg's mov demuxer does for the usual lists): an optional leading empty
 * edit delays the track, the one media segment says which media time is presentation 0.
 */
function editOffset(trak: Box, movieTimescale: number, mediaTimescale: number): { mediaTime: number; emptySeconds: number } | undefined {
  const edits = readEditList(trak);
  if (edits.length === 0) return { mediaTime: 0, emptySeconds: 0 };
  let emptySeconds = 0;
  let i = 0;
  if (edits[0].mediaTime === -1) {
    if (!(movieTimescale > 0)) return undefined;
    emptySeconds = edits[0].segmentDuration / movieTimescale;
    i = 1;
  }
  const rest = edits.slice(i);
  if (rest.length !== 1 || rest[0].mediaRate !== 0x10000 || rest[0].mediaTime < 0 || !(mediaTimescale > 0)) return undefined;
  return { mediaTime: rest[0].mediaTime, emptySeconds };
}
