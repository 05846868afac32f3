import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FfmpegJob } from '@vid2live/media/ffmpeg-job';
import { sourceInputOptions } from '@vid2live/media/demuxers';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { mediaToolsOf } from '../ports/default-media-tools';
import { resetDisplayMatrices } from '../quicktime/reset-matrix';
import { colorConversionFilters, SourceColor } from './color';
import { ClipPlan, CropRect, MAX_LONG_SIDE, MOVIE_TIMESCALE, OUTPUT_FPS, SourceInfo, StageContext, VideoCodec } from '../types';

export interface RenderOptions extends StageContext {
  /** private folder for the intermediates (the caller removes it) */
  workDir: string;
  codec?: VideoCodec;
  /** PNG when the still is re-encoded later (HEIC); JPEG is final */
  stillFormat: 'jpeg' | 'png';
  /** output frame rate; OUTPUT_FPS (30) by default, 60 for the wallpaper profile */
  fps?: number;
  /**
   * a fixed output frame (the wallpaper's 1080×1920) filled from `crop`, a rectangle of the upright source; the
   * long side ≤ 1920 size of the whole picture otherwise
   */
  frame?: { width: number; height: number; crop: CropRect };
  /** false drops the source's audio (the wallpaper is silent); default true */
  audio?: boolean;
  /**
   * The key frame is not decided yet (DeferredKeyFrame, JPEG stills only): instead of one still, keep every frame
   * of [from, to] (clip frame indices) raw as a candidate still, and those frames and the one before them as small
   * gray analysis frames of `analysis` size, from the same decode.
   */
  keyFrameCandidates?: { from: number; to: number; analysis: { width: number; height: number } };
}

/**
 * Output size of a picture cropped to `crop` and scaled to `frame`: the whole upright picture is scaled (so the
 * colour conversion runs once, on the final pixels) and the crop cut from it in output pixels.
 */
export function croppedFrameGeometry(
  displayWidth: number,
  displayHeight: number,
  frame: { width: number; height: number; crop: CropRect },
): { width: number; height: number; crop: { width: number; height: number; x: number; y: number } } {
  const k = frame.width / frame.crop.width;
  const even = (v: number, min: number) => Math.max(min, 2 * Math.round(v / 2));
  const width = even(displayWidth * k, frame.width);
  const height = even(displayHeight * k, frame.height);
  const x = Math.max(0, Math.min(width - frame.width, Math.round(frame.crop.x * k)));
  const y = Math.max(0, Math.min(height - frame.height, Math.round(frame.crop.y * k)));
  return { width, height, crop: { width: frame.width, height: frame.height, x, y } };
}

export interface RenderedClip {
  moviePath: string;
  stillPath: string;
  width: number;
  height: number;
  frameCount: number;
  /** seconds from the start of the MOV at which the still was taken (= plan.stillOffset) */
  stillTime: number;
  /** true when an HDR source was tone mapped to SDR */
  toneMapped: boolean;
  /**
   * with `keyFrameCandidates`: the movie's raw frames `from`…`to` (yuv420p at the output size: the candidate stills,
   * see encodeCandidateStill) and the gray analysis frames of `analysisFirst`…`to` (the candidates and the one before)
   */
  candidates?: { rawPath: string; from: number; analysisPath: string; analysisFirst: number };
}

/** Upright output size: long side ≤ MAX_LONG_SIDE, aspect kept, both even (4:2:0 needs even dimensions). */
export function outputFrameSize(displayWidth: number, displayHeight: number): { width: number; height: number } {
  const scale = Math.min(1, MAX_LONG_SIDE / Math.max(displayWidth, displayHeight));
  const even = (v: number) => Math.max(2, Math.min(MAX_LONG_SIDE, 2 * Math.round(v / 2)));
  return { width: even(displayWidth * scale), height: even(displayHeight * scale) };
}

export interface RenderGraphSpec {
  /** ffprobe index of the video stream to use */
  streamIndex: number;
  /** upright output size */
  width: number;
  height: number;
  /** the source's colour: converted (never relabelled) to BT.709 limited range, HDR tone mapped */
  color: SourceColor;
  /** transpose/hflip/vflip turning the coded frame upright (autorotate is off) */
  orientationFilters: string[];
  stillFrameIndex: number;
  stillFormat: 'jpeg' | 'png';
  /** seconds of the last source frame held at the end, when the source is shorter than the shortest clip */
  holdSeconds?: number;
  /** coded size of the source: zscale cannot read 4:2:0 frames of odd size, so those lose their last row/column */
  codedWidth?: number;
  codedHeight?: number;
  /** output frame rate (default OUTPUT_FPS) */
  fps?: number;
  /** cut from the upright, scaled picture (output pixels), after the rotation */
  crop?: { width: number; height: number; x: number; y: number };
  /** candidate stills [from, to] instead of `stillFrameIndex`, plus gray analysis frames of [from − 1, to] (`[analysis]`) */
  candidates?: { from: number; to: number; analysis: { width: number; height: number } };
}

