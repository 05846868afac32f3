import { isHeifStillHead } from './heif/brands';
import { readTopLevelBoxes } from './quicktime/top-level';
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
} from './quicktime/movie';
import { readMediaTimescale, readSampleSizes } from './quicktime/sample-tables';
import { APPLE_KEYS } from './quicktime/quicktime-meta';
import { openRegularFile, readAt } from './quicktime/regular-file';
/** What the check needs of the pair's own report (inspect.ts builds it; a structural type keeps the two modules acyclic). */
interface PairReport {
  valid: boolean;
  contentIdentifier: string | null;
  stillTime: number | null;
  errors: ReadonlyArray<{ code: string }>;
}

/**
 * `inspect --wallpaper`: what the generated files reported to work as iOS 17+ lock-screen Live Wallpapers have
 * (docs/wallpaper.md), one requirement at a time. `met` / `not-met` are facts about the files; `unknown` says the
 * public evidence disagrees (or cannot be checked here). Apple publishes no rule and nothing here ran on a device:
 * a pair that meets everything may still be refused ("Motion not available").
 */
export type WallpaperStatus = 'met' | 'not-met' | 'unknown';

export type WallpaperRequirementId =
  | 'live-photo-pair'
  | 'heic-still'
  | 'portrait-1080x1920'
  | 'frame-rate-60'
  | 'duration'
  | 'video-codec'
  | 'video-bitrate'
  | 'live-photo-info-track'
  | 'still-image-time'
  | 'still-image-transform'
  | 'track-references'
  | 'track-flags'
  | 'device-verified';

export interface WallpaperRequirement {
  id: WallpaperRequirementId;
  status: WallpaperStatus;
  /** what was found */
  detail: string;
  /** where the requirement comes from (docs/wallpaper.md has the links) */
  evidence: string;
}

export interface WallpaperReport {
  /** every requirement that can be checked here is met (`device-verified` is always unknown) */
  ready: boolean;
  requirements: WallpaperRequirement[];
  note: string;
}

export const WALLPAPER_NOTE =
  'requirements copied from generated files reported to work as lock-screen Live Wallpapers (TouSC, ChasonJiang, ' +
  'pudding0503; see docs/wallpaper.md); Apple publishes no rule and vid2live has not verified this on a device';

/** 20 Mb/s: ChasonJiang's README ceiling for wallpaper clips (its samples: 11.8–15.5 Mb/s). */
const MAX_WALLPAPER_BITRATE = 20_000_000;

/** HEIC by its `ftyp` brand (JPEG starts FF D8). */
async function isHeic(path: string): Promise<boolean> {
  const { handle, size } = await openRegularFile(path);
  try {
    if (size < 12) return false;
    const head = await readAt(handle, 12, 0);
    return isHeifStillHead(head);
  } finally {
    await handle.close();
  }
}

function requirement(id: WallpaperRequirementId, status: WallpaperStatus, detail: string, evidence: string): WallpaperRequirement {
  return { id, status, detail, evidence };
}

