import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { loadRecording, recordedPath, writeRecordedSource } from '../recorded/media-recording';
import { replayMediaTools } from '../recorded/replay-media-tools';
import { probeSource, sourceInfoFromFfprobe } from './probe';
import type { SourceInfo } from '../types';

/**
 * The probe stage on ffprobe answers recorded from real runs (recorded/fixtures, made by record-fixtures.ts from
 * ../shared/fixtures and from the clips probe.spec.ts / real-media.spec.ts generate): how the JSON is read, and how
 * each kind of bad input is told apart. No process starts; the same cases run on real files in probe.spec.ts and
 * real-media.spec.ts.
 */

/** SourceInfo of a recorded source, read from its recorded ffprobe JSON. */
function infoOf(name: string): SourceInfo {
  const rec = loadRecording(name);
  return sourceInfoFromFfprobe(recordedPath(name), rec.sizeBytes, rec.probe.data!);
}

describe('ffprobe JSON → SourceInfo (recorded from real files)', () => {
  it('a landscape video with audio and Apple tags: capture time with offset, GPS, make/model', () => {
    const info = infoOf('tagged.mov');
    expect(info).toMatchObject({
      formatName: expect.stringContaining('mov'),
      width: 320, height: 240, rotation: 0, mirrored: false, displayWidth: 320, displayHeight: 240,
      fps: 30, variableFrameRate: false, frameCount: 60,
      videoCodec: 'h264', pixelFormat: 'yuv420p', bitDepth: 8,
      hasAudio: true, audioCodec: 'aac',
      captureTime: '2025-01-01T11:06:46+0900',
      make: 'Apple', model: 'iPhone 15 Plus',
    });
    expect(info.duration).toBeCloseTo(2, 1);
    expect(info.gps!.latitude).toBeCloseTo(39.999, 4);
    expect(info.gps!.longitude).toBeCloseTo(116.3477, 4);
    expect(info.gps!.altitude).toBeCloseTo(54.305, 3);
  });

  it('the genuine iPhone Live Photo MOV: HEVC, LPCM, Apple keys', () => {
    const info = infoOf('IMG_3853.MOV');
    expect(info).toMatchObject({
      videoCodec: 'hevc', width: 1920, height: 1440, rotation: 0, hasAudio: true, audioCodec: 'pcm_s16le',
      captureTime: '2025-01-01T11:06:46+0900', make: 'Apple', model: 'iPhone 15 Plus',
    });
    expect(info.duration).toBeCloseTo(1.4, 1);
    expect(info.gps).toBeDefined();
    expect(info.color.hdr).toBeUndefined();
  });

  it('falls back to creation_time and reports no audio', () => {
    const info = infoOf('plain.mp4');
    expect(info.hasAudio).toBe(false);
    expect(info.audioCodec).toBeUndefined();
    expect(info.captureTime).toMatch(/^2024-05-06T07:08:09/);
  });

  it('a rotate tag: portrait display size from the landscape coded size', () => {
    const info = infoOf('rotated.mp4');
    expect([info.width, info.height]).toEqual([320, 240]);
    expect([90, 270]).toContain(info.rotation);
    expect([info.displayWidth, info.displayHeight]).toEqual([240, 320]);
    expect(info.orientationFilters).toHaveLength(1);
    expect(info.orientationFilters[0]).toMatch(/^transpose=/);
  });

  it('flags a variable frame rate; reads a 10-bit pixel format', () => {
    expect(infoOf('vfr.mp4').variableFrameRate).toBe(true);
    expect(infoOf('plain.mp4').variableFrameRate).toBe(false);
    expect(infoOf('ten.mp4')).toMatchObject({ videoCodec: 'hevc', bitDepth: 10 });
  });

  it('accepts real phone and camera containers: .mp4, .MOV, .mov, .webm', () => {
    for (const [clip, format] of [
      ['portrait_4k60.mp4', 'mov,mp4,m4a,3gp,3g2,mj2'],
      ['dolbyVision-hdr.MOV', 'mov,mp4,m4a,3gp,3g2,mj2'],
      ['sowt-with-video.mov', 'mov,mp4,m4a,3gp,3g2,mj2'],
      ['bear-vp9-odd-dimensions.webm', 'matroska,webm'],
      ['roadtrip-vp92-10bit.webm', 'matroska,webm'],
    ]) {
      const info = infoOf(clip);
      expect([clip, info.formatName]).toEqual([clip, format]);
      expect(info.duration).toBeGreaterThan(0);
    }
  });

  describe('real footage (shared/fixtures/real-media, NOTICE.md)', () => {
    it('iPhone Dolby Vision 8.4: HLG base layer, rotated −90° to portrait', () => {
      const info = infoOf('dolbyVision-hdr.MOV');
      expect(info.color).toMatchObject({ hdr: 'hlg', transfer: 'arib-std-b67', primaries: '2020', dolbyVision: { profile: 8, compatibility: 4 } });
      expect([info.width, info.height, info.rotation]).toEqual([1280, 720, 90]);
      expect([info.displayWidth, info.displayHeight]).toEqual([720, 1280]);
      expect(info.bitDepth).toBe(10);
    });

    it('HDR10 AV1: PQ, BT.2020, portrait', () => {
      const info = infoOf('hdr10-av1.mp4');
      expect(info.videoCodec).toBe('av1');
      expect(info.color).toMatchObject({ hdr: 'pq', transfer: 'smpte2084', primaries: '2020', matrix: '2020_ncl' });
      expect(info.color.dolbyVision).toBeUndefined();
      expect([info.displayWidth, info.displayHeight]).toEqual([720, 1280]);
    });

    it('HLG ColorChecker: HLG, BT.2020, 0.3 s', () => {
      const info = infoOf('hlg10-color-test.mp4');
      expect(info.color).toMatchObject({ hdr: 'hlg', primaries: '2020', peakNits: 1000 });
      expect([info.displayWidth, info.displayHeight]).toEqual([1920, 1080]);
      expect(info.duration).toBeLessThan(0.5);
    });

    it('Samsung 4K60 portrait: full-range BT.601 (bt470bg), 60 fps, −90° rotation', () => {
      const info = infoOf('portrait_4k60.mp4');
      expect(info.color).toMatchObject({ matrix: '470bg', range: 'full' });
      expect(info.color.hdr).toBeUndefined();
      expect(info.fps).toBeCloseTo(60, 0);
      expect([info.width, info.height]).toEqual([3840, 2160]);
      expect([info.displayWidth, info.displayHeight]).toEqual([2160, 3840]);
    });

    it('a display matrix that rotates and mirrors: mirrored, applied as one transpose (cclock_flip)', () => {
      const info = infoOf('sample_rotate_and_reflect.mp4');
      expect(info.mirrored).toBe(true);
      expect(info.orientationFilters).toEqual(['transpose=cclock_flip']);
      expect([info.displayWidth, info.displayHeight]).toEqual([720, 1080]);
    });

    it('Pixel motion-photo video: of two HEVC tracks, the 2.1 s clip (not the one-frame still track)', () => {
      const rec = loadRecording('pixel-motion-photo-2-hevc-tracks.mp4');
      const videos = rec.probe.data!.streams.filter((s) => s.codec_type === 'video');
      expect(videos.length).toBe(2);
      const info = infoOf('pixel-motion-photo-2-hevc-tracks.mp4');
      const chosen = videos.find((s) => s.index === info.videoStreamIndex)!;
      expect([chosen.width, chosen.height]).toEqual([1024, 768]);
      expect(info.duration).toBeCloseTo(2.1, 1);
      expect([info.displayWidth, info.displayHeight]).toEqual([768, 1024]);
    });

    it('10-bit VP9 that is SDR: 10 bits, no HDR', () => {
      const info = infoOf('roadtrip-vp92-10bit.webm');
      expect(info.bitDepth).toBe(10);
      expect(info.color.hdr).toBeUndefined();
    });

    it('Android slow motion with a bt2020-12 transfer tag: SDR (the BT.709 curve), 0.53 s', () => {
      const info = infoOf('sample_android_slow_motion.mp4');
      expect(info.color.hdr).toBeUndefined();
      expect(info.color.transfer).toBe('709');
      expect(info.duration).toBeCloseTo(0.53, 1);
    });

    it('odd coded size (161×121 VP9), 50 fps with LPCM sowt audio', () => {
      expect(infoOf('bear-vp9-odd-dimensions.webm')).toMatchObject({ width: 161, height: 121, videoCodec: 'vp9' });
      const sowt = infoOf('sowt-with-video.mov');
      expect(sowt.fps).toBeCloseTo(50, 0);
      expect(sowt.audioCodec).toBe('pcm_s16le');
    });
  });

  it('a BT.601-tagged HD source keeps its matrix (converted later, not relabelled); 64:27 pixels widen the display size', () => {
    expect(infoOf('bt601.mp4').color).toMatchObject({ matrix: '170m', range: 'limited', primaries: '709', guessed: [] });
    const ana = infoOf('anamorphic.mp4');
    expect(ana.sampleAspectRatio).toBeCloseTo(64 / 27, 6);
    expect(ana.displayWidth / ana.displayHeight).toBeCloseTo((720 * 64) / 27 / 480, 1);
  });
});

