import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createFfmpegCommand, ffmpegInput, runFfmpegCommand } from '../../../media/src/ffmpeg';
import { LivePhotoError, throwIfAborted } from '../errors';
import { ClipPlan, MAX_LONG_SIDE, OUTPUT_FPS, SourceInfo, StageContext, VideoCodec } from '../types';

export interface RenderOptions extends StageContext {
  /** private folder for the intermediates (the caller removes it) */
  workDir: string;
  codec?: VideoCodec;
  /** PNG when the still is re-encoded later (HEIC); JPEG is final */
  stillFormat: 'jpeg' | 'png';
}

export interface RenderedClip {
  moviePath: string;
  stillPath: string;
  width: number;
  height: number;
  frameCount: number;
  /** seconds from the start of the MOV at which the still was taken (= plan.stillOffset) */
  stillTime: number;
}

/** Upright output size: long side ≤ MAX_LONG_SIDE, aspect kept, both even (4:2:0 needs even dimensions). */
export function outputFrameSize(displayWidth: number, displayHeight: number): { width: number; height: number } {
  const scale = Math.min(1, MAX_LONG_SIDE / Math.max(displayWidth, displayHeight));
  const even = (v: number) => Math.max(2, Math.min(MAX_LONG_SIDE, 2 * Math.round(v / 2)));
  return { width: even(displayWidth * scale), height: even(displayHeight * scale) };
}

/**
 * The filter graph of the render: one decode, split into the movie and the still, so the still is exactly the
 * movie's frame `stillFrameIndex` before encoding.
 * - ffmpeg's autorotate (on by default) has already turned the picture upright before `[0:v]`.
 * - setpts restarts at 0 so frame n of the fps grid is n/30 s into the clip (input seeking can leave an offset).
 * - fps before scale: the same frames, but a 60 fps 4K source is only scaled 30 times a second.
 * - the still is converted from the movie's BT.709 limited range to what its format implies (JPEG/JFIF:
 *   BT.601 full range; PNG: RGB), so it looks like the movie frame in viewers.
 */
export function buildRenderFilterGraph(width: number, height: number, stillFrameIndex: number, stillFormat: 'jpeg' | 'png'): string {
  const stillConversion =
    stillFormat === 'jpeg'
      ? // the colorspace filter converts the matrix precisely (swscale's yuv→yuv matrix change costs ~15 dB)
        'colorspace=ispace=bt709:iprimaries=bt709:itrc=bt709:irange=tv:space=bt470bg:primaries=bt709:trc=bt709:range=pc:format=yuv420p,format=yuvj420p'
      : 'scale=in_color_matrix=bt709:in_range=tv,format=rgb24';
  return [
    `[0:v:0]setpts=PTS-STARTPTS,fps=${OUTPUT_FPS},scale=${width}:${height}:flags=bicubic,setsar=1,format=yuv420p,split=2[movie][forstill]`,
    `[forstill]select='eq(n,${stillFrameIndex})',${stillConversion}[still]`,
  ].join(';');
}

function videoCodecOptions(codec: VideoCodec): string[] {
  if (codec === 'hevc') {
    // hvc1 (not hev1) is what Apple plays; x265's info SEI bloats hvcC (live-photo-format §3.5).
    return ['-c:v', 'libx265', '-tag:v', 'hvc1', '-preset', 'fast', '-crf', '22', '-x265-params', 'info=0:sei=0:log-level=error'];
  }
  return ['-c:v', 'libx264', '-profile:v', 'high', '-preset', 'fast', '-crf', '20'];
}

/**
 * Output options of the movie: mapped from the `[movie]` label of the filter graph. Shared with the benchmark's
 * lower bound so both encode exactly alike.
 */
export function movieEncodeArgs(codec: VideoCodec, frameCount: number, hasAudio: boolean): string[] {
  return [
    '-map', '[movie]',
    ...videoCodecOptions(codec),
    '-pix_fmt', 'yuv420p',
    '-r', String(OUTPUT_FPS),
    '-g', String(OUTPUT_FPS),
    '-frames:v', String(frameCount),
    '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
    ...(hasAudio ? ['-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k'] : ['-an']),
    '-sn', '-dn',
    // The pair stage writes the Live Photo metadata; nothing from the source may leak (rotation, GPS, …).
    '-map_metadata', '-1', '-map_chapters', '-1',
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

  const frameCount = Math.max(1, Math.round(plan.duration * OUTPUT_FPS));
  if (!(plan.stillFrameIndex >= 0 && plan.stillFrameIndex < frameCount)) {
    throw new LivePhotoError('INVALID_OPTIONS', `still frame ${plan.stillFrameIndex} is outside the ${frameCount}-frame clip`, {
      stillFrameIndex: plan.stillFrameIndex,
      frameCount,
    });
  }
  const { width, height } = outputFrameSize(source.displayWidth, source.displayHeight);
  const moviePath = path.join(workDir, 'clip.mov');
  const stillPath = path.join(workDir, options.stillFormat === 'jpeg' ? 'still.jpg' : 'still.png');

  const movieOptions = movieEncodeArgs(codec, frameCount, source.hasAudio);
  const stillOptions =
    options.stillFormat === 'jpeg'
      ? ['-map', '[still]', '-c:v', 'mjpeg', '-q:v', '2', '-frames:v', '1', '-fps_mode', 'passthrough', '-map_metadata', '-1', '-f', 'image2', '-update', '1']
      : ['-map', '[still]', '-c:v', 'png', '-frames:v', '1', '-fps_mode', 'passthrough', '-map_metadata', '-1', '-f', 'image2', '-update', '1'];

  const command = createFfmpegCommand()
    .input(ffmpegInput(sourcePath))
    // input seeking: ffmpeg jumps to the key frame before `start` and decodes only the clip
    .inputOptions('-ss', plan.start.toFixed(6), '-t', plan.duration.toFixed(6))
    .complexFilter(buildRenderFilterGraph(width, height, plan.stillFrameIndex, options.stillFormat))
    .output(moviePath)
    .outputOptions(...movieOptions)
    .output(stillPath)
    .outputOptions(...stillOptions);

  await runFfmpegCommand(command, {
    signal,
    subject: sourcePath,
    expectedDuration: plan.duration,
    onProgress: (p) => onProgress?.({ stage: 'render', percent: p }),
  });

  for (const file of [moviePath, stillPath]) {
    const size = await fs.stat(file).then((s) => s.size, () => 0);
    if (size === 0) {
      throw new LivePhotoError('FFMPEG_FAILED', `ffmpeg produced no ${path.basename(file)} from ${sourcePath}`, {
        file: sourcePath,
        output: file,
      });
    }
  }
  return { moviePath, stillPath, width, height, frameCount, stillTime: plan.stillOffset };
}
