import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFfmpeg } from '../../media/src/ffmpeg';
import { throwIfAborted } from './errors';
import { writeJpegExif } from './exif';
import { motionPhotoFileName, writeMotionPhoto } from './motion-photo';
import { pairLivePhoto } from './stages/pair';
import { planClip } from './stages/plan';
import { probeSource } from './stages/probe';
import { renderClip } from './stages/render';
import type { ConvertOptions, LivePhotoResult, StageContext } from './types';

export interface ConvertRequest {
  /** a local path, or an http(s) URL ffmpeg can read with range requests (e.g. a presigned S3 GET) */
  source: string;
  outputDir: string;
  /** output file name without extension: NAME.JPG|HEIC + NAME.MOV (+ NAME.MP.jpg) */
  baseName: string;
  options?: ConvertOptions;
  /** reuse a given identifier (a retried job keeps its id); a fresh upper-case UUID otherwise */
  contentIdentifier?: string;
  /** where intermediates go; a private temp folder by default */
  workDir?: string;
}

export interface OutputPaths {
  still: string;
  movie: string;
  motionPhoto?: string;
}

/** The files a conversion writes: the same basename side by side, upper-case extensions like an iPhone. */
export function outputPaths(outputDir: string, baseName: string, options: ConvertOptions = {}): OutputPaths {
  return {
    still: path.join(outputDir, `${baseName}.${options.still === 'heic' ? 'HEIC' : 'JPG'}`),
    movie: path.join(outputDir, `${baseName}.MOV`),
    ...(options.motionPhoto ? { motionPhoto: path.join(outputDir, motionPhotoFileName(baseName)) } : {}),
  };
}

/**
 * The whole engine: probe → plan (trim window + key frame) → render (one ffmpeg pass, two outputs) → pair
 * (metadata) → optional Google Motion Photo. Throws LivePhotoError with a code; intermediates are always removed.
 */
export async function convertToLivePhoto(req: ConvertRequest, ctx: StageContext = {}): Promise<LivePhotoResult> {
  const options = req.options ?? {};
  const stillFormat = options.still ?? 'jpeg';
  const out = outputPaths(req.outputDir, req.baseName, options);

  const source = await probeSource(req.source, ctx);
  const plan = await planClip(source, options, ctx);
  throwIfAborted(ctx.signal);

  await fs.mkdir(req.outputDir, { recursive: true });
  const workDir = await fs.mkdtemp(path.join(req.workDir ?? os.tmpdir(), 'vid2live-'));
  try {
    const rendered = await renderClip(req.source, source, plan, {
      workDir,
      codec: options.codec ?? 'h264',
      stillFormat: stillFormat === 'jpeg' ? 'jpeg' : 'png',
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
    throwIfAborted(ctx.signal);

    const paired = await pairLivePhoto(
      {
        renderedMovie: rendered.moviePath,
        renderedStill: rendered.stillPath,
        stillFormat,
        source,
        stillTime: rendered.stillTime,
        width: rendered.width,
        height: rendered.height,
        outStill: out.still,
        outMovie: out.movie,
        contentIdentifier: req.contentIdentifier,
      },
      ctx,
    );

    if (out.motionPhoto) {
      ctx.onProgress?.({ stage: 'motion-photo', percent: 0 });
      // Motion Photo readers (media3, ExifTool) want an MP4 (`isom`), not a QuickTime MOV: re-mux, no re-encode.
      const mp4 = path.join(workDir, 'motion.mp4');
      await runFfmpeg(['-i', rendered.moviePath, '-map', '0', '-c', 'copy', '-f', 'mp4', '-brand', 'isom', '-movflags', '+faststart', '-y', mp4], {
        signal: ctx.signal,
        subject: req.source,
      });
      let jpegStill: Buffer;
      if (stillFormat === 'jpeg') {
        jpegStill = await fs.readFile(out.still);
      } else {
        const jpg = path.join(workDir, 'motion-still.jpg');
        await runFfmpeg(['-i', rendered.stillPath, '-q:v', '2', '-frames:v', '1', '-y', jpg], { signal: ctx.signal, subject: req.source });
        jpegStill = writeJpegExif(await fs.readFile(jpg), paired.exifTiff);
      }
      await writeMotionPhoto({
        jpeg: jpegStill,
        mp4Path: mp4,
        outputPath: out.motionPhoto,
        presentationTimestampUs: Math.round(rendered.stillTime * 1e6),
      });
      ctx.onProgress?.({ stage: 'motion-photo', percent: 100 });
    }

    return {
      contentIdentifier: paired.contentIdentifier,
      stillPath: out.still,
      moviePath: out.movie,
      ...(out.motionPhoto ? { motionPhotoPath: out.motionPhoto } : {}),
      stillTime: rendered.stillTime,
      clip: { start: plan.start, duration: plan.duration },
      width: rendered.width,
      height: rendered.height,
      warnings: plan.warnings,
      reasons: plan.reasons,
    };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}
