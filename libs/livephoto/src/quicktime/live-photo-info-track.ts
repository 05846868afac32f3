import { LivePhotoError } from '@vid2live/errors';
import type { Box } from './boxes';
import { child } from './boxes';
import { firstSampleEntry, readMebxKeys } from './movie';
import { APPLE_KEYS } from './quicktime-meta';
import { APPLE_TRACK_FLAGS } from './still-image-time-track';
import { containerBox, fullBox, leafBox, u32s, u32Type } from './writer';

/**
 * The `com.apple.quicktime.live-photo-info` timed-metadata track: one sample per video frame. Only the lock-screen
 * Live Wallpaper needs it (spec §3.4, docs/wallpaper.md); ordinary Live Photos never carry it here.
 *
 * Timing follows the generated files reported to work as wallpapers (TouSC/Video2LivePhoto `metadata.mov`,
 * ChasonJiang/Video2LivePhoto `templates.py`, pudding0503/live-photo-batch `prepare_wallpaper_video.py`): media
 * timescale 60000, 1000 ticks a sample (60 per second), a leading empty edit of 1/20 s, then the samples.
 *
 * Content is opaque Apple data. The sample entry's setup plist (`setu/cfgv`) and the per-frame sample are the
 * iOS 18.2 values of the genuine iPhone 15 Plus fixture IMG_3853.MOV (gwy15/Apple-photo-to-UltraHDR-motion-photo,
 * Apache-2.0; see /work/shared/fixtures/iphone-live-photo/NOTICE.md): its 144-byte sample form (the size and layout
 * the public recipes use, from an iOS 17.0 capture), repeated for every frame as those recipes do. Not verified on a
 * device.
 */

export const LIVE_PHOTO_INFO_MEDIA_TIMESCALE = 60000;
/** 60 samples a second, like every working recipe. */
export const LIVE_PHOTO_INFO_SAMPLE_TICKS = 1000;
export const LIVE_PHOTO_INFO_LOCAL_KEY_ID = 1;
/** `dims` of the setup: the capture size the sample's geometry refers to (1920×1440 in every public file). */
export const LIVE_PHOTO_INFO_DIMENSIONS = { width: 1920, height: 1440 } as const;

/** `cfgv`: binary plist {LivePhotoMetadataSetupDataVersion 1, SystemVersion {iPhone OS 18.2 22C152}, FrameworkVersions}. */
const SETUP_PLIST_B64 =
  'YnBsaXN0MDDTAQIDBAUMXxAhTGl2ZVBob3RvTWV0YWRhdGFTZXR1cERhdGFWZXJzaW9uXVN5c3RlbVZlcnNpb25fEBFGcmFtZXdvcmtWZXJzaW9ucxAB' +
  '0wYHCAkKC18QE1Byb2R1Y3RCdWlsZFZlcnNpb25bUHJvZHVjdE5hbWVeUHJvZHVjdFZlcnNpb25WMjJDMTUyWWlQaG9uZSBPU1QxOC4y1Q0ODxAREhMU' +
  'FRZeSDEzSVNQU2VydmljZXNaQ29yZU1vdGlvbl1DTUNhcHR1cmVDb3JlXkgxMElTUFNlcnZpY2VzWUNvcmVNZWRpYVU5LjMwNFkyOTUzLjAuMzBZNTg3' +
  'LjYyLjE4VDIxLjBbMzE4NS4xOC4xLjMACAAPADMAQQBVAFcAXgB0AIAAjwCWAKAApQCwAL8AygDYAOcA8QD3AQEBCwEQAAAAAAAAAgEAAAAAAAAAFwAA' +
  'AAAAAAAAAAAAAAAAARw=';

/** One 144-byte sample: item size 0x90, local key 1, then the version-3 motion record. */
const SAMPLE_B64 =
  'AAAAkAAAAAEDAAAAPsvzOTUw/ENvAAAAZJd3wvqFZMPK14I8yAcZPTAq+T9Ty7Y/BAD/AAAAAAAAAAAAAAAAAAAAAAAAAAAAIQAAAJo+lT/8TH8+MIWq' +
  'xI+gZj7+1Kk9qlLlxIWehzn0wh464yaAvwAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAA';

