import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { convertToLivePhoto } from './convert';
import { readJpegExif } from './exif';
import { inspectLivePhoto } from './inspect';
import { readMotionPhoto } from './motion-photo';
import { loadRecording, writeRecordedSource, type MediaRecording } from './recorded/media-recording';
import { replayMediaTools, type ReplayMediaTools } from './recorded/replay-media-tools';
import type { ConvertOptions, LivePhotoResult } from './types';

/**
 * The whole engine (probe → plan → render → pair → Motion Photo) on recorded ffprobe/analysis answers of real
 * files: what it asks ffmpeg and heif-enc to do (the render's filter graph and options: conversion, tone mapping,
 * rotation, held frames), and what it makes of the answers (geometry, warnings, the pair's metadata). The replayed
 * ffmpeg leaves small real files behind, so pairing and inspection run on genuine bytes. The same sources go
 * through real processes in real-media.spec.ts and convert.spec.ts, which also measure the pixels.
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-convert-fast-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Converted {
  result: LivePhotoResult;
  media: ReplayMediaTools;
  source: string;
  rec: MediaRecording;
  workDir: string;
}

let runs = 0;
async function convert(name: string, options?: ConvertOptions, baseName = path.parse(name).name): Promise<Converted> {
  const rec = loadRecording(name);
  const dir = path.join(tmp, String(++runs));
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'work'));
  const source = writeRecordedSource(rec, path.join(dir, 'src'));
  const media = replayMediaTools(rec);
  const result = await convertToLivePhoto(
    { source, outputDir: path.join(dir, 'out'), baseName, workDir: path.join(dir, 'work'), ...(options ? { options } : {}) },
    { media },
  );
  return { result, media, source, rec, workDir: path.join(dir, 'work') };
}

const codes = (r: LivePhotoResult) => r.warnings.map((w) => w.code);

interface Expected {
  file: string;
  size: [number, number];
  warnings?: string[];
  notWarnings?: string[];
}

/** real-media.spec.ts's expectations for each clip (the Motion Photo JPEG aside: it is no ffprobe matter). */
const CASES: Expected[] = [
  { file: 'bear-vp9-odd-dimensions.webm', size: [162, 122], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'dolbyVision-hdr.MOV', size: [720, 1280], warnings: ['HDR_TONE_MAPPED', 'SOURCE_EXTENDED'] },
  { file: 'hdr10-av1.mp4', size: [720, 1280], warnings: ['HDR_TONE_MAPPED'], notWarnings: ['SCENE_CUT_IN_CLIP'] },
  { file: 'hlg10-color-test.mp4', size: [1920, 1080], warnings: ['HDR_TONE_MAPPED', 'SOURCE_EXTENDED'] },
  { file: 'pixel-motion-photo-2-hevc-tracks.mp4', size: [768, 1024], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'portrait_4k60.mp4', size: [1080, 1920], warnings: ['SOURCE_EXTENDED', 'CAPTURE_TIME_UTC'], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'roadtrip-vp92-10bit.webm', size: [426, 240], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'sample_android_slow_motion.mp4', size: [1280, 720], warnings: ['SOURCE_EXTENDED'], notWarnings: ['HDR_TONE_MAPPED'] },
  { file: 'sample_rotate_and_reflect.mp4', size: [720, 1080], notWarnings: ['CAPTURE_TIME_UTC'] },
  { file: 'sample_sef_slow_motion.mp4', size: [320, 240] },
  { file: 'sowt-with-video.mov', size: [1920, 1080] },
  { file: 'IMG_3853.MOV', size: [1920, 1440], notWarnings: ['SCENE_CUT_IN_CLIP', 'SOURCE_SHORTER_THAN_CLIP', 'HDR_TONE_MAPPED'] },
];

/**
 * The clips planned on the compressed stream with an automatic JPEG still: their key frame is settled from the
 * render's own frames (stages/render-key-frame.ts), with no decode of their own before it.
 */
const DEFERRED = new Set(['hdr10-av1.mp4']);