describe('probeSource on recorded ffprobe answers: each bad input its own code, naming the file', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-probe-fast-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function probeError(name: string): Promise<LivePhotoError> {
    const rec = loadRecording(name);
    const file = writeRecordedSource(rec, dir);
    try {
      await probeSource(file, { media: replayMediaTools(rec) });
    } catch (e) {
      expect(e).toBeInstanceOf(LivePhotoError);
      expect((e as LivePhotoError).message).toContain(file);
      return e as LivePhotoError;
    }
    throw new Error(`probeSource(${name}) did not fail`);
  }

  it('reads a good source through the port: size from the file, progress 0 → 100, one ffprobe', async () => {
    const rec = loadRecording('tagged.mov');
    const file = writeRecordedSource(rec, dir);
    const media = replayMediaTools(rec);
    const progress: number[] = [];
    const info = await probeSource(file, { media, onProgress: (p) => progress.push(p.percent) });
    expect(info).toMatchObject({ path: file, sizeBytes: fs.statSync(file).size, captureTime: '2025-01-01T11:06:46+0900' });
    expect(progress).toEqual([0, 100]);
    expect(media.reads).toEqual([{ tool: 'probe', source: file }]);
  });

  it('text named .mp4 (ffprobe: moov atom not found, but no box file) → INPUT_NOT_MEDIA', async () => {
    expect((await probeError('notes.mp4')).code).toBe('INPUT_NOT_MEDIA');
  });

  it('text opened by the tty demuxer, a subtitle file and an HLS playlist → INPUT_NOT_MEDIA naming the format', async () => {
    for (const [name, demuxer] of [['notes.txt', 'tty'], ['subs.srt', 'srt'], ['list.m3u8', 'hls']]) {
      const e = await probeError(name);
      expect(e).toMatchObject({ code: 'INPUT_NOT_MEDIA', details: { file: path.join(dir, name), formatName: demuxer } });
      expect(e.message).toContain(`'${demuxer}'`);
    }
  });

  it('JPEG and PNG → INPUT_IS_IMAGE (also when the extension lies); a one-frame GIF too', async () => {
    for (const name of ['photo.jpg', 'photo.png', 'photo-named.mp4', 'still.gif']) {
      expect([name, (await probeError(name)).code]).toEqual([name, 'INPUT_IS_IMAGE']);
    }
  });

  it('an animated GIF is a short video', () => {
    expect(infoOf('anim.gif')).toMatchObject({ formatName: 'gif', videoCodec: 'gif', frameCount: 20 });
  });

  it('audio only (.m4a, .wav) → INPUT_NO_VIDEO', async () => {
    expect((await probeError('voice.m4a')).code).toBe('INPUT_NO_VIDEO');
    expect((await probeError('voice.wav')).code).toBe('INPUT_NO_VIDEO');
  });

  it("a box file ffprobe finds no moov in → INPUT_TRUNCATED (the same stderr on text was INPUT_NOT_MEDIA above)", async () => {
    const rec = loadRecording('cut-moov-last.mp4');
    expect(rec.probe.stderr).toMatch(/moov atom not found/);
    expect((await probeError('cut-moov-last.mp4')).code).toBe('INPUT_TRUNCATED');
  });

  it('a video encode with zero frames → INPUT_ZERO_DURATION', async () => {
    expect((await probeError('zero.mp4')).code).toBe('INPUT_ZERO_DURATION');
  });

  it('missing and empty files fail before ffprobe is asked: SOURCE_NOT_FOUND, SOURCE_EMPTY', async () => {
    const media = replayMediaTools();
    await expect(probeSource(path.join(dir, 'does-not-exist.mp4'), { media })).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    fs.writeFileSync(path.join(dir, 'empty.mp4'), '');
    await expect(probeSource(path.join(dir, 'empty.mp4'), { media })).rejects.toMatchObject({ code: 'SOURCE_EMPTY' });
    expect(media.reads).toEqual([]);
  });
});
