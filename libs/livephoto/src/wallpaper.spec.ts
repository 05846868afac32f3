import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool } from '@vid2live/media/exiftool';
import { convertToLivePhoto, wallpaperCrop } from './convert';
import { LivePhotoError } from '@vid2live/errors';
import { inspectLivePhoto } from './inspect';
import { Box, child, find } from './quicktime/boxes';
import { readTopLevelBoxes } from './quicktime/top-level';
import { LIVE_PHOTO_INFO_SAMPLE } from './quicktime/live-photo-info-track';
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
import { chunkOffsetBox, readChunkOffsets, readMediaTimescale, readSampleSizes } from './quicktime/sample-tables';
import { makeSource } from '@vid2live/media/test-media';
import type { LivePhotoResult } from './types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-wallpaper-'));
afterAll(async () => {
  await closeExifTool();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const keysOf = (t: Box) => readMebxKeys(firstSampleEntry(t)).map((k) => k.key);

async function moovOf(file: string): Promise<Box> {
  const { boxes } = await readTopLevelBoxes(file);
  const moov = boxes.find((b) => b.type === 'moov');
  if (!moov) throw new Error('no moov');
  return moov;
}

function bytesAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

describe('convertToLivePhoto: profile wallpaper (landscape 1080p source with audio)', () => {
  let result: LivePhotoResult;
  let moov: Box;
  let tracks: Box[];
  const track = (pred: (t: Box) => boolean) => {
    const t = tracks.find(pred);
    if (!t) throw new Error('track missing');
    return t;
  };

  beforeAll(async () => {
    const source = makeSource('landscape-1080p-audio', path.join(tmp, 'src'));
    result = await convertToLivePhoto({ source, outputDir: path.join(tmp, 'out'), baseName: 'WALL', options: { profile: 'wallpaper' } });
    moov = await moovOf(result.moviePath);
    tracks = tracksOf(moov);
  }, 120_000);

  it('writes WALL.HEIC + WALL.MOV, portrait 1080×1920, and says it is not verified on a device', () => {
    expect(path.basename(result.stillPath)).toBe('WALL.HEIC');
    expect(bytesAt(result.stillPath, 4, 8).toString('latin1')).toMatch(/^ftyp(heic|mif1)$/);
    expect([result.width, result.height]).toEqual([1080, 1920]);
    expect(result.profile).toBe('wallpaper');
    expect(result.reasons.join('\n')).toMatch(/not verified on a device/);
    expect(result.stillTime).toBeCloseTo(0.5, 6);
  });

  it('has exactly video + live-photo-info + still-image-time tracks (the silent wallpaper drops the audio)', () => {
    expect(tracks.map((t) => trackHandler(t))).toEqual(['vide', 'meta', 'meta']);
    expect(keysOf(tracks[1])).toEqual(['com.apple.quicktime.live-photo-info']);
    expect(keysOf(tracks[2])).toEqual(['com.apple.quicktime.still-image-time', 'com.apple.quicktime.live-photo-still-image-transform']);
  });

  it('encodes H.264 avc1 1080×1920 at 60 fps for 1 s, with tapt and flags 0xF on every track', () => {
    const video = track((t) => trackHandler(t) === 'vide');
    const entry = firstSampleEntry(video)!;
    expect(entry.type).toBe('avc1');
    expect(visualSampleEntrySize(entry)).toEqual({ width: 1080, height: 1920 });
    const frames = readSampleSizes(video).length;
    expect(frames).toBe(60);
    const mdhd = find(video, 'mdia', 'mdhd')!.data!;
    const seconds = mdhd.readUInt32BE(16) / readMediaTimescale(video);
    expect(frames / seconds).toBeCloseTo(60, 3);
    expect(child(video, 'tapt')?.children?.map((c) => c.type)).toEqual(['clef', 'prof', 'enof']);
    expect(find(video, 'tapt', 'enof')!.data!.readUInt32BE(4) >>> 16).toBe(1080);
    for (const t of tracks) expect(readTrackHeader(t).flags).toBe(0xf);
  });

  it('live-photo-info: one 144-byte sample per video frame at 60000/1000, a 1/20 s lead, cdsc + cdep → video', () => {
    const video = track((t) => trackHandler(t) === 'vide');
    const videoId = readTrackHeader(video).trackId;
    const info = track((t) => keysOf(t).includes('com.apple.quicktime.live-photo-info'));
    expect(readMediaTimescale(info)).toBe(60000);
    const sizes = readSampleSizes(info);
    expect(sizes).toHaveLength(readSampleSizes(video).length);
    expect(new Set(sizes)).toEqual(new Set([144]));
    expect(find(info, 'mdia', 'minf', 'stbl', 'stts')!.data!.readUInt32BE(12)).toBe(1000);
    expect(readEditList(info).map((e) => [e.segmentDuration, e.mediaTime])).toEqual([
      [30, -1],
      [600, 0],
    ]);
    expect(trackReferences(info, 'cdsc')).toEqual([videoId]);
    expect(trackReferences(info, 'cdep')).toEqual([videoId]);
    // The setup plist and the reference dimensions sit in the key box.
    const keyBox = child(firstSampleEntry(info)!, 'keys')!.children![0];
    expect(keyBox.children!.map((c) => c.type)).toEqual(['keyd', 'dtyp', 'setu', 'ctps']);
    // `setu` holds `cfgv` (a binary plist) then `dims` 1920×1440 (the reader keeps it as bytes).
    const setu = child(keyBox, 'setu')!.data!;
    expect(setu.toString('latin1', 4, 16)).toBe('cfgvbplist00');
    const dims = setu.subarray(setu.readUInt32BE(0));
    expect([dims.toString('latin1', 4, 8), dims.readUInt32BE(8), dims.readUInt32BE(12)]).toEqual(['dims', 1920, 1440]);
    const [first] = readChunkOffsets(chunkOffsetBox(info)!);
    const all = bytesAt(result.moviePath, first, 144 * sizes.length);
    for (let i = 0; i < sizes.length; i++) expect(all.subarray(i * 144, (i + 1) * 144).equals(LIVE_PHOTO_INFO_SAMPLE)).toBe(true);
  });

  it('still track: still-image-time −1 at 0.5 s plus an identity still-image transform (89-byte sample)', () => {
    const still = track((t) => keysOf(t).includes('com.apple.quicktime.still-image-time'));
    expect(readEditList(still).map((e) => [e.segmentDuration, e.mediaTime])).toEqual([
      [300, -1],
      [1, 0],
    ]);
    expect(readSampleSizes(still)).toEqual([89]);
    const sample = bytesAt(result.moviePath, readChunkOffsets(chunkOffsetBox(still)!)[0], 89);
    expect(sample.subarray(0, 9).toString('hex')).toBe('0000000900000001ff');
    expect(sample.readUInt32BE(9)).toBe(80);
    expect(sample.readUInt32BE(13)).toBe(2);
    const matrix = Array.from({ length: 9 }, (_, i) => sample.readDoubleBE(17 + i * 8));
    expect(matrix).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const dtyp = find(child(firstSampleEntry(still)!, 'keys')!.children![1], 'dtyp')!.data!;
    expect(dtyp.readUInt32BE(4)).toBe(83);
    expect(trackReferences(still, 'cdsc')).toEqual([readTrackHeader(tracks[0]).trackId]);
  });

  it('movie: 1.05 s (the live-photo-info lead + 1 s, like the template) and next_track_ID after the new tracks', () => {
    const mvhd = readMovieHeader(moov);
    expect(mvhd.duration / mvhd.timescale).toBeCloseTo(1.05, 6);
    expect(mvhd.nextTrackId).toBe(Math.max(...tracks.map((t) => readTrackHeader(t).trackId)) + 1);
  });

  it('inspect --wallpaper: a valid pair, every requirement met but the device check (unknown)', async () => {
    const report = await inspectLivePhoto(result.stillPath, result.moviePath, { wallpaper: true });
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
    const w = report.wallpaper!;
    expect(w.note).toMatch(/not verified this on a device/);
    const status = Object.fromEntries(w.requirements.map((r) => [r.id, r.status]));
    expect(status).toEqual({
      'live-photo-pair': 'met',
      'heic-still': 'met',
      'portrait-1080x1920': 'met',
      'frame-rate-60': 'met',
      'video-codec': 'met',
      'video-bitrate': 'met',
      duration: 'met',
      'live-photo-info-track': 'met',
      'still-image-time': 'met',
      'still-image-transform': 'met',
      'track-references': 'met',
      'track-flags': 'met',
      'device-verified': 'unknown',
    });
    expect(w.ready).toBe(true);
  });
});

describe('inspect --wallpaper on an ordinary (standard) Live Photo', () => {
  it('reports the wallpaper requirements it does not meet, one by one', async () => {
    const source = makeSource('no-audio', path.join(tmp, 'src-std'));
    const result = await convertToLivePhoto({ source, outputDir: path.join(tmp, 'out-std'), baseName: 'STD', options: { duration: 1 } });
    const report = await inspectLivePhoto(result.stillPath, result.moviePath, { wallpaper: true });
    expect(report.valid).toBe(true);
    const status = Object.fromEntries(report.wallpaper!.requirements.map((r) => [r.id, r.status]));
    expect(status).toMatchObject({
      'live-photo-pair': 'met',
      'heic-still': 'not-met',
      'portrait-1080x1920': 'not-met',
      'frame-rate-60': 'not-met',
      'live-photo-info-track': 'not-met',
      'still-image-transform': 'not-met',
      'track-flags': 'met',
      'device-verified': 'unknown',
    });
    expect(report.wallpaper!.ready).toBe(false);
    // Without the option the report is unchanged.
    expect((await inspectLivePhoto(result.stillPath, result.moviePath)).wallpaper).toBeUndefined();
  }, 120_000);
});

describe('wallpaperCrop', () => {
  it('centres the largest 9:16 rectangle on a landscape or a tall picture', () => {
    expect(wallpaperCrop({ displayWidth: 1920, displayHeight: 1080 })).toEqual({ x: 656.25, y: 0, width: 607.5, height: 1080 });
    expect(wallpaperCrop({ displayWidth: 1080, displayHeight: 2400 })).toEqual({ x: 0, y: 240, width: 1080, height: 1920 });
  });

  it('keeps a user rectangle that is 9:16 and inside the picture, refuses others', () => {
    expect(wallpaperCrop({ displayWidth: 1920, displayHeight: 1080 }, { x: 0, y: 0, width: 540, height: 960 })).toEqual({ x: 0, y: 0, width: 540, height: 960 });
    expect(() => wallpaperCrop({ displayWidth: 1920, displayHeight: 1080 }, { x: 1500, y: 0, width: 540, height: 960 })).toThrow(LivePhotoError);
    expect(() => wallpaperCrop({ displayWidth: 1920, displayHeight: 1080 }, { x: 0, y: 0, width: 600, height: 960 })).toThrow(/9:16/);
  });

  it('crop without the wallpaper profile is refused', async () => {
    await expect(
      convertToLivePhoto({ source: '/nonexistent.mp4', outputDir: tmp, baseName: 'X', options: { crop: { x: 0, y: 0, width: 9, height: 16 } } }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});

describe('wallpaper framing around the motion (real decode)', () => {
  /** a still grey 1920×1080 picture with a moving 300×300 testsrc2 patch whose left edge is at `x` */
  function patchVideo(x: number, name: string): string {
    const file = path.join(tmp, name);
    execFileSync('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'color=c=0x505050:s=1920x1080:r=30:d=3',
      '-f', 'lavfi', '-i', 'testsrc2=s=300x300:r=30:d=3',
      '-filter_complex', `[0][1]overlay=${x}:390:shortest=1`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file,
    ]);
    return file;
  }

  it('puts the 9:16 crop over the moving part on the right, and keeps it centred when the motion is in the middle', async () => {
    const right = await convertToLivePhoto({ source: patchVideo(1550, 'right.mp4'), outputDir: path.join(tmp, 'framed'), baseName: 'RIGHT', options: { profile: 'wallpaper' } });
    // the patch (x 1550–1850) is inside the crop, which is not the centred one (x 656)
    expect(right.crop!.x).toBeLessThanOrEqual(1550);
    expect(right.crop!.x + right.crop!.width).toBeGreaterThanOrEqual(1850);
    expect(right.reasons.join('\n')).toMatch(/around the motion/);
    const centre = await convertToLivePhoto({ source: patchVideo(810, 'centre.mp4'), outputDir: path.join(tmp, 'framed'), baseName: 'CENTRE', options: { profile: 'wallpaper' } });
    expect(centre.crop!.x).toBeCloseTo(656.25, 1);
    expect(centre.reasons.join('\n')).toMatch(/centred 9:16 crop/);
    // the user's crop wins over the measure
    const given = await convertToLivePhoto({
      source: path.join(tmp, 'right.mp4'),
      outputDir: path.join(tmp, 'framed'),
      baseName: 'GIVEN',
      options: { profile: 'wallpaper', crop: { x: 0, y: 0, width: 607.5, height: 1080 } },
    });
    expect(given.crop).toEqual({ x: 0, y: 0, width: 607.5, height: 1080 });
  }, 180_000);
});
