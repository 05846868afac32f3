import { promises as fsp } from 'node:fs';
import { LivePhotoError, isLivePhotoError } from '@vid2live/errors';
import { Box, child } from './boxes';
import { readTopLevelBoxes } from './top-level';
import {
  isStillImageTimeTrack,
  readMovieHeader,
  readTrackHeader,
  toQuickTimeSeconds,
  trackHandler,
  tracksOf,
  withHeaderTimes,
  withMovieHeader,
} from './movie';
import {
  chunkOffsetBox,
  readChunkOffsets,
  readPresentationTimes,
  readSampleSizes,
} from './sample-tables';
import { APPLE_KEYS, MetaItem, QT_DATA_TYPE, VID2LIVE_KEYS, buildQuickTimeMeta, metaHandlerType, withoutMetaKeys } from './quicktime-meta';
import {
  buildStillImageTimeSample,
  buildStillImageTimeSampleWithTransform,
  buildStillImageTimeTrack,
  markerDuration,
  stillTimeUnits,
} from './still-image-time-track';
import {
  buildLivePhotoInfoSamples,
  buildLivePhotoInfoTrack,
  isLivePhotoInfoTrack,
  livePhotoInfoLeadUnits,
  livePhotoInfoSpanUnits,
  withTrackAperture,
} from './live-photo-info-track';
import { copyRange, CopiedSpan, datedHeader, mapTree, relocatedTrack, writeAll } from './relocate';
import { boxHeader, containerBox, leafBox, serializeBox, u32s } from './writer';

export interface LivePhotoMovMetadata {
  /** upper-case UUID shared with the still's Apple MakerNote */
  contentIdentifier: string;
  /** seconds on the movie timeline at which the still was taken */
  stillTime: number;
  /** ISO 8601 with offset (`2025-01-01T11:06:46+09:00`); stored Apple-style as `…+0900` */
  creationDate?: string;
  /**
   * the capture instant, written as creation/modification time of `mvhd` and every `tkhd`/`mdhd` (UTC seconds
   * since 1904). ffmpeg leaves them 0 when the render drops the source's metadata, and readers that date a
   * clip by `mvhd` (ffprobe's creation_time, ExifTool's CreateDate) then see 1904 or nothing.
   */
  creationTime?: Date;
  /** e.g. `+39.9990+116.3477+054.305/` */
  locationISO6709?: string;
  make?: string;
  model?: string;
  software?: string;
  /** `com.apple.quicktime.live-photo.auto` (1 on genuine captures) */
  liveAuto?: boolean;
  /** `com.vid2live.fingerprint`: the source bytes + options this pair was made from (resume checks it) */
  fingerprint?: string;
  /**
   * lock-screen Live Wallpaper structure (docs/wallpaper.md): a live-photo-info track with one sample per video
   * frame (`tref` cdsc + cdep), the still track's identity still-image transform, and `tapt` on the video track
   */
  wallpaper?: boolean;
}

export interface InjectionResult {
  /** S: still time in movie timescale units */
  stillTimeUnits: number;
  /** T: `mvhd.timescale` */
  timescale: number;
  /** track id of the new still-image-time track */
  trackId: number;
  /** the video track it describes (`tref/cdsc`) */
  videoTrackId: number;
  /** track id of the live-photo-info track (wallpaper only) */
  livePhotoInfoTrackId?: number;
}

export interface InjectionOptions {
  signal?: AbortSignal;
}

const UPPER_UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
/** Apple's file type box: major `qt  `, minor 0, compatible [`qt  `]. */
const QUICKTIME_FTYP = leafBox('ftyp', Buffer.concat([Buffer.from('qt  ', 'latin1'), u32s(0), Buffer.from('qt  ', 'latin1')]));
/** A previous injection's marker `mdat` is 17 bytes; anything this small that no track uses is dead. */
const MAX_STALE_MDAT_BYTES = 1024;
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Apple writes `2025-01-01T11:06:46+0900`: no fraction, offset without colon. Requires an explicit offset
 * so the clip is dated like the still.
 */
