import * as fs from 'node:fs';
import * as path from 'node:path';
import { ffmpegSync, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { LivePhotoError } from '@vid2live/errors';
import { IPHONE_HEIC, IPHONE_MOV } from '../testing/fixtures';
import { extractMotionPhotoVideo, PIXEL_MOTION_PHOTO_SHORTENED, realMedia } from '../testing/real-media';
import { bitDepthOf, heifImageBrand, parseIso6709, parseRate, probeSource, rotationOf, sourceInfoFromFfprobe } from './probe';

const tiny = ['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=2'];
const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

async function probeError(file: string): Promise<LivePhotoError> {
  try {
    await probeSource(file);
  } catch (e) {
    return e as LivePhotoError;
  }
  throw new Error(`probeSource(${file}) did not fail`);
}

describe('probeSource', () => {
  let dir: string;
  const at = (name: string) => path.join(dir, name);
  beforeAll(() => {
    dir = makeTempDir('vid2live-probe-');
  });
  afterAll(() => removeDir(dir));

  it('reads a landscape video with audio and Apple tags (capture time with offset, GPS, make/model)', async () => {
    const src = ffmpegSync([
      ...tiny, '-f', 'lavfi', '-i', 'sine=d=2', ...x264, '-c:a', 'aac', '-shortest',
      '-movflags', 'use_metadata_tags',
      '-metadata', 'com.apple.quicktime.creationdate=2025-01-01T11:06:46+0900',
      '-metadata', 'com.apple.quicktime.location.ISO6709=+39.9990+116.3477+054.305/',
      '-metadata', 'com.apple.quicktime.make=Apple',
      '-metadata', 'com.apple.quicktime.model=iPhone 15 Plus',
      at('tagged.mov'),
    ]);
    const progress: number[] = [];
    const info = await probeSource(src, { onProgress: (p) => progress.push(p.percent) });
    expect(info).toMatchObject({
      path: src,
      formatName: expect.stringContaining('mov'),
      width: 320, height: 240, rotation: 0, displayWidth: 320, displayHeight: 240,
      fps: 30, variableFrameRate: false, frameCount: 60,
      videoCodec: 'h264', pixelFormat: 'yuv420p', bitDepth: 8,
      hasAudio: true, audioCodec: 'aac',
      captureTime: '2025-01-01T11:06:46+0900',
      make: 'Apple', model: 'iPhone 15 Plus',
    });
    expect(info.duration).toBeCloseTo(2, 1);
    expect(info.sizeBytes).toBe(fs.statSync(src).size);
    expect(info.gps!.latitude).toBeCloseTo(39.999, 4);
    expect(info.gps!.longitude).toBeCloseTo(116.3477, 4);
    expect(info.gps!.altitude).toBeCloseTo(54.305, 3);
    expect(progress).toEqual([0, 100]);
  });

  it('reads the genuine iPhone Live Photo MOV (no ftyp, HEVC, LPCM, Apple keys)', async () => {
    const info = await probeSource(IPHONE_MOV);
    expect(info).toMatchObject({
      videoCodec: 'hevc', width: 1920, height: 1440, rotation: 0, hasAudio: true, audioCodec: 'pcm_s16le',
      captureTime: '2025-01-01T11:06:46+0900', make: 'Apple', model: 'iPhone 15 Plus',
    });
    expect(info.duration).toBeCloseTo(1.4, 1);
    expect(info.gps).toBeDefined();
  });

  it('falls back to creation_time and reports no audio', async () => {
    const src = ffmpegSync([...tiny, ...x264, '-metadata', 'creation_time=2024-05-06T07:08:09Z', at('plain.mp4')]);
    const info = await probeSource(src);
    expect(info.hasAudio).toBe(false);
    expect(info.audioCodec).toBeUndefined();
    expect(info.captureTime).toMatch(/^2024-05-06T07:08:09/);
  });

  it('reads the display matrix of a rotated stream: portrait display size from landscape coded size', async () => {
    const coded = ffmpegSync([...tiny, ...x264, at('coded.mp4')]);
    const rotated = ffmpegSync(['-i', coded, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', at('rotated.mp4')]);
    const info = await probeSource(rotated);
    expect(info.width).toBe(320);
    expect(info.height).toBe(240);
    // ffmpeg 5.1 stores this tag as a counter-clockwise matrix (ffprobe rotation +90) = 270° clockwise;
    // either way the picture is shown portrait.
    expect([90, 270]).toContain(info.rotation);
    expect(info.displayWidth).toBe(240);
    expect(info.displayHeight).toBe(320);
  });

  it('flags a variable frame rate and reads a 10-bit pixel format', async () => {
    const vfr = ffmpegSync([
      ...tiny, '-vf', "setpts='N/(30*TB)+if(gt(N,30),0.02*N/TB,0)'", '-fps_mode', 'vfr', ...x264, at('vfr.mp4'),
    ]);
    expect((await probeSource(vfr)).variableFrameRate).toBe(true);
    const tenBit = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=0.5', '-c:v', 'libx265', '-preset', 'ultrafast',
      '-pix_fmt', 'yuv420p10le', '-x265-params', 'log-level=error', at('ten.mp4'),
    ]);
    const info = await probeSource(tenBit);
    expect(info.videoCodec).toBe('hevc');
    expect(info.bitDepth).toBe(10);
  });

  it('accepts real phone and camera containers: .mp4, .MOV, .mov, .webm', async () => {
    for (const [clip, format] of [
      ['portrait_4k60.mp4', 'mov,mp4,m4a,3gp,3g2,mj2'],
      ['dolbyVision-hdr.MOV', 'mov,mp4,m4a,3gp,3g2,mj2'],
      ['sowt-with-video.mov', 'mov,mp4,m4a,3gp,3g2,mj2'],
      ['bear-vp9-odd-dimensions.webm', 'matroska,webm'],
      ['roadtrip-vp92-10bit.webm', 'matroska,webm'],
    ]) {
      const info = await probeSource(realMedia(clip));
      expect(info.formatName).toBe(format);
      expect(info.duration).toBeGreaterThan(0);
    }
  });

  describe('bad input: each its own code, naming the file', () => {
    const expectCode = async (file: string, code: string) => {
      const e = await probeError(file);
      expect(e).toBeInstanceOf(LivePhotoError);
      expect(e.code).toBe(code);
      expect(e.message).toContain(file);
    };

    it('missing file → SOURCE_NOT_FOUND', () => expectCode(at('does-not-exist.mp4'), 'SOURCE_NOT_FOUND'));

    it('0-byte file → SOURCE_EMPTY', async () => {
      fs.writeFileSync(at('empty.mp4'), '');
      await expectCode(at('empty.mp4'), 'SOURCE_EMPTY');
    });

    it('text file → INPUT_NOT_MEDIA', async () => {
      fs.writeFileSync(at('notes.mp4'), 'these are not the frames you are looking for\n'.repeat(20));
      await expectCode(at('notes.mp4'), 'INPUT_NOT_MEDIA');
    });

    it('JPEG and PNG → INPUT_IS_IMAGE (also when the extension lies)', async () => {
      const jpg = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1', at('photo.jpg')]);
      const png = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1', at('photo.png')]);
      fs.copyFileSync(jpg, at('photo-named.mp4'));
      await expectCode(jpg, 'INPUT_IS_IMAGE');
      await expectCode(png, 'INPUT_IS_IMAGE');
      await expectCode(at('photo-named.mp4'), 'INPUT_IS_IMAGE');
    });

    it('audio only (.m4a, .wav) → INPUT_NO_VIDEO', async () => {
      await expectCode(ffmpegSync(['-f', 'lavfi', '-i', 'sine=d=1', at('voice.m4a')]), 'INPUT_NO_VIDEO');
      await expectCode(ffmpegSync(['-f', 'lavfi', '-i', 'sine=d=1', at('voice.wav')]), 'INPUT_NO_VIDEO');
    });

    it('truncated MP4, moov last (ffprobe: moov atom not found) and faststart (box past EOF) → INPUT_TRUNCATED', async () => {
      const whole = ffmpegSync([...tiny, ...x264, at('whole.mp4')]);
      const fast = ffmpegSync(['-i', whole, '-c', 'copy', '-movflags', '+faststart', at('fast.mp4')]);
      for (const [from, to] of [[whole, at('cut-moov-last.mp4')], [fast, at('cut-faststart.mp4')]]) {
        const bytes = fs.readFileSync(from);
        fs.writeFileSync(to, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
        await expectCode(to, 'INPUT_TRUNCATED');
      }
      await expect(probeSource(fast)).resolves.toMatchObject({ frameCount: 60 });
    });

    it('text opened by the tty demuxer, a subtitle file and an HLS playlist → INPUT_NOT_MEDIA naming the format', async () => {
      // ffmpeg renders a long enough .txt as a picture of its characters: it must not become a "video"
      fs.writeFileSync(at('notes.txt'), 'these are not the frames you are looking for\n'.repeat(200));
      fs.writeFileSync(at('subs.srt'), '1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 --> 00:00:04,000\nWorld\n');
      // a playlist would make ffmpeg fetch its segments from anywhere: refused before its demuxer runs
      fs.writeFileSync(at('list.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n');
      for (const [file, demuxer] of [[at('notes.txt'), 'tty'], [at('subs.srt'), 'srt'], [at('list.m3u8'), 'hls']]) {
        const e = await probeError(file);
        expect(e).toMatchObject({ code: 'INPUT_NOT_MEDIA', details: { file, formatName: demuxer } });
        expect(e.message).toContain(file);
        expect(e.message).toContain(`'${demuxer}'`);
      }
    });

    it('ffprobe JSON of a demuxer outside the allow-list → INPUT_NOT_MEDIA', () => {
      expect(() =>
        sourceInfoFromFfprobe('/x/notes.txt', 10, {
          format: { format_name: 'tty', duration: '3' },
          streams: [{ index: 0, codec_type: 'video', codec_name: 'ansi', width: 640, height: 400, avg_frame_rate: '25/1', duration: '3' }],
        }),
      ).toThrow(expect.objectContaining({ code: 'INPUT_NOT_MEDIA', message: expect.stringContaining('/x/notes.txt') }));
    });

    it('a GIF with one frame → INPUT_IS_IMAGE; an animated GIF is a short video', async () => {
      const still = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1', at('still.gif')]);
      await expectCode(still, 'INPUT_IS_IMAGE');
      const anim = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=s=64x48:r=10:d=2', at('anim.gif')]);
      await expect(probeSource(anim)).resolves.toMatchObject({ formatName: 'gif', videoCodec: 'gif', frameCount: 20 });
    });

    it('the video cut short inside a real Pixel Motion Photo → INPUT_TRUNCATED (its boxes fit; its samples do not)', async () => {
      const video = extractMotionPhotoVideo(PIXEL_MOTION_PHOTO_SHORTENED, at('pixel-embedded.mp4'));
      const e = await probeError(video);
      expect(e.code).toBe('INPUT_TRUNCATED');
      expect(e.message).toContain(video);
      expect(e.message).toMatch(/media data are missing/);
    });

    it('the Motion Photo JPEG itself → INPUT_IS_IMAGE', () => expectCode(PIXEL_MOTION_PHOTO_SHORTENED, 'INPUT_IS_IMAGE'));

    it('a HEIC passed as a video → INPUT_IS_IMAGE, not INPUT_TRUNCATED (also named .mov); AVIF and mif1 too', async () => {
      await expectCode(IPHONE_HEIC, 'INPUT_IS_IMAGE');
      const renamed = at('IMG_3853-named.mov');
      fs.copyFileSync(IPHONE_HEIC, renamed);
      const e = await probeError(renamed);
      expect(e.code).toBe('INPUT_IS_IMAGE');
      expect(e.message).toMatch(/HEIF\/HEIC, brand 'heic'/);
      // Synthetic ftyp + an empty meta box: an AVIF, and a HEIF whose major brand is only mif1.
      const ftyp = (major: string, ...compatible: string[]) => {
        const b = Buffer.alloc(16 + 4 * compatible.length);
        b.writeUInt32BE(b.length, 0);
        b.write('ftyp', 4, 'latin1');
        b.write(major, 8, 'latin1');
        compatible.forEach((c, i) => b.write(c, 16 + 4 * i, 'latin1'));
        return Buffer.concat([b, Buffer.from([0, 0, 0, 12]), Buffer.from('meta', 'latin1'), Buffer.alloc(4)]);
      };
      fs.writeFileSync(at('photo.avif'), ftyp('avif', 'avif', 'mif1', 'miaf'));
      await expectCode(at('photo.avif'), 'INPUT_IS_IMAGE');
      fs.writeFileSync(at('nokia.mp4'), ftyp('mif1', 'mif1', 'heic'));
      await expectCode(at('nokia.mp4'), 'INPUT_IS_IMAGE');
      fs.writeFileSync(at('burst.mp4'), ftyp('msf1', 'msf1', 'iso8'));
      await expectCode(at('burst.mp4'), 'INPUT_IS_IMAGE');
    });

    it('the brand check leaves movies alone: an MP4 that lists mif1 among its brands is still judged as a video', () => {
      const head = (major: string, ...compatible: string[]) => {
        const b = Buffer.alloc(16 + 4 * compatible.length);
        b.writeUInt32BE(b.length, 0);
        b.write('ftyp', 4, 'latin1');
        b.write(major, 8, 'latin1');
        compatible.forEach((c, i) => b.write(c, 16 + 4 * i, 'latin1'));
        return b;
      };
      expect(heifImageBrand(head('isom', 'isom', 'mif1'))).toBeUndefined();
      expect(heifImageBrand(head('qt  ', 'qt  '))).toBeUndefined();
      expect(heifImageBrand(head('mp42', 'mp41', 'isom'))).toBeUndefined();
      expect(heifImageBrand(head('heix', 'mif1'))).toBe('heix');
      expect(heifImageBrand(head('miaf', 'avif'))).toBe('avif');
      expect(heifImageBrand(fs.readFileSync(IPHONE_MOV).subarray(0, 64))).toBeUndefined();
    });

    it('a video encode with zero frames → INPUT_ZERO_DURATION', async () => {
      const zero = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc', '-frames:v', '0', at('zero.mp4')]);
      await expectCode(zero, 'INPUT_ZERO_DURATION');
    });
  });
});

describe('probe helpers', () => {
  it('turns ffprobe rotation (counter-clockwise) and the legacy rotate tag (clockwise) into clockwise degrees', () => {
    expect(rotationOf({ index: 0, side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] })).toBe(90);
    expect(rotationOf({ index: 0, side_data_list: [{ rotation: 90 }] })).toBe(270);
    expect(rotationOf({ index: 0, side_data_list: [{ rotation: 180 }] })).toBe(180);
    expect(rotationOf({ index: 0, tags: { rotate: '90' } })).toBe(90);
    expect(rotationOf({ index: 0 })).toBe(0);
  });

  it('parses ISO 6709 in decimal degrees and DDMM forms', () => {
    expect(parseIso6709('+39.9990+116.3477+054.305/')).toEqual({ latitude: 39.999, longitude: 116.3477, altitude: 54.305 });
    const ddmm = parseIso6709('-3330.5+15112.25/')!;
    expect(ddmm.latitude).toBeCloseTo(-(33 + 30.5 / 60), 6);
    expect(ddmm.longitude).toBeCloseTo(151 + 12.25 / 60, 6);
    expect(ddmm.altitude).toBeUndefined();
    expect(parseIso6709('nowhere')).toBeUndefined();
  });

  it('drops the 0°, 0° placeholder phones write without a GPS fix', () => {
    expect(parseIso6709('+00.0000+000.0000/')).toBeUndefined();
    expect(parseIso6709('+00.0000+000.0000+000.000/')).toBeUndefined();
    expect(parseIso6709('-00.0000-000.0000/')).toBeUndefined();
    // one axis at zero is a real place (the equator, Greenwich)
    expect(parseIso6709('+00.0000+032.5000/')).toEqual({ latitude: 0, longitude: 32.5 });
    expect(parseIso6709('+51.4779+000.0000/')).toEqual({ latitude: 51.4779, longitude: 0 });
    const placeholder = sourceInfoFromFfprobe('/x/nofix.mp4', 10, {
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '2', tags: { location: '+00.0000+000.0000/', creation_time: '2024-01-13T05:38:00.000000Z' } },
      streams: [{ index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 240, avg_frame_rate: '30/1', r_frame_rate: '30/1', duration: '2' }],
    });
    expect(placeholder.gps).toBeUndefined();
  });

  it('keeps a capture time that states its offset over a UTC one', () => {
    const info = (tags: Record<string, string>) =>
      sourceInfoFromFfprobe('/x/clip.mp4', 10, {
        format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '2', tags },
        streams: [{ index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 240, avg_frame_rate: '30/1', r_frame_rate: '30/1', duration: '2' }],
      });
    // Apple's creationdate first, whatever else the file says
    expect(info({ 'com.apple.quicktime.creationdate': '2023-05-09T12:41:46+0100', creation_time: '2023-05-09T11:48:30.000000Z' }).captureTime).toBe(
      '2023-05-09T12:41:46+0100',
    );
    // an MP4 ©day with an offset beats the UTC creation_time
    expect(info({ creation_time: '2024-01-13T05:38:00.000000Z', date: '2024-01-12T21:38:00-0800' }).captureTime).toBe('2024-01-12T21:38:00-0800');
    // a ©day that is only a year is not a capture time
    expect(info({ creation_time: '2024-01-13T05:38:00.000000Z', date: '2024' }).captureTime).toBe('2024-01-13T05:38:00.000000Z');
  });

  it('derives bit depth and frame rates', () => {
    expect(bitDepthOf('yuv420p')).toBe(8);
    expect(bitDepthOf('yuv420p10le')).toBe(10);
    expect(bitDepthOf('p010le')).toBe(10);
    expect(bitDepthOf('yuv422p12be')).toBe(12);
    expect(bitDepthOf('weird', '10')).toBe(10);
    expect(parseRate('30000/1001')).toBeCloseTo(29.97, 2);
    expect(parseRate('0/0')).toBe(0);
  });

  it('treats an MP4 whose only picture is cover art as audio only', () => {
    expect(() =>
      sourceInfoFromFfprobe('/x/song.m4a', 10, {
        format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '3' },
        streams: [
          { index: 0, codec_type: 'audio', codec_name: 'aac' },
          { index: 1, codec_type: 'video', codec_name: 'mjpeg', disposition: { attached_pic: 1 } },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'INPUT_NO_VIDEO' }));
  });
});
