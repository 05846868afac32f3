import * as path from 'node:path';
import { ffprobeJson, makeSource, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { convertToLivePhoto } from './convert';
import { analyseMoment, extractPreviewFrame, makeH264PreviewMovie, makePlaybackProxy, makeThumbnailStrip } from './preview';
import { planClip } from './stages/plan';
import { probeSource } from './stages/probe';
import { decodeRgb, meanLuma, rgbPsnr } from './testing/picture';
import { realMedia } from './testing/real-media';

/** The studio's previews: what the page draws and shows must be what the engine decides and writes. */
describe('studio previews', () => {
  let tmp: string;
  let landscape: string;
  beforeAll(() => {
    tmp = makeTempDir('preview-');
    landscape = makeSource('landscape-1080p-audio', path.join(tmp, 'src'));
  });
  afterAll(() => removeDir(tmp));

  it('analyses a moment: the curves the planner chose on, and its own automatic choice', async () => {
    const small = makeSource('no-audio', path.join(tmp, 'src'));
    const { info, analysis } = await analyseMoment(small);
    const plan = await planClip(info);
    expect(analysis.curves).not.toBeNull();
    const curves = analysis.curves!;
    expect(curves.kind).toBe('decoded');
    expect(curves.fps).toBe(30);
    // 4 s analysed on the 30 fps grid, one number per frame, the first frame has no predecessor
    expect(curves.motion.length).toBeGreaterThanOrEqual(118);
    expect(curves.sharpness.length).toBe(curves.motion.length);
    expect(curves.motion.slice(1).every((m) => m > 0)).toBe(true);
    expect(curves.sharpness.every((s) => s !== null && s > 0)).toBe(true);
    expect(analysis.suggestion.start).toBeCloseTo(plan.start, 5);
    expect(analysis.suggestion.duration).toBeCloseTo(plan.duration, 5);
    expect(analysis.suggestion.keyFrame).toBeCloseTo(plan.start + plan.stillOffset, 5);
    expect(analysis.suggestion.reasons).toEqual(plan.reasons);
    expect(analysis.source).toMatchObject({ displayWidth: 640, displayHeight: 360, codec: 'h264', hdr: null, hasAudio: false });
    expect(analysis.limits).toEqual({ minClipSeconds: 1, maxClipSeconds: 5, fps: 30 });
    // the page gets JSON: no NaN, no Infinity
    expect(JSON.parse(JSON.stringify(analysis))).toEqual(analysis);
  });

  it('analyses a 1080p moment on the compressed stream: sizes for every frame, sharpness where it decoded', async () => {
    const { info, analysis } = await analyseMoment(landscape);
    const plan = await planClip(info);
    const curves = analysis.curves!;
    expect(curves.kind).toBe('compressed');
    expect(curves.motion.length).toBeGreaterThanOrEqual(118);
    const measured = curves.sharpness.map((v, i) => (v === null ? -1 : i)).filter((i) => i >= 0);
    // the key-frame range of the chosen window was decoded, the rest was not
    expect(measured.length).toBeGreaterThan(10);
    expect(measured.length).toBeLessThan(curves.sharpness.length);
    const keyIndex = Math.round((analysis.suggestion.keyFrame - curves.start) * 30);
    expect(curves.sharpness[keyIndex]).not.toBeNull();
    expect(analysis.suggestion.keyFrame).toBeCloseTo(plan.start + plan.stillOffset, 5);
    expect(JSON.parse(JSON.stringify(analysis))).toEqual(analysis);
  });

  it.each([
    ['sample_rotate_and_reflect.mp4', 'rotated and mirrored by its display matrix'],
    ['hlg10-color-test.mp4', 'HLG HDR, tone mapped'],
  ])('shows the frame at t exactly as the still of a conversion keyed at t (%s: %s)', async (file) => {
    const source = realMedia(file);
    const info = await probeSource(source);
    const key = Math.min(0.2, info.duration / 2);
    const out = path.join(tmp, `pair-${file}`);
    const r = await convertToLivePhoto({ source, outputDir: out, baseName: 'pair', options: { start: 0, keyFrame: key } });
    const frame = path.join(tmp, `frame-${file}.jpg`);
    await extractPreviewFrame(info, key, r.width, frame);
    const still = decodeRgb(r.stillPath, r.width, r.height);
    const shown = decodeRgb(frame, r.width, r.height);
    // same source frame, same colour conversion and geometry: only JPEG quality differs
    const psnr = rgbPsnr(still, shown);
    console.log(`${file}: preview frame vs still ${psnr.toFixed(1)} dB`);
    expect(psnr).toBeGreaterThan(32);
    // the same frame upside down or unmirrored would not pass: the geometry is the still's
    const flipped = decodeRgb(frame, r.width, r.height, { filters: 'hflip' });
    expect(rgbPsnr(still, flipped)).toBeLessThan(psnr - 6);
    expect(ffprobeJson(frame).streams[0]).toMatchObject({ width: r.width, height: r.height });
  });

  it('warns HDR_TONE_MAPPED in the analysis exactly when the render tone maps, in the render\'s words', async () => {
    const hlg = await analyseMoment(realMedia('hlg10-color-test.mp4'));
    const hdr = hlg.analysis.suggestion.warnings.filter((w) => w.code === 'HDR_TONE_MAPPED');
    expect(hdr).toHaveLength(1);
    expect(hdr[0].message).toMatch(/the source is HLG HDR; it was tone mapped to SDR BT\.709/);
    const sdr = await analyseMoment(realMedia('sample_rotate_and_reflect.mp4'));
    expect(sdr.analysis.suggestion.warnings.map((w) => w.code)).not.toContain('HDR_TONE_MAPPED');
  });

  it('refuses a time outside the source with INVALID_OPTIONS', async () => {
    const info = await probeSource(landscape);
    await expect(extractPreviewFrame(info, 99, 320, path.join(tmp, 'x.jpg'))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(extractPreviewFrame(info, Number.NaN, 320, path.join(tmp, 'x.jpg'))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('makes a strip with every tile filled, on a 4K60 portrait phone clip too', async () => {
    for (const [file, count] of [[landscape, 12], [realMedia('portrait_4k60.mp4'), 12]] as const) {
      const info = await probeSource(file);
      const out = path.join(tmp, `strip-${path.basename(file)}.jpg`);
      const strip = await makeThumbnailStrip(info, out, count, 90);
      expect(strip.count).toBe(count);
      expect(strip.times).toHaveLength(count);
      expect(strip.tileWidth).toBe(2 * Math.round((90 * info.displayWidth) / info.displayHeight / 2));
      const picture = decodeRgb(out, strip.tileWidth * count, 90);
      expect(ffprobeJson(out).streams[0]).toMatchObject({ width: strip.tileWidth * count, height: 90 });
      for (let i = 0; i < count; i++) {
        const tile = decodeRgb(out, strip.tileWidth, 90, { filters: `crop=${strip.tileWidth}:90:${i * strip.tileWidth}:0` });
        expect(meanLuma(tile)).toBeGreaterThan(20); // not the black padding of a missing tile
      }
      expect(picture.width).toBe(strip.tileWidth * count);
    }
  });

  it('makes an H.264 playback proxy of an HEVC HDR source, and an H.264 copy of an HEVC MOV with the same frames', async () => {
    const source = realMedia('dolbyVision-hdr.MOV');
    const info = await probeSource(source);
    const proxy = path.join(tmp, 'proxy.mp4');
    await makePlaybackProxy(info, proxy);
    const p = ffprobeJson(proxy).streams.find((s: { codec_type: string }) => s.codec_type === 'video');
    expect(p).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', width: info.displayWidth > info.displayHeight ? 640 : 360 });

    const r = await convertToLivePhoto({ source: landscape, outputDir: path.join(tmp, 'hevc'), baseName: 'h', options: { codec: 'hevc', duration: 1 } });
    const copy = path.join(tmp, 'h.preview.MOV');
    await makeH264PreviewMovie(r.moviePath, copy);
    const frames = (f: string) => ffprobeJson(f, ['-count_frames', '-show_streams']).streams.find((s: { codec_type: string }) => s.codec_type === 'video');
    const [a, b] = [frames(r.moviePath), frames(copy)];
    expect(a.codec_name).toBe('hevc');
    expect(b.codec_name).toBe('h264');
    expect(b.nb_read_frames).toBe(a.nb_read_frames);
    expect(b.r_frame_rate).toBe('30/1');
  });
});
