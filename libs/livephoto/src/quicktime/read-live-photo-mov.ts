import { promises as fsp } from 'node:fs';
import { LivePhotoError } from '@vid2live/errors';
import { fourCC } from '../bmff/header';
import { Box, child } from './boxes';
import { readTopLevelBoxes } from './top-level';
import { openRegularFile } from './regular-file';
import {
  firstSampleEntry,
  readEditList,
  readMebxKeys,
  readMovieHeader,
  readTrackHeader,
  trackHandler,
  trackReferences,
  tracksOf,
  visualSampleEntrySize,
} from './movie';
import { chunkOffsetBox, firstChunkOffset, firstSampleSize } from './sample-tables';
import { APPLE_KEYS, DecodedMetaValue, metaHandlerType, readMetaEntries } from './quicktime-meta';

export interface LivePhotoMovTrack {
  trackId: number;
  /** `mdia/hdlr` subtype: `vide`, `soun`, `meta`, … */
  handler: string;
  /** first sample entry type (`hvc1`, `avc1`, `mp4a`, `mebx`, …) */
  codec?: string;
  tkhdFlags: number;
}

export interface StillImageTimeTrackInfo {
  trackId: number;
  /** the still-image-time item of the first sample (genuine: −1; AVAssetWriter recipes: 0) */
  value: number | null;
  /** seconds on the movie timeline: Σ empty-edit durations / T */
  stillTime: number;
  /** `dtyp` of the still-image-time key (65 = int8) */
  keyDataType: number | null;
  hasCdsc: boolean;
  cdscTrackId?: number;
  handler: string;
}

export interface VideoTrackInfo {
  trackId: number;
  codec: string;
  /** coded size from the sample entry (tkhd size when the entry has none) */
  width: number;
  height: number;
  /** tkhd display matrix as stored */
  matrix: number[];
  /** seconds */
  duration: number;
  tkhdFlags: number;
}

export interface LivePhotoMovInfo {
  ftypMajorBrand: string | null;
  /** top-level box types in file order (e.g. `ftyp wide mdat moov`) */
  topLevel: string[];
  timescale: number;
  /** seconds */
  movieDuration: number;
  /** where the `mdta` keys were found: `moov/meta` (Apple) wins over `moov/udta/meta` (ffmpeg, pitfall P3) */
  metaLocation: 'moov' | 'udta' | null;
  /** the chosen `meta` has ISO version/flags (AVFoundation drops such a `moov/meta`, P3) */
  metaIsFullBox: boolean;
  keys: Record<string, DecodedMetaValue>;
  /** `mdta` keys found in `moov/udta/meta`, whatever `metaLocation` says */
  udtaKeys: Record<string, DecodedMetaValue>;
  contentIdentifier: string | null;
  stillImageTrack: StillImageTimeTrackInfo | null;
  videoTrack: VideoTrackInfo | null;
  tracks: LivePhotoMovTrack[];
}

/** Bigger samples are not still-image-time markers (genuine: 9 or 105 bytes). */
const MAX_MARKER_SAMPLE_BYTES = 64 * 1024;

/** `mdta` `meta` boxes directly under `parent`, with whether each is an ISO FullBox. */
function mdtaMeta(parent: Box | undefined): { meta: Box; fullBox: boolean } | null {
  for (const meta of parent?.children ?? []) {
    if (meta.type === 'meta' && metaHandlerType(meta) === 'mdta' && child(meta, 'keys')) {
      return { meta, fullBox: (meta.prefix?.length ?? 0) === 4 };
    }
  }
  return null;
}

function entriesRecord(meta: Box): Record<string, DecodedMetaValue> {
  const out: Record<string, DecodedMetaValue> = {};
  for (const e of readMetaEntries(meta)) out[e.key] = e.value;
  return out;
}

/**
 * Find the still-image-time item in a timed-metadata sample: a run of {u32 size, u32 local_key_id, value}.
 * Genuine samples carry several items (still-image-time, transform, reference dimensions).
 */
function stillImageTimeValue(sample: Buffer, localKeyId: number, dataType: number | null): number | null {
  for (let at = 0; at + 8 <= sample.length; ) {
    const size = sample.readUInt32BE(at);
    if (size < 8 || at + size > sample.length) return null;
    if (sample.readUInt32BE(at + 4) === localKeyId) {
      const value = sample.subarray(at + 8, at + size);
      if (value.length === 0) return null;
      if (dataType === 65 || value.length === 1) return value.readInt8(0);
      return value.length <= 6 ? value.readIntBE(0, value.length) : null;
    }
    at += size;
  }
  return null;
}