export const LIVE_PHOTO_INFO_SAMPLE: Buffer = Buffer.from(SAMPLE_B64, 'base64');
export const LIVE_PHOTO_INFO_SAMPLE_SIZE = LIVE_PHOTO_INFO_SAMPLE.length;

/** The `dtyp` namespace 1 (reverse-DNS type) string Apple writes for this key. */
const LIVE_PHOTO_INFO_TYPE = 'com.apple.quicktime.com.apple.quicktime.live-photo-info';

export interface LivePhotoInfoTrackParams {
  trackId: number;
  videoTrackId: number;
  /** one sample per video frame */
  frameCount: number;
  /** T: `mvhd.timescale` */
  timescale: number;
  /** absolute file offset of the first sample (all samples are one chunk) */
  sampleOffset: number;
}

/** Leading empty edit of 1/20 s in movie units (30 at T = 600, as in every working recipe). */
export function livePhotoInfoLeadUnits(timescale: number): number {
  return Math.round(timescale / 20);
}

/** Movie-timescale duration of the samples: frameCount × 1000 / 60000 s. */
export function livePhotoInfoSpanUnits(frameCount: number, timescale: number): number {
  return Math.round((frameCount * LIVE_PHOTO_INFO_SAMPLE_TICKS * timescale) / LIVE_PHOTO_INFO_MEDIA_TIMESCALE);
}

/** The samples of the track, back to back (one chunk). */
export function buildLivePhotoInfoSamples(frameCount: number): Buffer {
  return Buffer.concat(new Array<Buffer>(frameCount).fill(LIVE_PHOTO_INFO_SAMPLE));
}

function pascalString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** `mebx` key box of live-photo-info: `keyd`, `dtyp` (namespace 1), `setu` {`cfgv`, `dims`}, `ctps`. */
function livePhotoInfoKeyBox(): Box {
  const keyd = leafBox('keyd', Buffer.concat([Buffer.from('mdta', 'latin1'), Buffer.from(APPLE_KEYS.livePhotoInfo, 'utf8')]));
  const dtyp = leafBox('dtyp', Buffer.concat([u32s(1), Buffer.from(LIVE_PHOTO_INFO_TYPE, 'utf8')]));
  const setu = containerBox('setu', [
    leafBox('cfgv', Buffer.from(SETUP_PLIST_B64, 'base64')),
    leafBox('dims', u32s(LIVE_PHOTO_INFO_DIMENSIONS.width, LIVE_PHOTO_INFO_DIMENSIONS.height)),
  ]);
  // `ctps`: a nested, empty `dtyp` (16 bytes), exactly as in the genuine and template files.
  const ctps = leafBox('ctps', Buffer.concat([u32s(16), Buffer.from('dtyp', 'latin1'), u32s(0, 0)]));
  return containerBox(u32Type(LIVE_PHOTO_INFO_LOCAL_KEY_ID), [keyd, dtyp, setu, ctps]);
}