export function appleCreationDate(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.exec(iso);
  if (!m) throw new LivePhotoError('INVALID_OPTIONS', `creationDate must be ISO 8601 with an offset, got "${iso}"`);
  const offset = m[2] === 'Z' ? '+0000' : m[2].replace(':', '');
  return m[1] + offset;
}

function metadataItems(meta: LivePhotoMovMetadata): MetaItem[] {
  const items: MetaItem[] = [{ key: APPLE_KEYS.contentIdentifier, value: meta.contentIdentifier }];
  if (meta.creationDate !== undefined) items.push({ key: APPLE_KEYS.creationDate, value: appleCreationDate(meta.creationDate) });
  if (meta.locationISO6709 !== undefined) items.push({ key: APPLE_KEYS.locationISO6709, value: meta.locationISO6709 });
  if (meta.make !== undefined) items.push({ key: APPLE_KEYS.make, value: meta.make });
  if (meta.model !== undefined) items.push({ key: APPLE_KEYS.model, value: meta.model });
  if (meta.software !== undefined) items.push({ key: APPLE_KEYS.software, value: meta.software });
  if (meta.liveAuto !== undefined) {
    items.push({ key: APPLE_KEYS.livePhotoAuto, value: { type: QT_DATA_TYPE.unsignedIntBE, data: Buffer.from([meta.liveAuto ? 1 : 0]) } });
  }
  if (meta.fingerprint !== undefined) items.push({ key: VID2LIVE_KEYS.fingerprint, value: meta.fingerprint });
  return items;
}

/** `moov/udta` without the `mdta` keys we now write into `moov/meta` (one source of truth); null if emptied. */
function cleanedUserData(udta: Box, writtenKeys: Set<string>): Box | null {
  const children: Box[] = [];
  let changed = false;
  for (const c of udta.children ?? []) {
    if (c.type === 'meta' && metaHandlerType(c) === 'mdta') {
      const kept = withoutMetaKeys(c, (key) => writtenKeys.has(key));
      if (kept !== c) changed = true;
      if (kept) children.push(kept);
    } else {
      children.push(c);
    }
  }
  if (!changed) return udta;
  if (children.length === 0) return null;
  return { ...udta, children };
}

/**
 * Turn a QuickTime/MP4 video into the video half of a Live Photo (spec §3.6): `ftyp qt`, the source's
 * other top-level boxes in order (media data streamed, never loaded), a small `mdat` with the
 * still-image-time sample, then a rebuilt `moov` with the marker track and the `moov/meta` keys. Chunk
 * offsets are re-pointed at the moved media. Output goes to `outputPath.tmp` and is renamed into place.
 */