/**
 * The still's conversion from the movie's BT.709 limited-range frame to what its format implies (JPEG/JFIF: BT.601
 * full range; PNG: RGB). The colorspace filter converts the matrix precisely (swscale's yuv→yuv matrix change costs
 * ~15 dB); its input is named explicitly, so an untagged raw frame converts exactly like a tagged one.
 */
export function stillConversionFilter(stillFormat: 'jpeg' | 'png'): string {
  return stillFormat === 'jpeg'
    ? 'colorspace=ispace=bt709:iprimaries=bt709:itrc=bt709:irange=tv:space=bt470bg:primaries=bt709:trc=bt709:range=pc:format=yuv420p,format=yuvj420p'
    : 'scale=in_color_matrix=bt709:in_range=tv,format=rgb24';
}

/**
 * The mjpeg settings of every JPEG still (in the render, or from a candidate frame). bitexact leaves out the
 * encoder's version comment (`Lavc59.37.100`), so a still is the same bytes whichever ffmpeg encoded it.
 */
const JPEG_STILL_CODEC = ['-c:v', 'mjpeg', '-q:v', '2', '-flags:v', '+bitexact'];
/** An output of exactly one picture file, with no metadata of the source (options ffmpeg 4.1 knows too). */
const ONE_PICTURE = ['-frames:v', '1', '-map_metadata', '-1', '-f', 'image2', '-update', '1'];
/** ONE_PICTURE from a filter graph of the render: its frames keep their times (no duplication or drop). */
const ONE_IMAGE_OUTPUT = [...ONE_PICTURE, '-fps_mode', 'passthrough'];

/** The first clip frame of a candidate render's analysis frames: the one before the candidates (their first motion). */
function firstAnalysedFrame(candidatesFrom: number): number {
  return Math.max(0, candidatesFrom - 1);
}

/** Fails with FFMPEG_FAILED when ffmpeg left `file` missing or empty. */
async function assertWritten(file: string, message: string, details?: Record<string, unknown>): Promise<void> {
  const size = await fs.stat(file).then((s) => s.size, () => 0);
  if (size === 0) throw new LivePhotoError('FFMPEG_FAILED', message, details);
}

/** True when the orientation filters swap width and height (a quarter turn). */
function transposes(filters: string[]): boolean {
  return filters.some((f) => f.startsWith('transpose'));
}

/**
 * The filter graph of the render: one decode, one colour conversion, split into the movie and the still, so the
 * still is exactly the movie's frame `stillFrameIndex` before encoding (same pixels in both halves).
 * - setpts restarts at 0 so frame n of the fps grid is n/30 s into the clip (input seeking can leave an offset).
 * - fps before the conversion: a 60 fps 4K source is only converted 30 times a second; the conversion (zscale:
 *   size, matrix, range, primaries, HDR tone mapping) runs before the rotation, on the pre-rotation output size,
 *   so the transpose moves 8-bit output pixels, not float source pixels.
 * - setsar=1: the sample aspect ratio was applied in the output size (square pixels out).
 * - tpad holds the last frame when the source is shorter than the shortest clip (the rule in plan.ts).
 * - the still is converted from the movie's BT.709 limited range to what its format implies (JPEG/JFIF:
 *   BT.601 full range; PNG: RGB), so it looks like the movie frame in viewers.
 */
