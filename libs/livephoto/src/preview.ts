import { promises as fs } from 'node:fs';
import type { FfmpegJobInput } from '@vid2live/media/ffmpeg-job';
import { sourceInputOptions } from '@vid2live/media/demuxers';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { toneMappingWarnings } from './convert';
import { mediaToolsOf } from './ports/default-media-tools';
import { colorConversionFilters } from './stages/color';
import { planClip, type PlanCurves } from './stages/plan';
import { probeSource } from './stages/probe';
import { MAX_CLIP_SECONDS, MIN_CLIP_SECONDS, OUTPUT_FPS, type PlanWarning, type SourceInfo, type StageContext } from './types';

/**
 * What the studio shows before anything is made: the source, the numbers the automatic choice was made on, and
 * that choice. The page only draws this (docs/studio.md).
 */
export interface MomentAnalysis {
  source: {
    duration: number;
    fps: number;
    width: number;
    height: number;
    displayWidth: number;
    displayHeight: number;
    codec: string;
    hdr: 'pq' | 'hlg' | null;
    hasAudio: boolean;
  };
  limits: { minClipSeconds: number; maxClipSeconds: number; fps: number };
  /** null when the engine decided without looking at frames (never for an automatic choice) */
  curves: (Omit<PlanCurves, 'sharpness'> & { sharpness: Array<number | null> }) | null;
  suggestion: { start: number; duration: number; keyFrame: number; reasons: string[]; warnings: PlanWarning[] };
}

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

/** probe + the automatic plan, keeping the per-frame curves it was chosen on. */
export async function analyseMoment(sourcePath: string, ctx: StageContext = {}): Promise<{ info: SourceInfo; analysis: MomentAnalysis }> {
  const info = await probeSource(sourcePath, ctx);
  let curves: PlanCurves | undefined;
  const plan = await planClip(info, {}, ctx, { onCurves: (c) => (curves = c) });
  return {
    info,
    analysis: {
      source: {
        duration: round(info.duration),
        fps: round(info.fps),
        width: info.width,
        height: info.height,
        displayWidth: info.displayWidth,
        displayHeight: info.displayHeight,
        codec: info.videoCodec,
        hdr: info.color.hdr ?? null,
        hasAudio: info.hasAudio,
      },
      limits: { minClipSeconds: MIN_CLIP_SECONDS, maxClipSeconds: MAX_CLIP_SECONDS, fps: OUTPUT_FPS },
      curves: curves
        ? {
            ...curves,
            start: round(curves.start, 6),
            motion: curves.motion.map((v) => round(v, 2)),
            sharpness: curves.sharpness.map((v) => (Number.isFinite(v) ? round(v, 1) : null)),
          }
        : null,
      suggestion: {
        start: round(plan.start, 6),
        duration: round(plan.duration, 6),
        keyFrame: round(plan.start + plan.stillOffset, 6),
        reasons: plan.reasons,
        // the render's own tone-mapping decision and words (the previews are that SDR picture too)
        warnings: [
          ...plan.warnings,
          ...toneMappingWarnings(info, colorConversionFilters(info.color, info.displayWidth, info.displayHeight).toneMapped),
        ],
      },
    },
  };
}

/** Longest side of a frame preview; the still itself is at most MAX_LONG_SIDE. */
export const PREVIEW_MAX_WIDTH = 1920;

/**
 * The filters turning a decoded source frame into what the still shows, `width` pixels wide: the render's colour
 * conversion (HDR tone mapped, BT.601 → BT.709 converted), the display matrix (rotation, mirror) and the sample
 * aspect ratio — then JPEG's full-range BT.601, as the still is written.
 */
export function uprightPreviewFilters(info: SourceInfo, width: number): string[] {
  const w = Math.max(16, 2 * Math.round(Math.min(width, PREVIEW_MAX_WIDTH, info.displayWidth) / 2));
  const h = Math.max(16, 2 * Math.round((w * info.displayHeight) / info.displayWidth / 2));
  const quarterTurn = info.orientationFilters.some((f) => f.startsWith('transpose'));
  const odd = info.width % 2 === 1 || info.height % 2 === 1;
  const conversion = colorConversionFilters(info.color, quarterTurn ? h : w, quarterTurn ? w : h);
  return [...(odd ? ['crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0'] : []), ...conversion.filters, ...info.orientationFilters, 'setsar=1'];
}