export async function injectLivePhotoMetadata(
  inputPath: string,
  outputPath: string,
  meta: LivePhotoMovMetadata,
  options: InjectionOptions = {},
): Promise<InjectionResult> {
  if (!UPPER_UUID.test(meta.contentIdentifier)) {
    throw new LivePhotoError('INVALID_OPTIONS', `content identifier must be an upper-case UUID, got "${meta.contentIdentifier}"`);
  }
  if (!Number.isFinite(meta.stillTime) || meta.stillTime < 0) {
    throw new LivePhotoError('INVALID_OPTIONS', `still time must be a non-negative number of seconds, got ${meta.stillTime}`);
  }
  if (meta.creationTime !== undefined && !(Number.isFinite(meta.creationTime.getTime()) && toQuickTimeSeconds(meta.creationTime) >= 0)) {
    throw new LivePhotoError('INVALID_OPTIONS', `creation time must be a valid date after 1904, got ${String(meta.creationTime)}`);
  }
  const headerTime = meta.creationTime === undefined ? undefined : toQuickTimeSeconds(meta.creationTime);
  const items = metadataItems(meta);

  const { boxes } = await readTopLevelBoxes(inputPath);
  const moov = boxes.find((b) => b.type === 'moov');
  if (!moov?.children) throw new LivePhotoError('INVALID_CONTAINER', `no 'moov' box in ${inputPath}`, { path: inputPath });
  if (child(moov, 'mvex')) {
    throw new LivePhotoError('INVALID_CONTAINER', 'fragmented MP4 (moov/mvex) is not supported; remux it first', { path: inputPath });
  }

  const mvhd = readMovieHeader(moov);
  const T = mvhd.timescale;
  if (T === 0) throw new LivePhotoError('INVALID_CONTAINER', 'movie timescale is 0');

  // A wallpaper rebuild replaces an earlier live-photo-info track too.
  const keptTracks = tracksOf(moov).filter((t) => !isStillImageTimeTrack(t) && !(meta.wallpaper && isLivePhotoInfoTrack(t)));
  const video = keptTracks.find((t) => trackHandler(t) === 'vide');
  if (!video) throw new LivePhotoError('INPUT_NO_VIDEO', `no video track in ${inputPath}`, { path: inputPath });

  const S = stillTimeUnits(meta.stillTime, T, readPresentationTimes(video, T));
  // A still exactly at the end is legitimate (the movie grows by the marker's D units).
  if (S > mvhd.duration) {
    throw new LivePhotoError('INVALID_OPTIONS', `still time ${meta.stillTime}s is beyond the movie (${mvhd.duration / T}s)`);
  }
  const D = markerDuration(T);
  const videoTrackId = readTrackHeader(video).trackId;
  const trackId = Math.max(0, ...keptTracks.map((t) => readTrackHeader(t).trackId)) + 1;
  const infoTrackId = meta.wallpaper ? trackId + 1 : undefined;
  // One sample per video frame: the video's sample count.
  const videoFrames = meta.wallpaper ? readSampleSizes(video).length : 0;
  if (meta.wallpaper && videoFrames === 0) throw new LivePhotoError('INVALID_CONTAINER', `the video track of ${inputPath} has no samples`);

  // --- Output layout: ftyp, kept top-level boxes, marker mdat, moov (last, so no offset depends on its size).
  const oldChunkOffsets = keptTracks.flatMap((t) => {
    const co = chunkOffsetBox(t);
    return co ? readChunkOffsets(co) : [];
  });
  const isReferenced = (b: Box) => oldChunkOffsets.some((o) => o >= b.offset && o < b.offset + b.size);
  const ftypBytes = serializeBox(QUICKTIME_FTYP);
  const spans: CopiedSpan[] = [];
  let position = ftypBytes.length;
  for (const b of boxes) {
    if (b.type === 'ftyp' || b.type === 'moov') continue;
    if (b.type === 'mdat' && b.size <= MAX_STALE_MDAT_BYTES && !isReferenced(b)) continue;
    const payloadLength = b.size - b.headerSize;
    const newHeader = b.extendsToEnd ? boxHeader(b.type, payloadLength) : undefined;
    const headerLength = newHeader?.length ?? b.headerSize;
    spans.push({ box: b, newHeader, oldPayloadStart: b.offset + b.headerSize, newPayloadStart: position + headerLength, payloadLength });
    position += headerLength + payloadLength;
  }
  const stillSample = meta.wallpaper ? buildStillImageTimeSampleWithTransform() : buildStillImageTimeSample();
  const infoSamples = meta.wallpaper ? buildLivePhotoInfoSamples(videoFrames) : Buffer.alloc(0);
  const markerMdat = Buffer.concat([boxHeader('mdat', stillSample.length + infoSamples.length), stillSample, infoSamples]);
  const sampleOffset = position + 8;
  const infoSampleOffset = sampleOffset + stillSample.length;
  position += markerMdat.length;

  // --- New moov.
  const writtenKeys = new Set(items.map((i) => i.key));
  const builtStillTrack = buildStillImageTimeTrack({ trackId, videoTrackId, stillTimeUnits: S, timescale: T, sampleOffset, withTransform: meta.wallpaper });
  const stillTrack = headerTime === undefined ? builtStillTrack : mapTree(builtStillTrack, (b) => datedHeader(b, headerTime));
  const builtInfoTrack =
    infoTrackId === undefined
      ? undefined
      : buildLivePhotoInfoTrack({ trackId: infoTrackId, videoTrackId, frameCount: videoFrames, timescale: T, sampleOffset: infoSampleOffset });
  const infoTrack = builtInfoTrack && headerTime !== undefined ? mapTree(builtInfoTrack, (b) => datedHeader(b, headerTime)) : builtInfoTrack;
  const infoEnd = infoTrack ? livePhotoInfoLeadUnits(T) + livePhotoInfoSpanUnits(videoFrames, T) : 0;
  const videoHeader = readTrackHeader(video);
  const lastKeptTrack = keptTracks[keptTracks.length - 1];
  const children: Box[] = [];
  for (const c of moov.children) {
    if (c.type === 'mvhd') {
      const header = withMovieHeader(c, { nextTrackId: (infoTrackId ?? trackId) + 1, duration: Math.max(mvhd.duration, S + D, infoEnd) });
      children.push(headerTime === undefined ? header : withHeaderTimes(header, headerTime));
    } else if (c.type === 'trak') {
      if (!keptTracks.includes(c)) continue;
      const relocated = relocatedTrack(c, spans, headerTime);
      children.push(meta.wallpaper && c === video ? withTrackAperture(relocated, videoHeader.width, videoHeader.height) : relocated);
      if (c === lastKeptTrack) {
        // Genuine order (and ChasonJiang's): live-photo-info, then the still-image-time track.
        if (infoTrack) children.push(infoTrack);
        children.push(stillTrack);
      }
    } else if (c.type === 'meta') {
      continue; // replaced by the new moov/meta below
    } else if (c.type === 'udta') {
      const udta = cleanedUserData(c, writtenKeys);
      if (udta) children.push(udta);
    } else {
      children.push(c);
    }
  }
  children.push(buildQuickTimeMeta(items));
  const moovBytes = serializeBox(containerBox('moov', children));

  // --- Write to a temporary file, then rename: a crash never leaves a half-written output.
  const tmpPath = `${outputPath}.tmp`;
  const src = await fsp.open(inputPath, 'r');
  let dst: fsp.FileHandle | undefined;
  try {
    dst = await fsp.open(tmpPath, 'w');
    const buf = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    await writeAll(dst, ftypBytes, 0);
    for (const s of spans) {
      if (s.newHeader) {
        await writeAll(dst, s.newHeader, s.newPayloadStart - s.newHeader.length);
        await copyRange(src, dst, s.oldPayloadStart, s.payloadLength, s.newPayloadStart, buf, options.signal);
      } else {
        await copyRange(src, dst, s.box.offset, s.box.size, s.newPayloadStart - s.box.headerSize, buf, options.signal);
      }
    }
    await writeAll(dst, markerMdat, sampleOffset - 8);
    await writeAll(dst, moovBytes, position);
    await dst.sync();
    await dst.close();
    dst = undefined;
    await fsp.rename(tmpPath, outputPath);
  } catch (e) {
    await dst?.close().catch(() => undefined);
    await fsp.rm(tmpPath, { force: true }).catch(() => undefined);
    if (isLivePhotoError(e)) throw e;
    throw new LivePhotoError('METADATA_WRITE_FAILED', `writing ${outputPath} failed: ${(e as Error).message}`, { path: outputPath }, { cause: e });
  } finally {
    await src.close();
  }

  return { stillTimeUnits: S, timescale: T, trackId, videoTrackId, ...(infoTrackId !== undefined ? { livePhotoInfoTrackId: infoTrackId } : {}) };
}