export async function checkWallpaper(stillPath: string, moviePath: string, pair: PairReport): Promise<WallpaperRequirement[]> {
  const out: WallpaperRequirement[] = [];
  out.push(
    requirement(
      'live-photo-pair',
      pair.valid ? 'met' : 'not-met',
      pair.valid ? `a valid pair (${pair.contentIdentifier})` : `not a valid pair: ${pair.errors.map((e) => e.code).join(', ')}`,
      'spec §0–§5',
    ),
  );
  const heic = await isHeic(stillPath).catch(() => false);
  out.push(
    requirement(
      'heic-still',
      heic ? 'met' : 'not-met',
      heic ? 'the still is HEIC' : 'the still is not HEIC',
      'TouSC writes HEIC; andfaraway/live_photo_maker#2 (JPEG refused, HEIF accepted); pudding0503 verified HEIC only',
    ),
  );

  let layout;
  try {
    layout = await readTopLevelBoxes(moviePath);
  } catch (e) {
    out.push(requirement('frame-rate-60', 'unknown', `the MOV is unreadable: ${(e as Error).message}`, '—'));
    out.push(deviceVerified());
    return out;
  }
  const moov = layout.boxes.find((b) => b.type === 'moov');
  if (!moov) {
    out.push(requirement('frame-rate-60', 'unknown', 'the MOV has no moov', '—'));
    out.push(deviceVerified());
    return out;
  }
  const T = readMovieHeader(moov).timescale;
  const movieSeconds = T > 0 ? readMovieHeader(moov).duration / T : 0;
  const tracks = tracksOf(moov);
  const video = tracks.find((t) => trackHandler(t) === 'vide');
  const keysOf = (t: (typeof tracks)[number]) => readMebxKeys(firstSampleEntry(t)).map((k) => k.key);
  const info = tracks.find((t) => keysOf(t).includes(APPLE_KEYS.livePhotoInfo));
  const still = tracks.find((t) => keysOf(t).includes(APPLE_KEYS.stillImageTime));

  // Size: upright (a quarter-turn matrix swaps width and height).
  let frames = 0;
  let fps = 0;
  if (video) {
    const tkhd = readTrackHeader(video);
    const entry = firstSampleEntry(video);
    const coded = entry ? visualSampleEntrySize(entry) : null;
    const [a, b] = tkhd.matrix;
    const quarter = a === 0 && b !== 0;
    const w = coded?.width ?? tkhd.width;
    const h = coded?.height ?? tkhd.height;
    const [uw, uh] = quarter ? [h, w] : [w, h];
    const exact = uw === 1080 && uh === 1920;
    out.push(
      requirement(
        'portrait-1080x1920',
        exact ? 'met' : uh > uw && uh <= 1920 ? 'unknown' : 'not-met',
        `the video is ${uw}×${uh}${quarter ? ' (rotated by its matrix)' : ''}`,
        'TouSC 1080×1920 (TouSC#8: other sizes → "Motion Not Available"); ChasonJiang README: below 1000×2166, e.g. 886×1920',
      ),
    );
    const sizes = readSampleSizes(video);
    frames = sizes.length;
    const mediaTs = readMediaTimescale(video);
    const mdhd = video.children?.find((c) => c.type === 'mdia')?.children?.find((c) => c.type === 'mdhd')?.data;
    // a truncated mdhd reads as no duration (the requirement is then not met), never as a RangeError
    const mediaDuration = !mdhd ? 0 : mdhd[0] === 1 ? (mdhd.length >= 32 ? Number(mdhd.readBigUInt64BE(24)) : 0) : mdhd.length >= 20 ? mdhd.readUInt32BE(16) : 0;
    const seconds = mediaTs > 0 ? mediaDuration / mediaTs : 0;
    fps = seconds > 0 ? frames / seconds : 0;
    out.push(
      requirement(
        'frame-rate-60',
        fps >= 55 && fps <= 61 ? 'met' : 'not-met',
        `${fps.toFixed(2)} fps (${frames} frames in ${seconds.toFixed(3)} s)`,
        'TouSC 60 fps (AVVideoComposition frameDuration 1/60); ChasonJiang README; pudding0503 device control: 30 fps failed, 60 fps worked',
      ),
    );
    const codec = entry?.type ?? '?';
    out.push(
      requirement(
        'video-codec',
        codec === 'avc1' ? 'met' : codec === 'hvc1' ? 'unknown' : 'not-met',
        codec === 'hvc1' ? 'HEVC hvc1: reported working from Apple encoders, failing from libx265 (pudding0503 EXPERIMENTS)' : `sample entry ${codec}`,
        'TouSC writes H.264 (AVAssetWriter); pudding0503: libx265 failed, VideoToolbox HEVC worked',
      ),
    );
    const bits = sizes.reduce((s, n) => s + n, 0) * 8;
    const bitrate = seconds > 0 ? bits / seconds : 0;
    out.push(
      requirement(
        'video-bitrate',
        bitrate > 0 && bitrate <= MAX_WALLPAPER_BITRATE ? 'met' : 'not-met',
        `${(bitrate / 1e6).toFixed(1)} Mb/s`,
        'ChasonJiang README: below ~20 Mb/s',
      ),
    );
  } else {
    out.push(requirement('portrait-1080x1920', 'not-met', 'the MOV has no video track', 'TouSC#8'));
  }

  out.push(
    requirement(
      'duration',
      movieSeconds >= 0.9 && movieSeconds <= 3 ? 'met' : movieSeconds > 3 && movieSeconds <= 5 ? 'unknown' : 'not-met',
      `the movie is ${movieSeconds.toFixed(3)} s`,
      'working files: 0.92 s (TouSC), 1.05 s (ChasonJiang, pudding0503 download), 2.07 s (pudding0503); TouSC#3/#6: 3 s also reported',
    ),
  );

  if (!info) {
    out.push(requirement('live-photo-info-track', 'not-met', 'no com.apple.quicktime.live-photo-info timed-metadata track', 'spec §3.4; all three recipes add it'));
  } else {
    const samples = readSampleSizes(info).length;
    const mediaTs = readMediaTimescale(info);
    const matches = frames > 0 && samples === frames;
    out.push(
      requirement(
        'live-photo-info-track',
        matches ? 'met' : 'unknown',
        `track ${readTrackHeader(info).trackId}: ${samples} samples (timescale ${mediaTs}) for ${frames} video frames`,
        'one sample per video frame (pudding0503, genuine iPhone); TouSC keeps the template\'s 60',
      ),
    );
  }

  if (!still) {
    out.push(requirement('still-image-time', 'not-met', 'no still-image-time track', 'spec §3.3'));
    out.push(requirement('still-image-transform', 'not-met', 'no still-image-time track', 'TouSC/ChasonJiang template track'));
  } else {
    const edits = readEditList(still);
    const at = T > 0 ? edits.filter((e) => e.mediaTime === -1).reduce((s, e) => s + e.segmentDuration, 0) / T : 0;
    const inside = at > 0 && at < movieSeconds;
    out.push(
      requirement(
        'still-image-time',
        inside && pair.stillTime !== null ? 'met' : 'not-met',
        `still at ${at.toFixed(3)} s of ${movieSeconds.toFixed(3)} s`,
        'TouSC/ChasonJiang put it at 0.5 s; TouSC#2: 0 s failed where 0.5 s worked',
      ),
    );
    const hasTransform = keysOf(still).includes(APPLE_KEYS.stillImageTransform);
    out.push(
      requirement(
        'still-image-transform',
        hasTransform ? 'met' : 'not-met',
        hasTransform ? 'the still track declares live-photo-still-image-transform' : 'the still track has no live-photo-still-image-transform key',
        'TouSC metadata.mov, ChasonJiang boxes.py, pudding0503 required keys; genuine iPhone files',
      ),
    );
  }

  const videoId = video ? readTrackHeader(video).trackId : -1;
  const metaTracks = [info, still].filter((t): t is NonNullable<typeof t> => t !== undefined);
  const missing = metaTracks.filter((t) => !trackReferences(t, 'cdsc').includes(videoId));
  const infoCdep = info ? trackReferences(info, 'cdep').includes(videoId) : false;
  out.push(
    requirement(
      'track-references',
      metaTracks.length > 0 && missing.length === 0 && infoCdep ? 'met' : 'unknown',
      metaTracks.length === 0
        ? 'no metadata tracks'
        : `cdsc → video on ${metaTracks.length - missing.length}/${metaTracks.length} metadata tracks; cdep on live-photo-info: ${infoCdep ? 'yes' : 'no'}`,
      'makelive says iOS needs cdsc/cdep for "animate"; pudding0503 found cdsc not required; TouSC/ChasonJiang write none',
    ),
  );

  const flags = tracks.map((t) => readTrackHeader(t).flags);
  out.push(
    requirement(
      'track-flags',
      flags.length > 0 && flags.every((f) => (f & 0xf) === 0xf) ? 'met' : 'not-met',
      `tkhd flags ${flags.map((f) => '0x' + f.toString(16)).join(', ')}`,
      'ChasonJiang writer.py forces 0xF "for wallpaper"; genuine iPhone files use 0xF',
    ),
  );
  out.push(deviceVerified());
  return out;
}

function deviceVerified(): WallpaperRequirement {
  return requirement('device-verified', 'unknown', 'no device check: iOS decides on the phone', 'Apple publishes no wallpaper rule');
}

export async function wallpaperReport(stillPath: string, moviePath: string, pair: PairReport): Promise<WallpaperReport> {
  const requirements = await checkWallpaper(stillPath, moviePath, pair);
  return {
    ready: requirements.every((r) => r.status === 'met' || r.id === 'device-verified'),
    requirements,
    note: WALLPAPER_NOTE,
  };
}