const JPEG_FROM_BT709 =
  'colorspace=ispace=bt709:iprimaries=bt709:itrc=bt709:irange=tv:space=bt470bg:primaries=bt709:trc=bt709:range=pc:format=yuv420p,format=yuvj420p';

function checkTime(info: SourceInfo, t: number): number {
  if (!Number.isFinite(t) || t < 0 || t > info.duration + 1e-6) {
    throw new LivePhotoError('INVALID_OPTIONS', `time ${t} s is outside the ${round(info.duration)} s source`, { t });
  }
  // the last frame starts before the end
  return Math.min(t, Math.max(0, info.duration - 1 / Math.max(1, info.fps)));
}

async function nonEmpty(file: string, subject: string): Promise<void> {
  const size = await fs.stat(file).then((s) => s.size, () => 0);
  if (size === 0) throw new LivePhotoError('FFMPEG_FAILED', `ffmpeg produced no picture from ${subject}`, { file: subject });
}

/** The frame shown at `t` seconds of the source, upright and in the still's colours, as a JPEG `width` wide. */
export async function extractPreviewFrame(info: SourceInfo, t: number, width: number, outPath: string, ctx: StageContext = {}): Promise<void> {
  throwIfAborted(ctx.signal);
  const at = checkTime(info, t);
  const job = {
    inputs: [{ source: info.path, options: ['-ss', at.toFixed(6), '-noautorotate', ...sourceInputOptions(info.path)] }],
    complexFilter: `[0:${info.videoStreamIndex}]${[...uprightPreviewFilters(info, width), JPEG_FROM_BT709].join(',')}[v]`,
    outputs: [{ path: outPath, options: ['-map', '[v]', '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '4', '-map_metadata', '-1', '-f', 'image2', '-update', '1'] }],
  };
  await mediaToolsOf(ctx).runFfmpegJob(job, { signal: ctx.signal, subject: info.path });
  await nonEmpty(outPath, info.path);
}

export interface ThumbnailStrip {
  count: number;
  tileWidth: number;
  tileHeight: number;
  /** seconds of the source, one per tile */
  times: number[];
}

/** Sources with at most this many frames are decoded once for the strip; longer ones get one short seek per tile. */
const STRIP_SINGLE_PASS_MAX_FRAMES = 600;

/** `count` frames spread over the source side by side in one JPEG, each `tileHeight` high. */
export async function makeThumbnailStrip(info: SourceInfo, outPath: string, count = 12, tileHeight = 90, ctx: StageContext = {}): Promise<ThumbnailStrip> {
  throwIfAborted(ctx.signal);
  const fps = info.fps || OUTPUT_FPS;
  const n = Math.max(1, Math.min(32, Math.floor(count), Math.floor(info.duration * fps)));
  const tileWidth = Math.max(16, 2 * Math.round((tileHeight * info.displayWidth) / info.displayHeight / 2));
  const step = info.duration / n;
  const tile = [...uprightPreviewFilters(info, tileWidth), `scale=${tileWidth}:${tileHeight}`];
  const inputs: FfmpegJobInput[] = [];
  let times: number[];
  let graph: string;
  if (info.duration * fps <= STRIP_SINGLE_PASS_MAX_FRAMES) {
    // one decode: the first frame of each of n equal slots
    times = Array.from({ length: n }, (_, i) => round(i * step, 3));
    inputs.push({ source: info.path, options: ['-noautorotate', ...sourceInputOptions(info.path)] });
    const slot = (v: string) => `floor((${v}+${(0.25 / fps).toFixed(6)})/${step.toFixed(6)})`;
    const pick = `select='isnan(prev_selected_t)+gt(${slot('t')}\\,${slot('prev_selected_t')})'`;
    graph = `[0:${info.videoStreamIndex}]${['setpts=PTS-STARTPTS', pick, ...tile, `tile=${n}x1`, JPEG_FROM_BT709].join(',')}[v]`;
  } else {
    // a long source: one seek per tile, each input reading a few frames only
    times = Array.from({ length: n }, (_, i) => round(checkTime(info, (i + 0.5) * step), 3));
    const readSeconds = (4 / fps).toFixed(6);
    for (const t of times) {
      inputs.push({ source: info.path, options: ['-ss', t.toFixed(6), '-t', readSeconds, '-noautorotate', ...sourceInputOptions(info.path)] });
    }
    const tiles = times.map((_, i) => `[${i}:${info.videoStreamIndex}]${[...tile, 'trim=end_frame=1'].join(',')}[t${i}]`);
    graph = [...tiles, `${times.map((_, i) => `[t${i}]`).join('')}${n === 1 ? 'null' : `hstack=inputs=${n}`},${JPEG_FROM_BT709}[v]`].join(';');
  }
  const job = {
    inputs,
    complexFilter: graph,
    outputs: [{ path: outPath, options: ['-map', '[v]', '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '5', '-map_metadata', '-1', '-f', 'image2', '-update', '1'] }],
  };
  await mediaToolsOf(ctx).runFfmpegJob(job, { signal: ctx.signal, subject: info.path });
  await nonEmpty(outPath, info.path);
  return { count: n, tileWidth, tileHeight, times };
}

/** Longest side of the page's playback copy of a source. */
export const PROXY_LONG_SIDE = 640;

/**
 * A small H.264/AAC MP4 of the whole source for a browser's `<video>` (which cannot play HEVC, 10-bit or a display
 * matrix reliably): upright, SDR, ≤ PROXY_LONG_SIDE, 30 fps, fast start.
 */
export async function makePlaybackProxy(info: SourceInfo, outPath: string, ctx: StageContext = {}): Promise<void> {
  throwIfAborted(ctx.signal);
  const width = info.displayWidth * Math.min(1, PROXY_LONG_SIDE / Math.max(info.displayWidth, info.displayHeight));
  const filters = [`fps=${OUTPUT_FPS}`, ...uprightPreviewFilters(info, width), 'format=yuv420p'];
  const job = {
    inputs: [{ source: info.path, options: ['-noautorotate', ...sourceInputOptions(info.path)] }],
    complexFilter: `[0:${info.videoStreamIndex}]${filters.join(',')}[v]`,
    outputs: [
      {
        path: outPath,
        options: [
          '-map', '[v]', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '28', '-g', String(OUTPUT_FPS),
          '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
          ...(info.hasAudio ? ['-map', '0:a:0', '-c:a', 'aac', '-b:a', '96k'] : ['-an']),
          '-sn', '-dn', '-map_metadata', '-1', '-movflags', '+faststart', '-f', 'mp4',
        ],
      },
    ],
  };
  await mediaToolsOf(ctx).runFfmpegJob(job, { signal: ctx.signal, subject: info.path, expectedDuration: info.duration, onProgress: (p) => ctx.onProgress?.({ stage: 'render', percent: p }) });
  await nonEmpty(outPath, info.path);
}

/**
 * An H.264 copy of a Live Photo MOV for a browser that cannot play HEVC: same frames, same 30 fps timing (so the
 * still's time is the same), audio copied. The real MOV stays the metadata source of the preview.
 */
export async function makeH264PreviewMovie(moviePath: string, outPath: string, ctx: StageContext = {}): Promise<void> {
  throwIfAborted(ctx.signal);
  const job = {
    inputs: [{ source: moviePath, options: sourceInputOptions(moviePath) }],
    outputs: [
      {
        path: outPath,
        options: [
          '-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p',
          '-r', String(OUTPUT_FPS), '-c:a', 'copy', '-map_metadata', '-1', '-movflags', '+faststart', '-f', 'mov',
        ],
      },
    ],
  };
  await mediaToolsOf(ctx).runFfmpegJob(job, { signal: ctx.signal, subject: moviePath });
  await nonEmpty(outPath, moviePath);
}