export function buildRenderFilterGraph(spec: RenderGraphSpec): { graph: string; toneMapped: boolean } {
  const { width, height, stillFrameIndex, stillFormat } = spec;
  const stillConversion = stillConversionFilter(stillFormat);
  const quarterTurn = transposes(spec.orientationFilters);
  const conversion = colorConversionFilters(spec.color, quarterTurn ? height : width, quarterTurn ? width : height);
  const hold = spec.holdSeconds && spec.holdSeconds > 0 ? [`tpad=stop_mode=clone:stop_duration=${spec.holdSeconds.toFixed(6)}`] : [];
  const odd = (spec.codedWidth ?? 0) % 2 === 1 || (spec.codedHeight ?? 0) % 2 === 1;
  const chain = [
    'setpts=PTS-STARTPTS',
    `fps=${spec.fps ?? OUTPUT_FPS}`,
    ...(odd ? ['crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0'] : []),
    ...conversion.filters,
    ...spec.orientationFilters,
    ...(spec.crop ? [`crop=${spec.crop.width}:${spec.crop.height}:${spec.crop.x}:${spec.crop.y}`] : []),
    'setsar=1',
    ...hold,
    spec.candidates ? 'split=3[movie][forstill][foranalysis]' : 'split=2[movie][forstill]',
  ];
  const c = spec.candidates;
  return {
    graph: [
      `[0:${spec.streamIndex}]${chain.join(',')}`,
      c
        ? // the candidates leave as the movie's raw frames: converting and encoding 31 of them would cost the
          // render's main thread more than converting the chosen one afterwards (encodeCandidateStill)
          `[forstill]select='between(n,${c.from},${c.to})'[still]`
        : `[forstill]select='eq(n,${stillFrameIndex})',${stillConversion}[still]`,
      // the plan stage's analysis frames (analyseFrames: area downscale to gray) of the candidates and the frame
      // before them (the first candidate's motion), from the render's own pictures
      ...(c
        ? [`[foranalysis]select='between(n,${firstAnalysedFrame(c.from)},${c.to})',scale=${c.analysis.width}:${c.analysis.height}:flags=area,format=gray[analysis]`]
        : []),
    ].join(';'),
    toneMapped: conversion.toneMapped,
  };
}

/**
 * Peak video bitrate (kb/s) of a 1920×1080 30 fps movie. CRF sets the quality; this VBV cap only bites on
 * hard content (detail + motion, grain), keeping a 1080p30 movie within what an iPhone writes (≤ 15 Mb/s; its
 * own 1920×1440 HEVC Live Photo movie runs at ~19 Mb/s). x264 overshoots the cap by a few % on a short clip
 * (1080p30 film grain: 15.2 Mb/s under a 15 Mb/s cap), hence 14. HEVC needs fewer bits for the same picture,
 * and 12 Mb/s keeps x265 at level 4 Main tier (above it x265 signals High tier).
 */
export const MOVIE_MAXRATE_1080P_KBPS: Readonly<Record<VideoCodec, number>> = { h264: 14000, hevc: 12000 };
/** Small outputs need more bits per pixel: the cap never drops below this (kb/s). */
export const MOVIE_MAXRATE_FLOOR_KBPS = 2000;

/** The VBV cap of a `width`×`height` movie: the 1080p30 reference scaled by the pixel count, floored. */
export function movieMaxrateKbps(codec: VideoCodec, width: number, height: number): number {
  const scaled = (MOVIE_MAXRATE_1080P_KBPS[codec] * width * height) / (1920 * 1080);
  return Math.max(MOVIE_MAXRATE_FLOOR_KBPS, Math.round(scaled / 100) * 100);
}

function videoCodecOptions(codec: VideoCodec, width: number, height: number): string[] {
  const maxrate = movieMaxrateKbps(codec, width, height);
  // CRF under a VBV cap. A 1 s buffer (= the GOP) starting half full: the encoders' default start (x264 0.9,
  // x265 0.75 of the buffer) is spent on top of the cap, which on a 1.4 s clip averaged 1.27× the cap.
  const vbv = ['-maxrate', `${maxrate}k`, '-bufsize', `${maxrate}k`, '-rc_init_occupancy', `${maxrate / 2}k`];
  if (codec === 'hevc') {
    // hvc1 (not hev1) is what Apple plays; x265's info SEI bloats hvcC (live-photo-format §3.5). With a VBV
    // cap x265 may pick a High tier level; an iPhone writes Main tier, so stay there (a higher level instead).
    return [
      '-c:v', 'libx265', '-tag:v', 'hvc1', '-preset', 'fast', '-crf', '22', ...vbv,
      '-x265-params', 'info=0:sei=0:log-level=error:high-tier=0',
    ];
  }
  return ['-c:v', 'libx264', '-profile:v', 'high', '-preset', 'fast', '-crf', '20', ...vbv];
}

/**
 * Output options of the movie: mapped from the `[movie]` label of the filter graph. Shared with the benchmark's
 * lower bound so both encode exactly alike. `size` is the output frame size (the bitrate cap scales with it).
 */