describe('convertToLivePhoto on recorded real footage: one render asked, the right pair made', () => {
  const results = new Map<string, Converted>();
  beforeAll(async () => {
    for (const c of CASES) results.set(c.file, await convert(c.file));
  });

  it.each(CASES)('$file', async (c) => {
    const { result, media, source, rec, workDir } = results.get(c.file)!;
    expect([result.width, result.height]).toEqual(c.size);
    for (const w of c.warnings ?? []) expect(codes(result)).toContain(w);
    for (const w of c.notWarnings ?? []) expect(codes(result)).not.toContain(w);
    // a Live Photo is 1–5 s, the still inside it
    expect(result.clip.duration).toBeGreaterThanOrEqual(1);
    expect(result.clip.duration).toBeLessThanOrEqual(5);
    expect(result.stillTime).toBeGreaterThanOrEqual(0);
    expect(result.stillTime).toBeLessThan(result.clip.duration);

    // exactly one ffmpeg process: the render, one decode of the clip from the source, the streams it was planned on
    expect(media.jobs).toHaveLength(1);
    // a deferred key frame: one small run encodes the chosen raw candidate frame as the still
    expect(media.ffmpegRuns.map((a) => path.basename(a[a.length - 1]))).toEqual(DEFERRED.has(c.file) ? ['still.jpg'] : []);
    expect(media.heicRuns).toEqual([]);
    const [job] = media.jobs;
    expect(job.inputs).toHaveLength(1);
    expect(job.inputs[0].source).toBe(source);
    const input = job.inputs[0].options;
    expect(input.slice(0, 2)).toEqual(['-ss', result.clip.start.toFixed(6)]);
    expect(input).toContain('-noautorotate');
    expect(input.slice(input.indexOf('-protocol_whitelist'), input.indexOf('-protocol_whitelist') + 2)).toEqual(['-protocol_whitelist', 'file']);
    expect(input).toContain('-format_whitelist');
    const stream = rec.probe.data!.streams.filter((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
    expect(job.complexFilter).toMatch(new RegExp(`^\\[0:(${stream.map((s) => s.index).join('|')})\\]setpts=PTS-STARTPTS,fps=30,`));
    // converted to BT.709 limited range 8-bit, tagged as such, the still cut from the same frames
    expect(job.complexFilter).toContain(':m=709:r=limited');
    const stillIndex = Math.round(result.stillTime * 30);
    if (DEFERRED.has(c.file)) {
      // the key frame chosen from the render's own decode: candidate stills around the middle + analysis frames
      expect(job.complexFilter).toContain('split=3[movie][forstill][foranalysis]');
      const [, from, to] = /select='between\(n,(\d+),(\d+)\)'/.exec(job.complexFilter!)!.map(Number);
      expect(stillIndex).toBeGreaterThanOrEqual(from);
      expect(stillIndex).toBeLessThanOrEqual(to);
      expect(job.outputs.map((o) => path.basename(o.path))).toEqual(['clip.mov', 'candidates.yuv', 'analysis.gray']);
      const encode = media.ffmpegRuns[0];
      // opened at the chosen candidate's first byte: (index - from) frames of yuv420p (w·h luma + 2 · w/2·h/2 chroma)
      const frameBytes = result.width * result.height * 1.5;
      expect(encode.slice(0, 13)).toEqual([
        '-protocol_whitelist', 'file', '-format_whitelist', 'rawvideo',
        '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${result.width}x${result.height}`,
        '-skip_initial_bytes', String((stillIndex - from) * frameBytes), '-i',
      ]);
      expect(encode).toContain('setsar=1,colorspace=ispace=bt709:iprimaries=bt709:itrc=bt709:irange=tv:space=bt470bg:primaries=bt709:trc=bt709:range=pc:format=yuv420p,format=yuvj420p');
      expect(encode).toEqual(expect.arrayContaining(['-c:v', 'mjpeg', '-q:v', '2', '-flags:v', '+bitexact']));
      // the still encoder may be ffmpeg 4.1 (the static build of @ffmpeg-installer), which has no -fps_mode
      expect(encode).not.toContain('-fps_mode');
      expect(result.reasons.join(' ')).toMatch(/by the compressed stream .*the render /);
    } else {
      expect(job.complexFilter).toContain('split=2[movie][forstill]');
      expect(job.complexFilter).toContain(`select='eq(n,${stillIndex})'`);
    }
    const [movie, still] = job.outputs;
    expect(path.dirname(movie.path)).toMatch(new RegExp(`^${workDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/vid2live-`));
    expect(movie.options).toEqual(expect.arrayContaining(['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv']));
    expect(movie.options.slice(movie.options.indexOf('-frames:v'), movie.options.indexOf('-frames:v') + 2)).toEqual(['-frames:v', String(Math.round(result.clip.duration * 30))]);
    expect(movie.options).toEqual(expect.arrayContaining(['-map_metadata', '-1', '-movie_timescale', '600', '-f', 'mov']));
    expect(still.options).toEqual(expect.arrayContaining(['-map', '[still]', '-c:v', DEFERRED.has(c.file) ? 'rawvideo' : 'mjpeg']));

    // HDR is tone mapped (never relabelled), SDR is not
    const toneMapped = codes(result).includes('HDR_TONE_MAPPED');
    expect(job.complexFilter!.includes('tonemap=mobius')).toBe(toneMapped);

    // the pair: both halves carry one content identifier; the intermediates are gone
    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.errors).toEqual([]);
    expect(report.contentIdentifier).toBe(result.contentIdentifier);
    expect(report.stillTime).toBeCloseTo(result.stillTime, 2);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  it('HLG (and Dolby Vision 8.4 on its HLG base layer) is rendered on the 1000 cd/m² display, then tone mapped', () => {
    for (const name of ['hlg10-color-test.mp4', 'dolbyVision-hdr.MOV']) {
      const graph = results.get(name)!.media.jobs[0].complexFilter!;
      expect(graph).toMatch(/zscale=w=\d+:h=\d+:f=bicubic:min=2020_ncl:rin=limited:pin=2020:tin=arib-std-b67:t=smpte2084:npl=1000,format=gbrpf32le,zscale=tin=smpte2084:t=linear:npl=203:p=709,tonemap=mobius:param=0\.3:desat=0:peak=4\.9261,zscale=t=709:m=709:r=limited,format=yuv420p/);
    }
    expect(results.get('dolbyVision-hdr.MOV')!.result.warnings.find((w) => w.code === 'HDR_TONE_MAPPED')!.message).toMatch(/Dolby Vision profile 8 \(its HLG base layer\)/);
  });

  it('PQ is linearised against reference white (203 cd/m²) and rolled off from its own peak', () => {
    const { media, rec } = results.get('hdr10-av1.mp4')!;
    const graph = media.jobs[0].complexFilter!;
    expect(graph).toMatch(/:min=2020_ncl:rin=limited:pin=2020:tin=smpte2084:t=linear:npl=203:p=709,format=gbrpf32le,tonemap=mobius:param=0\.3:desat=0:peak=/);
    const peak = Number(/tonemap=mobius:param=0\.3:desat=0:peak=([\d.]+)/.exec(graph)![1]);
    expect(peak).toBeGreaterThan(1);
    expect(rec.probe.data!.streams.some((s) => s.color_transfer === 'smpte2084')).toBe(true);
  });

  it('SDR sources are converted from their own matrix, range and primaries, not relabelled', () => {
    // Samsung 4K60: full-range BT.601
    expect(results.get('portrait_4k60.mp4')!.media.jobs[0].complexFilter).toContain('min=470bg:rin=full:pin=709:tin=709:m=709:r=limited:p=709:t=709');
    // the iPhone: full-range BT.601 matrix (yuvj420p, smpte170m, pc) in Display P3 (smpte432) → BT.709
    expect(results.get('IMG_3853.MOV')!.media.jobs[0].complexFilter).toContain('min=170m:rin=full:pin=smpte432:tin=709:m=709:r=limited:p=709:t=709');
    // 10-bit SDR VP9 in BT.2020 (bt2020-10: the BT.709 curve): its gamut converted, to 8 bits, no tone mapping
    const vp9 = results.get('roadtrip-vp92-10bit.webm')!.media.jobs[0].complexFilter!;
    expect(vp9).toContain('zscale=w=426:h=240:f=bicubic:min=2020_ncl:rin=limited:pin=2020:tin=709:m=709:r=limited:p=709:t=709,format=yuv420p');
    expect(vp9).not.toContain('tonemap');
  });

  it('geometry: the mirroring matrix as one transpose after the conversion; odd sizes cropped even; held frames', () => {
    const mirrored = results.get('sample_rotate_and_reflect.mp4')!.media.jobs[0].complexFilter!;
    expect(mirrored).toMatch(/format=yuv420p,transpose=cclock_flip,setsar=1,/);
    expect(results.get('bear-vp9-odd-dimensions.webm')!.media.jobs[0].complexFilter).toContain('fps=30,crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0,zscale=');
    for (const c of CASES) {
      const graph = results.get(c.file)!.media.jobs[0].complexFilter!;
      expect([c.file, graph.includes('tpad=stop_mode=clone')]).toEqual([c.file, (c.warnings ?? []).includes('SOURCE_EXTENDED')]);
    }
    // a held clip with sound gets its audio padded to the clip
    const slow = results.get('sample_android_slow_motion.mp4')!;
    if (slow.rec.probe.data!.streams.some((s) => s.codec_type === 'audio')) {
      expect(slow.media.jobs[0].outputs[0].options).toContain('-af');
    }
  });

  it('the genuine iPhone clip: the last-frame jump left out, key photo in the middle half, metadata carried', async () => {
    const { result } = results.get('IMG_3853.MOV')!;
    expect(result.reasons.join(' ')).toMatch(/left out 1 frame beyond the jump at 1\.37 s/);
    expect(result.clip.duration).toBeCloseTo(41 / 30, 5);
    expect(result.stillTime).toBeGreaterThanOrEqual(result.clip.duration / 4);
    expect(result.stillTime).toBeLessThanOrEqual((3 * result.clip.duration) / 4);
    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.warnings.map((w) => w.code)).not.toContain('STILL_TIME_AT_ZERO');
    const exif = readJpegExif(fs.readFileSync(result.stillPath));
    expect(exif).toBeDefined();
  });
});

describe('convertToLivePhoto on recorded generated sources (real-media.spec.ts colour and pixel-shape cases)', () => {
  it('a BT.601-tagged HD test pattern is converted from BT.601, not relabelled', async () => {
    const { media } = await convert('bt601.mp4', { start: 0, keyFrame: 1 });
    expect(media.reads.map((r) => r.tool)).toEqual(['probe']);
    expect(media.jobs[0].complexFilter).toContain('min=170m:rin=limited:pin=709:tin=709:m=709:r=limited:p=709:t=709');
  });

  it('non-square pixels are applied: a 64:27 source comes out at its display aspect', async () => {
    const { result, media } = await convert('anamorphic.mp4', { start: 0, keyFrame: 1 });
    expect(result.width / result.height).toBeCloseTo((720 * 64) / 27 / 480, 1);
    expect(media.jobs[0].complexFilter).toContain(`zscale=w=${result.width}:h=${result.height}:`);
    expect(media.jobs[0].complexFilter).toContain('setsar=1');
  });

  it('honours a user start, duration and key frame without analysing a frame', async () => {
    const { result, media } = await convert('tagged.mov', { start: 0.5, duration: 1.2, keyFrame: 1.0 });
    expect(result.clip).toEqual({ start: 0.5, duration: 1.2 });
    expect(result.stillTime).toBeCloseTo(0.5, 3);
    expect(media.reads.map((r) => r.tool)).toEqual(['probe']);
    expect(media.jobs[0].inputs[0].options.slice(0, 4)).toEqual(['-ss', '0.500000', '-t', '1.200000']);
    // the source has sound: it is kept as AAC
    expect(media.jobs[0].outputs[0].options).toEqual(expect.arrayContaining(['-map', '0:a:0', '-c:a', 'aac']));
  });
});

describe('convertToLivePhoto: HEIC still and Motion Photo requested of the port', () => {
  it('renders a PNG still, encodes it with heif-enc, re-muxes the MOV into an MP4 for the Motion Photo', async () => {
    const { result, media, workDir } = await convert('IMG_3853.MOV', { still: 'heic', motionPhoto: true }, 'H');
    expect(path.basename(result.stillPath)).toBe('H.HEIC');
    expect(path.basename(result.motionPhotoPath!)).toBe('H.MP.jpg');
    const [movie, still] = media.jobs[0].outputs;
    expect(still.path).toMatch(/still\.png$/);
    expect(still.options).toEqual(expect.arrayContaining(['-c:v', 'png']));
    expect(media.heicRuns).toHaveLength(1);
    expect(media.heicRuns[0].input).toBe(still.path);
    expect(media.heicRuns[0].quality).toBeUndefined(); // heif-enc's measured default (DEFAULT_HEIC_QUALITY)
    const [remux, toJpeg] = media.ffmpegRuns;
    expect(remux).toEqual(['-i', movie.path, '-map', '0', '-c', 'copy', '-f', 'mp4', '-brand', 'isom', '-movflags', '+faststart', '-y', expect.stringMatching(/motion\.mp4$/)]);
    expect(toJpeg).toEqual(['-i', still.path, '-q:v', '2', '-frames:v', '1', '-y', expect.stringMatching(/motion-still\.jpg$/)]);
    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.errors).toEqual([]);
    expect(report.contentIdentifier).toBe(result.contentIdentifier);
    const mp = await readMotionPhoto(result.motionPhotoPath!);
    expect(mp.isMotionPhoto).toBe(true);
    expect(mp.presentationTimestampUs).toBe(Math.round(result.stillTime * 1e6));
    expect(fs.readdirSync(workDir)).toEqual([]);
  });
});

describe('convertToLivePhoto on recorded answers: failures', () => {
  it('cancels after the render: CANCELED, no output, no intermediates', async () => {
    const rec = loadRecording('IMG_3853.MOV');
    const dir = path.join(tmp, 'cancel');
    fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
    const source = writeRecordedSource(rec, dir);
    const controller = new AbortController();
    const run = convertToLivePhoto(
      { source, outputDir: path.join(dir, 'out'), baseName: 'C', workDir: path.join(dir, 'work') },
      { media: replayMediaTools(rec), signal: controller.signal, onProgress: (s) => s.stage === 'render' && s.percent > 0 && controller.abort() },
    );
    await expect(run).rejects.toMatchObject({ code: 'CANCELED' });
    expect(fs.existsSync(path.join(dir, 'out', 'C.MOV'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'out', 'C.JPG'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'work'))).toEqual([]);
  });

  it.each([
    ['notes.mp4', 'INPUT_NOT_MEDIA'],
    ['photo.jpg', 'INPUT_IS_IMAGE'],
    ['voice.m4a', 'INPUT_NO_VIDEO'],
    ['cut-moov-last.mp4', 'INPUT_TRUNCATED'],
    ['zero.mp4', 'INPUT_ZERO_DURATION'],
  ])('%s → %s, final, naming the file; nothing rendered', async (name, code) => {
    const rec = loadRecording(name);
    const dir = path.join(tmp, 'bad', name);
    fs.mkdirSync(dir, { recursive: true });
    const source = writeRecordedSource(rec, dir);
    const media = replayMediaTools(rec);
    const err = await convertToLivePhoto({ source, outputDir: path.join(dir, 'out'), baseName: 'X' }, { media }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LivePhotoError);
    expect((err as LivePhotoError).code).toBe(code);
    expect((err as LivePhotoError).message).toContain(name);
    expect((err as LivePhotoError).retryable).toBe(false);
    expect(media.jobs).toEqual([]);
  });

  it('rejects a duration outside 1–5 s with INVALID_OPTIONS before rendering', async () => {
    await expect(convert('IMG_3853.MOV', { duration: 9 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('the fast project starts no process (test/support/no-processes.js)', () => {
    expect(() => spawnSync('ffmpeg', ['-version'])).toThrow(/starts no process: child_process\.spawnSync/);
  });
});