async function readBytes(handle: fsp.FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, offset);
  if (bytesRead !== length) {
    throw new LivePhotoError('INVALID_CONTAINER', `sample at ${offset} (${length} B) lies beyond the end of the file`);
  }
  return buf;
}

/**
 * Read what makes a MOV a Live Photo video: brand, `mdta` keys (and where they live), the still-image-time
 * track (value read from the sample in the media data) and the video track. Never loads `mdat`.
 */
export async function readLivePhotoMov(path: string): Promise<LivePhotoMovInfo> {
  const { boxes } = await readTopLevelBoxes(path);
  const moov = boxes.find((b) => b.type === 'moov');
  if (!moov) throw new LivePhotoError('INVALID_CONTAINER', `no 'moov' box in ${path}`, { path });
  const ftyp = boxes.find((b) => b.type === 'ftyp');
  const mvhd = readMovieHeader(moov);
  const T = mvhd.timescale;

  const moovMeta = mdtaMeta(moov);
  const udtaMeta = mdtaMeta(child(moov, 'udta'));
  const chosen = moovMeta ?? udtaMeta;
  const keys = chosen ? entriesRecord(chosen.meta) : {};
  const contentIdentifier = keys[APPLE_KEYS.contentIdentifier];

  const tracks: LivePhotoMovTrack[] = [];
  let videoTrack: VideoTrackInfo | null = null;
  let stillImageTrack: StillImageTimeTrackInfo | null = null;
  const { handle } = await openRegularFile(path);
  try {
    for (const trak of tracksOf(moov)) {
      const tkhd = readTrackHeader(trak);
      const handler = trackHandler(trak) ?? '';
      const entry = firstSampleEntry(trak);
      tracks.push({ trackId: tkhd.trackId, handler, ...(entry ? { codec: entry.type } : {}), tkhdFlags: tkhd.flags });

      if (handler === 'vide' && !videoTrack && entry) {
        const coded = visualSampleEntrySize(entry);
        videoTrack = {
          trackId: tkhd.trackId,
          codec: entry.type,
          width: coded?.width ?? tkhd.width,
          height: coded?.height ?? tkhd.height,
          matrix: tkhd.matrix,
          duration: T > 0 ? tkhd.duration / T : 0,
          tkhdFlags: tkhd.flags,
        };
      }

      const stillKey = readMebxKeys(entry).find((k) => k.key === APPLE_KEYS.stillImageTime);
      if (stillKey && !stillImageTrack) {
        const emptyEdits = readEditList(trak)
          .filter((e) => e.mediaTime === -1)
          .reduce((sum, e) => sum + e.segmentDuration, 0);
        let value: number | null = null;
        const offsets = chunkOffsetBox(trak);
        const firstSize = firstSampleSize(trak);
        if (offsets && firstSize && firstSize <= MAX_MARKER_SAMPLE_BYTES) {
          const firstChunk = firstChunkOffset(offsets);
          if (firstChunk !== undefined) {
            value = stillImageTimeValue(await readBytes(handle, firstChunk, firstSize), stillKey.localKeyId, stillKey.dataType);
          }
        }
        const cdsc = trackReferences(trak, 'cdsc');
        stillImageTrack = {
          trackId: tkhd.trackId,
          value,
          stillTime: T > 0 ? emptyEdits / T : 0,
          keyDataType: stillKey.dataType,
          hasCdsc: cdsc.length > 0,
          ...(cdsc.length > 0 ? { cdscTrackId: cdsc[0] } : {}),
          handler,
        };
      }
    }
  } finally {
    await handle.close();
  }

  return {
    ftypMajorBrand: ftyp?.data && ftyp.data.length >= 4 ? fourCC(ftyp.data, 0) : null,
    topLevel: boxes.map((b) => b.type),
    timescale: T,
    movieDuration: T > 0 ? mvhd.duration / T : 0,
    metaLocation: moovMeta ? 'moov' : udtaMeta ? 'udta' : null,
    metaIsFullBox: chosen?.fullBox ?? false,
    keys,
    udtaKeys: udtaMeta ? entriesRecord(udtaMeta.meta) : {},
    contentIdentifier: typeof contentIdentifier === 'string' ? contentIdentifier : null,
    stillImageTrack,
    videoTrack,
    tracks,
  };
}