function fitsU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** The live-photo-info `trak`, with `tref` cdsc + cdep → the video track (genuine iPhone layout, makelive). */
export function buildLivePhotoInfoTrack(p: LivePhotoInfoTrackParams): Box {
  const T = p.timescale;
  const lead = livePhotoInfoLeadUnits(T);
  const span = livePhotoInfoSpanUnits(p.frameCount, T);
  const mediaDuration = p.frameCount * LIVE_PHOTO_INFO_SAMPLE_TICKS;
  if (
    !(p.frameCount >= 1) || !fitsU32(lead + span) || !fitsU32(mediaDuration) || !fitsU32(p.trackId) || p.trackId === 0 ||
    !fitsU32(p.videoTrackId) || !fitsU32(p.sampleOffset)
  ) {
    throw new LivePhotoError('METADATA_WRITE_FAILED', 'live-photo-info track parameters out of range', { ...p });
  }
  const tkhd = fullBox(
    'tkhd',
    0,
    APPLE_TRACK_FLAGS,
    Buffer.concat([
      u32s(0, 0, p.trackId, 0, lead + span),
      Buffer.alloc(8),
      Buffer.alloc(8),
      u32s(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000),
      u32s(0, 0),
    ]),
  );
  const elst = fullBox('elst', 0, 0, u32s(2, lead, 0xffffffff, 0x00010000, span, 0, 0x00010000));
  const tref = containerBox('tref', [leafBox('cdsc', u32s(p.videoTrackId)), leafBox('cdep', u32s(p.videoTrackId))]);
  const mdhd = fullBox('mdhd', 0, 0, Buffer.concat([u32s(0, 0, LIVE_PHOTO_INFO_MEDIA_TIMESCALE, mediaDuration), Buffer.from([0x55, 0xc4, 0, 0])]));
  const mediaHandler = fullBox('hdlr', 0, 0, Buffer.concat([Buffer.from('mhlrmetaappl', 'latin1'), u32s(1, 0), pascalString('Core Media Metadata')]));
  const gmhd = containerBox('gmhd', [fullBox('gmin', 0, 0, Buffer.from([0x00, 0x40, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0, 0, 0, 0]))]);
  const dataHandler = fullBox('hdlr', 0, 0, Buffer.concat([Buffer.from('dhlralisappl', 'latin1'), u32s(0, 0), pascalString('Core Media Data Handler')]));
  const dinf = containerBox('dinf', [containerBox('dref', [fullBox('alis', 0, 1, Buffer.alloc(0))], u32s(0, 1))]);
  const mebx = containerBox('mebx', [containerBox('keys', [livePhotoInfoKeyBox()])], Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]));
  const stbl = containerBox('stbl', [
    containerBox('stsd', [mebx], u32s(0, 1)),
    fullBox('stts', 0, 0, u32s(1, p.frameCount, LIVE_PHOTO_INFO_SAMPLE_TICKS)),
    fullBox('stsc', 0, 0, u32s(1, 1, p.frameCount, 1)),
    fullBox('stsz', 0, 0, u32s(LIVE_PHOTO_INFO_SAMPLE_SIZE, p.frameCount)),
    fullBox('stco', 0, 0, u32s(1, p.sampleOffset)),
  ]);
  const minf = containerBox('minf', [gmhd, dataHandler, dinf, stbl]);
  const mdia = containerBox('mdia', [mdhd, mediaHandler, minf]);
  return containerBox('trak', [tkhd, containerBox('edts', [elst]), tref, mdia]);
}

/** A timed-metadata track that declares `com.apple.quicktime.live-photo-info`. */
export function isLivePhotoInfoTrack(trak: Box): boolean {
  return readMebxKeys(firstSampleEntry(trak)).some((k) => k.key === APPLE_KEYS.livePhotoInfo);
}

/**
 * `tapt` (track aperture: clean, production, encoded dimensions), which every genuine iPhone video track and the
 * ChasonJiang wallpaper recipe carry; for square pixels and no clean-aperture crop all three are the frame size.
 */
export function buildTrackAperture(width: number, height: number): Box {
  const dims = u32s(width * 0x10000, height * 0x10000);
  return containerBox('tapt', [fullBox('clef', 0, 0, dims), fullBox('prof', 0, 0, dims), fullBox('enof', 0, 0, dims)]);
}

/** The video `trak` with a `tapt` right after its `tkhd` (unchanged when it has one). */
export function withTrackAperture(trak: Box, width: number, height: number): Box {
  if (!trak.children || child(trak, 'tapt')) return trak;
  const at = trak.children.findIndex((c) => c.type === 'tkhd');
  const children = [...trak.children];
  children.splice(at + 1, 0, buildTrackAperture(width, height));
  return { ...trak, children };
}
