import * as fs from 'node:fs';
import * as path from 'node:path';
import { ffmpegSync, ffprobeJson, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { convertToLivePhoto } from './convert';
import { isLivePhotoError } from '@vid2live/errors';
import { inspectLivePhoto } from './inspect';
import { IPHONE_MOV } from './testing/fixtures';
import { decodeRgb, meanChroma, meanLumaError, rgbPsnr } from './testing/picture';
import { extractMotionPhotoVideo, PIXEL_MOTION_PHOTO_SHORTENED, realMedia } from './testing/real-media';
import type { LivePhotoResult } from './types';

/**
 * Every real clip of `shared/fixtures/real-media/` (and the genuine iPhone Live Photo video) through the whole
 * engine, each with its expected outcome: a valid pair with the right geometry and warnings, or its own typed
 * error. Then the pictures themselves: colours, tone mapping and orientation measured against the source.
 */

interface Expected {
  file: string;
  /** upright output size */
  size?: [number, number];
  warnings?: string[];
  /** warnings that must not be there */
  notWarnings?: string[];
  error?: string;
}

const CASES: Expected[] = [
  { file: 'bear-vp9-odd-dimensions.webm', size: [162, 122], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'dolbyVision-hdr.MOV', size: [720, 1280], warnings: ['HDR_TONE_MAPPED', 'SOURCE_EXTENDED'] },
  // AV1: a costly alt-ref/overlay frame every 0.13 s is the encoder's rhythm, not a scene cut
  { file: 'hdr10-av1.mp4', size: [720, 1280], warnings: ['HDR_TONE_MAPPED'], notWarnings: ['SCENE_CUT_IN_CLIP'] },
  { file: 'hlg10-color-test.mp4', size: [1920, 1080], warnings: ['HDR_TONE_MAPPED', 'SOURCE_EXTENDED'] },
  // two HEVC tracks: the 2.1 s 1024×768 clip, not the one-frame 2048×1536 still track
  { file: 'pixel-motion-photo-2-hevc-tracks.mp4', size: [768, 1024], notWarnings: ['HDR_TONE_MAPPED'] },
  // a Motion Photo source whose embedded video was cut short upstream
  { file: 'pixel-motion-photo-shortened.jpg', error: 'INPUT_TRUNCATED' },
  { file: 'portrait_4k60.mp4', size: [1080, 1920], warnings: ['SOURCE_EXTENDED', 'CAPTURE_TIME_UTC'], notWarnings: ['HDR_TONE_MAPPED'] },
  // 10-bit but SDR: converted to 8 bits, not tone mapped
  { file: 'roadtrip-vp92-10bit.webm', size: [426, 240], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'sample_android_slow_motion.mp4', size: [1280, 720], warnings: ['SOURCE_EXTENDED'], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'sample_rotate_and_reflect.mp4', size: [720, 1080], notWarnings: ['CAPTURE_TIME_UTC'] },
  { file: 'sample_sef_slow_motion.mp4', size: [320, 240] },
  { file: 'sowt-with-video.mov', size: [1920, 1080] },
];

const codes = (r: LivePhotoResult) => r.warnings.map((w) => w.code);

describe('real footage: every fixture has its expected outcome', () => {
  let dir: string;
  const results = new Map<string, LivePhotoResult | { code: string }>();

  beforeAll(async () => {
    dir = makeTempDir('vid2live-real-');
    const truncated = extractMotionPhotoVideo(PIXEL_MOTION_PHOTO_SHORTENED, path.join(dir, 'pixel-embedded.mp4'));
    const sources: [string, string][] = [
      ...CASES.map((c): [string, string] => [c.file, realMedia(c.file)]),
      ['pixel-embedded.mp4', truncated],
      ['IMG_3853.MOV', IPHONE_MOV],
    ];
    for (const [name, source] of sources) {
      try {
        results.set(name, await convertToLivePhoto({ source, outputDir: path.join(dir, 'out'), baseName: path.parse(name).name }));
      } catch (e) {
        if (!isLivePhotoError(e)) throw e;
        results.set(name, { code: e.code });
      }
    }
  }, 600_000);
  afterAll(() => removeDir(dir));

  it.each(CASES)('$file', async (c) => {
    const r = results.get(c.file)!;
    if (c.error) {
      expect(r).toEqual({ code: c.error });
      return;
    }
    expect(r).toHaveProperty('contentIdentifier');
    const result = r as LivePhotoResult;
    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
    expect([result.width, result.height]).toEqual(c.size);
    const mov = ffprobeJson(result.moviePath);
    const video = mov.streams.find((s: { codec_type: string }) => s.codec_type === 'video');
    expect([video.width, video.height]).toEqual(c.size);
    // upright pixels: no display matrix left for a player to apply a second time
    expect(video.side_data_list?.find((s: { side_data_type: string }) => s.side_data_type === 'Display Matrix')?.rotation ?? 0).toBe(0);
    expect(video.color_space).toBe('bt709');
    expect(video.color_transfer).toBe('bt709');
    // the rule: a Live Photo is 1–5 s
    expect(Number(mov.format.duration)).toBeGreaterThanOrEqual(0.99);
    expect(Number(mov.format.duration)).toBeLessThanOrEqual(5.01);
    for (const w of c.warnings ?? []) expect(codes(result)).toContain(w);
    for (const w of c.notWarnings ?? []) expect(codes(result)).not.toContain(w);
  });

  it("the Pixel motion photo's cut-off embedded video is INPUT_TRUNCATED", () => {
    expect(results.get('pixel-embedded.mp4')).toEqual({ code: 'INPUT_TRUNCATED' });
  });

  it('the genuine iPhone clip: no scene-cut warning, the last-frame jump left out, key photo in the middle half', async () => {
    const result = results.get('IMG_3853.MOV') as LivePhotoResult;
    expect(codes(result)).not.toContain('SCENE_CUT_IN_CLIP');
    expect(codes(result)).not.toContain('SOURCE_SHORTER_THAN_CLIP');
    expect(result.reasons.join(' ')).toMatch(/left out 1 frame beyond the jump at 1\.37 s/);
    expect(result.clip.duration).toBeCloseTo(41 / 30, 5);
    expect(result.stillTime).toBeGreaterThanOrEqual(result.clip.duration / 4);
    expect(result.stillTime).toBeLessThanOrEqual((3 * result.clip.duration) / 4);
    expect((await inspectLivePhoto(result.stillPath, result.moviePath)).warnings.map((w) => w.code)).not.toContain('STILL_TIME_AT_ZERO');
  });

  it('automatic key photos sit in the middle half of every clip', () => {
    for (const [name, r] of results) {
      if (!('contentIdentifier' in r)) continue;
      const sourceSeconds = codes(r).includes('SOURCE_EXTENDED') ? undefined : r.clip.duration;
      if (sourceSeconds === undefined) continue; // held clips: the still is a real frame, checked in plan.spec
      expect([name, r.stillTime >= sourceSeconds / 4 - 1 / 30 && r.stillTime <= (3 * sourceSeconds) / 4 + 1 / 30]).toEqual([name, true]);
    }
  });

  it('a mirroring display matrix is applied: the still is the transposed coded frame, not a rotation of it', () => {
    const r = results.get('sample_rotate_and_reflect.mp4') as LivePhotoResult;
    const t = r.clip.start + r.stillTime;
    const still = decodeRgb(r.stillPath, 180, 270);
    const transposed = decodeRgb(realMedia('sample_rotate_and_reflect.mp4'), 180, 270, {
      seek: t,
      inputArgs: ['-noautorotate'],
      filters: 'transpose=cclock_flip',
    });
    const rotated = decodeRgb(realMedia('sample_rotate_and_reflect.mp4'), 180, 270, { seek: t, inputArgs: ['-noautorotate'], filters: 'transpose=clock' });
    expect(rgbPsnr(still, transposed)).toBeGreaterThan(25);
    expect(rgbPsnr(still, rotated)).toBeLessThan(rgbPsnr(still, transposed) - 6);
  });

  it('a full-range BT.601 source (Samsung 4K60 portrait) keeps its saturation within ±5 %', () => {
    const r = results.get('portrait_4k60.mp4') as LivePhotoResult;
    const t = r.clip.start + r.stillTime;
    const still = decodeRgb(r.stillPath, 216, 384);
    const truth = decodeRgb(realMedia('portrait_4k60.mp4'), 216, 384, { seek: t, filters: 'scale=in_color_matrix=bt601:in_range=full' });
    expect(meanChroma(still) / meanChroma(truth)).toBeGreaterThan(0.95);
    expect(meanChroma(still) / meanChroma(truth)).toBeLessThan(1.05);
    expect(meanLumaError(still, truth)).toBeLessThan(4);
  });

  it('the HLG ColorChecker comes out saturated, not pastel: the tone-mapped patches keep ≥ 0.7 of the BT.2020 colour', () => {
    const r = results.get('hlg10-color-test.mp4') as LivePhotoResult;
    const still = decodeRgb(r.stillPath, 192, 108);
    // the naive reading (HLG code values shown as BT.709 SDR) is what "pastel" looked like
    const naive = decodeRgb(realMedia('hlg10-color-test.mp4'), 192, 108, { seek: 0.1, filters: 'scale=in_color_matrix=bt2020:in_range=tv' });
    expect(meanChroma(still)).toBeGreaterThan(1.3 * meanChroma(naive));
  });
});

describe('HDR → SDR on an SDR picture graded into HLG and PQ (reference white 203 cd/m²)', () => {
  let dir: string;
  let sdr: string;
  const graded: Record<string, string> = {};

  beforeAll(() => {
    dir = makeTempDir('vid2live-hdr-');
    // a real picture (Tokyo, daylight: blue sky, red temple, skin) as the SDR truth
    sdr = ffmpegSync(['-i', IPHONE_MOV, '-frames:v', '1', '-vf', 'scale=640:480', path.join(dir, 'sdr.png')]);
    const x265 = (trc: string) => [
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `log-level=error:colorprim=bt2020:transfer=${trc}:colormatrix=bt2020nc:range=limited`,
      '-color_primaries', 'bt2020', '-color_trc', trc, '-colorspace', 'bt2020nc', '-color_range', 'tv', '-pix_fmt', 'yuv420p10le',
    ];
    // PQ: SDR white → 203 cd/m² (absolute); HLG: the same light on the BT.2100 1000 cd/m² reference display
    graded.pq = ffmpegSync([
      '-loop', '1', '-i', sdr, '-t', '1.5', '-r', '30',
      '-vf', 'format=gbrpf32le,zscale=tin=709:pin=709:t=linear:p=709:npl=203,zscale=p=2020:t=smpte2084:m=2020_ncl:r=limited:npl=203,format=yuv420p10le',
      ...x265('smpte2084'), path.join(dir, 'pq.mov'),
    ]);
    graded.hlg = ffmpegSync([
      '-loop', '1', '-i', sdr, '-t', '1.5', '-r', '30',
      '-vf', 'format=gbrpf32le,zscale=tin=709:pin=709:t=smpte2084:p=709:npl=203,zscale=p=2020:t=arib-std-b67:m=2020_ncl:r=limited:npl=1000,format=yuv420p10le',
      ...x265('arib-std-b67'), path.join(dir, 'hlg.mov'),
    ]);
  }, 120_000);
  afterAll(() => removeDir(dir));

  it.each(['pq', 'hlg'])('%s: chroma ≥ 0.7× the original, mean |ΔY′| ≤ 32/255, and the relabelled picture would fail', async (kind) => {
    const result = await convertToLivePhoto({ source: graded[kind], outputDir: dir, baseName: kind, options: { start: 0, keyFrame: 0.5 } });
    expect(result.warnings.map((w) => w.code)).toContain('HDR_TONE_MAPPED');
    const truth = decodeRgb(sdr, 320, 240);
    const still = decodeRgb(result.stillPath, 320, 240);
    const chroma = meanChroma(still) / meanChroma(truth);
    const lumaError = meanLumaError(still, truth);
    expect(chroma).toBeGreaterThanOrEqual(0.7);
    expect(chroma).toBeLessThanOrEqual(1.3);
    expect(lumaError).toBeLessThanOrEqual(32);
    // the movie carries the same pixels as the still
    const movieFrame = decodeRgb(result.moviePath, 320, 240, { seek: result.stillTime });
    expect(meanLumaError(movieFrame, still)).toBeLessThan(4);
    // the old behaviour (scaled to 8 bits and tagged BT.709) fails the same bounds: the test can tell
    const relabelled = decodeRgb(graded[kind], 320, 240, { filters: 'scale=in_color_matrix=bt709:in_range=tv' });
    const naiveChroma = meanChroma(relabelled) / meanChroma(truth);
    expect(naiveChroma < 0.7 || meanLumaError(relabelled, truth) > 32 || naiveChroma > 1.3).toBe(true);
    fs.rmSync(result.moviePath);
  });
});

describe('colour matrices and pixel shapes on generated sources', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('vid2live-matrix-');
  });
  afterAll(() => removeDir(dir));

  it('a BT.601-tagged HD test pattern is converted, not relabelled (chroma within ±5 %)', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=2',
      '-vf', 'scale=out_color_matrix=bt601:out_range=tv,format=yuv420p',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-colorspace', 'smpte170m', '-color_primaries', 'smpte170m', '-color_trc', 'smpte170m', '-color_range', 'tv',
      path.join(dir, 'bt601.mp4'),
    ]);
    const r = await convertToLivePhoto({ source: src, outputDir: dir, baseName: 'bt601', options: { start: 0, keyFrame: 1 } });
    const still = decodeRgb(r.stillPath, 320, 180);
    const truth = decodeRgb(src, 320, 180, { seek: 1, filters: 'scale=in_color_matrix=bt601:in_range=tv' });
    expect(meanChroma(still) / meanChroma(truth)).toBeGreaterThan(0.95);
    expect(meanChroma(still) / meanChroma(truth)).toBeLessThan(1.05);
  });

  it('non-square pixels are applied: a 64:27 anamorphic source comes out at its display aspect, unsqueezed', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc2=size=720x480:rate=30:duration=2',
      '-vf', 'setsar=64/27', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path.join(dir, 'anamorphic.mp4'),
    ]);
    const r = await convertToLivePhoto({ source: src, outputDir: dir, baseName: 'anamorphic', options: { start: 0, keyFrame: 1 } });
    expect(r.width / r.height).toBeCloseTo((720 * 64) / 27 / 480, 1);
    const still = decodeRgb(r.stillPath, 400, 112);
    const truth = decodeRgb(src, 400, 112, { seek: 1, filters: 'scale=in_color_matrix=bt601:in_range=tv' });
    expect(rgbPsnr(still, truth)).toBeGreaterThan(25);
  });
});