export function movieEncodeArgs(
  codec: VideoCodec,
  frameCount: number,
  hasAudio: boolean,
  size: { width: number; height: number },
  fps: number = OUTPUT_FPS,
): string[] {
  return [
    '-map', '[movie]',
    ...videoCodecOptions(codec, size.width, size.height),
    '-pix_fmt', 'yuv420p',
    '-r', String(fps),
    '-g', String(fps),
    '-frames:v', String(frameCount),
    '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
    ...(hasAudio ? ['-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k'] : ['-an']),
    '-sn', '-dn',
    // The pair stage writes the Live Photo metadata; nothing from the source may leak (rotation, GPS, …).
    '-map_metadata', '-1', '-map_chapters', '-1',
    // Apple's movie timescale: 30 fps frame starts (n/30 s) are whole ticks of 1/600 s, so the still-image-time
    // marker can sit exactly on the still's frame (ffmpeg's default 1000 puts n/30 between ticks).
    '-movie_timescale', String(MOVIE_TIMESCALE),
    // `-f mov` makes the ftyp major brand `qt  ` (Apple's); moov stays last like an iPhone file.
    '-f', 'mov',
  ];
}

/**
 * render: one ffmpeg process decodes only the clip (input seeking) and writes the upright 30 fps H.264/HEVC MOV
 * (BT.709, AAC or silent, no metadata — the pair stage adds it) and the still from the same decoded frame.
 */
export async function renderClip(
  sourcePath: string,
  source: SourceInfo,
  plan: ClipPlan,
  options: RenderOptions,
): Promise<RenderedClip> {
  const { workDir, signal, onProgress } = options;
  const codec = options.codec ?? 'h264';
  throwIfAborted(signal);
  onProgress?.({ stage: 'render', percent: 0 });

  const fps = options.fps ?? OUTPUT_FPS;
  const candidates = options.keyFrameCandidates;
  if (candidates && (options.stillFormat !== 'jpeg' || fps !== OUTPUT_FPS)) {
    throw new LivePhotoError('INVALID_OPTIONS', 'candidate stills are made for JPEG stills at 30 fps only');
  }
  const frameCount = Math.max(1, Math.round(plan.duration * fps));
  // The plan's frame index is on the 30 fps grid; another rate takes the frame starting at the same time.
  const stillFrameIndex = fps === OUTPUT_FPS ? plan.stillFrameIndex : Math.round(plan.stillOffset * fps);
  if (!(stillFrameIndex >= 0 && stillFrameIndex < frameCount)) {
    throw new LivePhotoError('INVALID_OPTIONS', `still frame ${stillFrameIndex} is outside the ${frameCount}-frame clip`, {
      stillFrameIndex,
      frameCount,
    });
  }
  const geometry = options.frame ? croppedFrameGeometry(source.displayWidth, source.displayHeight, options.frame) : undefined;
  const { width, height } = geometry ?? outputFrameSize(source.displayWidth, source.displayHeight);
  const outWidth = geometry?.crop.width ?? width;
  const outHeight = geometry?.crop.height ?? height;
  const hasAudio = source.hasAudio && options.audio !== false;
  const moviePath = path.join(workDir, 'clip.mov');
  const stillPath = path.join(workDir, options.stillFormat === 'jpeg' ? 'still.jpg' : 'still.png');

  const movieOptions = movieEncodeArgs(codec, frameCount, hasAudio, { width: outWidth, height: outHeight }, fps);
  // A source shorter than the shortest clip: read all of it and hold its last frame (audio padded with silence).
  const sourceSeconds = Math.min(plan.duration, plan.sourceDuration ?? plan.duration);
  const holdSeconds = plan.duration - sourceSeconds > 0.5 / fps ? plan.duration - sourceSeconds : 0;
  if (holdSeconds > 0 && hasAudio) {
    const at = movieOptions.indexOf('-c:a');
    movieOptions.splice(at, 0, '-af', `apad=whole_dur=${plan.duration.toFixed(6)}`);
    movieOptions.splice(movieOptions.indexOf('-f'), 0, '-t', plan.duration.toFixed(6));
  }
  const graph = buildRenderFilterGraph({
    streamIndex: source.videoStreamIndex,
    width,
    height,
    color: source.color,
    orientationFilters: source.orientationFilters,
    stillFrameIndex,
    stillFormat: options.stillFormat,
    holdSeconds,
    codedWidth: source.width,
    codedHeight: source.height,
    fps,
    ...(geometry ? { crop: geometry.crop } : {}),
    ...(candidates ? { candidates } : {}),
  });
  const stillOptions =
    options.stillFormat === 'jpeg'
      ? ['-map', '[still]', ...JPEG_STILL_CODEC, ...ONE_IMAGE_OUTPUT]
      : ['-map', '[still]', '-c:v', 'png', ...ONE_IMAGE_OUTPUT];
  const rawPath = path.join(workDir, 'candidates.yuv');
  const analysisPath = path.join(workDir, 'analysis.gray');
  const outputs = candidates
    ? [
        { path: moviePath, options: movieOptions },
        { path: rawPath, options: ['-map', '[still]', '-c:v', 'rawvideo', '-pix_fmt', 'yuv420p', '-fps_mode', 'passthrough', '-f', 'rawvideo'] },
        { path: analysisPath, options: ['-map', '[analysis]', '-c:v', 'rawvideo', '-fps_mode', 'passthrough', '-f', 'rawvideo'] },
      ]
    : [
        { path: moviePath, options: movieOptions },
        { path: stillPath, options: stillOptions },
      ];

  const job: FfmpegJob = {
    inputs: [
      {
        source: sourcePath,
        options: [
          // input seeking: ffmpeg jumps to the key frame before `start` and decodes only the clip
          '-ss', plan.start.toFixed(6), '-t', sourceSeconds.toFixed(6),
          // the display matrix is applied by the graph (ffmpeg 5.1's autorotate ignores mirroring)
          '-noautorotate',
          // only the video demuxers the probe stage accepted may open the source (see media/src/demuxers.ts)
          ...sourceInputOptions(sourcePath),
        ],
      },
    ],
    complexFilter: graph.graph,
    outputs,
  };
  await mediaToolsOf(options).runFfmpegJob(job, {
    signal,
    subject: sourcePath,
    expectedDuration: plan.duration,
    onProgress: (p) => onProgress?.({ stage: 'render', percent: p }),
  });

  for (const file of [moviePath, candidates ? analysisPath : stillPath]) {
    await assertWritten(file, `ffmpeg produced no ${path.basename(file)} from ${sourcePath}`, { file: sourcePath, output: file });
  }
  // The pixels are upright now; ffmpeg 5.1 copies the source's display matrix to the output all the same.
  await resetDisplayMatrices(moviePath);
  const stillTime = fps === OUTPUT_FPS ? plan.stillOffset : stillFrameIndex / fps;
  return {
    moviePath,
    stillPath,
    width: outWidth,
    height: outHeight,
    frameCount,
    stillTime,
    toneMapped: graph.toneMapped,
    ...(candidates ? { candidates: { rawPath, from: candidates.from, analysisPath, analysisFirst: firstAnalysedFrame(candidates.from) } } : {}),
  };
}

