import { promises as fsp } from 'node:fs';
import { LivePhotoError, isLivePhotoError, throwIfAborted } from '@vid2live/errors';
import { Box, child, readTopLevelBoxes } from './boxes';
import {
  buildChunkOffsetBox,
  chunkOffsetBox,
  isStillImageTimeTrack,
  PresentationTimes,
  readChunkOffsets,
  readMovieHeader,
  readPresentationTimes,
  readSampleSizes,
  readTrackHeader,
  toQuickTimeSeconds,
  trackHandler,
  tracksOf,
  withHeaderTimes,
  withMovieHeader,
  withTrackFlags,
} from './movie';
import { APPLE_KEYS, MetaItem, QT_DATA_TYPE, VID2LIVE_KEYS, buildQuickTimeMeta, metaHandlerType, withoutMetaKeys } from './quicktime-meta';
import {
  APPLE_TRACK_FLAGS,
  buildStillImageTimeSample,
  buildStillImageTimeSampleWithTransform,
  buildStillImageTimeTrack,
  markerDuration,
} from './still-image-time-track';
import {
  buildLivePhotoInfoSamples,
  buildLivePhotoInfoTrack,
  isLivePhotoInfoTrack,
  livePhotoInfoLeadUnits,
  livePhotoInfoSpanUnits,
  withTrackAperture,
} from './live-photo-info-track';
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

/** A span of source bytes copied to the output; chunk offsets inside it move by `newStart - oldStart`. */
interface CopiedSpan {
  box: Box;
  /** a replacement header (size-0 boxes get an explicit size so appended boxes stay outside them) */
  newHeader?: Buffer;
  oldPayloadStart: number;
  newPayloadStart: number;
  payloadLength: number;
}

function relocate(offset: number, spans: CopiedSpan[]): number {
  for (const s of spans) {
    if (offset >= s.oldPayloadStart && offset < s.oldPayloadStart + s.payloadLength) {
      return offset - s.oldPayloadStart + s.newPayloadStart;
    }
  }
  throw new LivePhotoError('INVALID_CONTAINER', `chunk offset ${offset} points outside the media data`);
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

async function copyRange(src: fsp.FileHandle, dst: fsp.FileHandle, from: number, length: number, to: number, buf: Buffer, signal?: AbortSignal): Promise<void> {
  let done = 0;
  while (done < length) {
    throwIfAborted(signal);
    const want = Math.min(buf.length, length - done);
    const { bytesRead } = await src.read(buf, 0, want, from + done);
    if (bytesRead === 0) throw new LivePhotoError('INPUT_TRUNCATED', `source ended at ${from + done} while copying media data`);
    await writeAll(dst, buf.subarray(0, bytesRead), to + done);
    done += bytesRead;
  }
}

async function writeAll(dst: fsp.FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await dst.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
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

/**
 * A kept track with Apple's tkhd flags, its chunk offsets re-pointed at the output layout and, when given, its
 * tkhd/mdhd dated `headerTime`.
 */
function relocatedTrack(trak: Box, spans: CopiedSpan[], headerTime: number | undefined): Box {
  const co = chunkOffsetBox(trak);
  const newOffsets = co ? readChunkOffsets(co).map((o) => relocate(o, spans)) : [];
  return mapTree(trak, (b) => {
    if (b.type === 'tkhd') return datedHeader(withTrackFlags(b, APPLE_TRACK_FLAGS), headerTime);
    if (b.type === 'mdhd') return datedHeader(b, headerTime);
    if (b === co) return buildChunkOffsetBox(newOffsets, co.type === 'co64' ? 'co64' : 'stco');
    return b;
  });
}

/** `tkhd`/`mdhd` with creation/modification time `headerTime`; other boxes (and no time) unchanged. */
function datedHeader(b: Box, headerTime: number | undefined): Box {
  return headerTime !== undefined && (b.type === 'tkhd' || b.type === 'mdhd') ? withHeaderTimes(b, headerTime) : b;
}

/** Still times this close to a frame's start (float error of n/30 and the like) mean that frame. */
const FRAME_START_TOLERANCE_SECONDS = 1e-6;

/**
 * S: the still time in movie timescale units, never before the start of the video frame shown at `stillTime`.
 * Plain rounding lands one tick early whenever the frame starts between ticks — frame n of a 30 fps clip starts
 * at n/30 s, 33.33… ms in ffmpeg's default timescale 1000, so round() picks tick 33 in frame 0 for frame 1, one
 * key frame in three — and a reader then shows the previous frame. So: find the frame that contains the still
 * time (from the video's own sample table and edit list) and keep round(stillTime × T) only if it falls inside
 * that frame, else take the first tick at or after the frame's start. Without usable timing, or outside every
 * frame (a still at the very end), plain rounding.
 */
export function stillTimeUnits(stillTime: number, T: number, video: PresentationTimes | null): number {
  const rounded = Math.round(stillTime * T);
  if (!video || video.frames.length === 0) return rounded;
  const at = (stillTime + FRAME_START_TOLERANCE_SECONDS) * video.unitsPerSecond;
  // Frames are sorted by start: binary search for the last one starting at or before `at`.
  let lo = 0;
  let hi = video.frames.length - 1;
  if (video.frames[0].start > at) return rounded;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (video.frames[mid].start <= at) lo = mid;
    else hi = mid - 1;
  }
  const frame = video.frames[lo];
  if (at >= frame.end) return rounded;
  const roundedUnits = rounded * video.unitsPerMovieTick;
  if (roundedUnits >= frame.start && roundedUnits < frame.end) return rounded;
  return Math.ceil(frame.start / video.unitsPerMovieTick);
}

/** Copy of `box` with `fn` applied to every descendant (not to `box` itself). */
function mapTree(box: Box, fn: (b: Box) => Box): Box {
  if (!box.children) return box;
  return { ...box, children: box.children.map((c) => mapTree(fn(c), fn)) };
}