/**
 * The JPEG still from candidate `index` of a render with `keyFrameCandidates`: that raw frame (the movie's pixels
 * before encoding) converted and encoded exactly as the render converts and encodes its one still.
 */
export async function encodeCandidateStill(rendered: RenderedClip, index: number, ctx: StageContext & { subject: string }): Promise<void> {
  const c = rendered.candidates;
  if (!c || index < c.from) throw new LivePhotoError('INVALID_OPTIONS', `frame ${index} is not a candidate still of this render`);
  // Straight to that frame's bytes: reading and dropping the candidates before it cost up to ~50 ms at 4K.
  const chromaBytes = Math.ceil(rendered.width / 2) * Math.ceil(rendered.height / 2);
  const frameBytes = rendered.width * rendered.height + 2 * chromaBytes;
  // The input is this render's own raw frames, so the still encoder may run it (ownRawInput: a statically linked
  // ffmpeg where one is installed, ~0.15 s less than starting Debian's); the whitelists keep it to that file's bytes.
  await mediaToolsOf(ctx).runFfmpeg(
    [
      '-protocol_whitelist', 'file', '-format_whitelist', 'rawvideo',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${rendered.width}x${rendered.height}`,
      '-skip_initial_bytes', String((index - c.from) * frameBytes), '-i', c.rawPath,
      '-vf', `setsar=1,${stillConversionFilter('jpeg')}`,
      ...JPEG_STILL_CODEC, ...ONE_PICTURE, '-y', rendered.stillPath,
    ],
    { signal: ctx.signal, subject: ctx.subject, ownRawInput: true },
  );
  await assertWritten(rendered.stillPath, `ffmpeg made no still from candidate frame ${index} of ${ctx.subject}`);
}
