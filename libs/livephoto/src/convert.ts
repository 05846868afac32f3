import { constants as fsConstants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRemoteSource } from '@vid2live/media/source-url';
import { isLivePhotoError, LivePhotoError, outputWriteError, throwIfAborted } from '@vid2live/errors';
import { writeJpegExif } from './exif';
import { mediaToolsOf } from './ports/default-media-tools';
import { motionPhotoFileName, writeMotionPhoto } from './motion-photo';
import { pairLivePhoto } from './stages/pair';
import { planClip, planClipOrDeferKeyFrame } from './stages/plan';
import { captureTimeWarnings } from './stages/capture-time';
import { probeSource } from './stages/probe';
import { renderClip, type RenderOptions } from './stages/render';
import { renderWithDeferredKeyFrame } from './stages/render-key-frame';
import { detectMotionPhotoSource } from './sources/motion-photo-layout';
import { convertMotionPhotoSource } from './sources/motion-photo-source';
import { HDR_REFERENCE_WHITE_NITS } from './stages/color';
import { wallpaperFraming } from './stages/wallpaper-crop';
import { WALLPAPER_PROFILE } from './types';
import type { ConvertRequest, ClipPlan, ConvertOptions, CropRect, LivePhotoResult, PlanWarning, SourceInfo as LivePhotoSource, StageContext } from './types';

export type { ConvertRequest };

export interface OutputPaths {
  still: string;
  movie: string;
  motionPhoto?: string;
}

/** The files a conversion writes: the same basename side by side, upper-case extensions like an iPhone. */
export function outputPaths(outputDir: string, baseName: string, options: ConvertOptions = {}): OutputPaths {
  return {
    still: path.join(outputDir, `${baseName}.${options.still === 'heic' || options.profile === 'wallpaper' ? 'HEIC' : 'JPG'}`),
    movie: path.join(outputDir, `${baseName}.MOV`),
    ...(options.motionPhoto ? { motionPhoto: path.join(outputDir, motionPhotoFileName(baseName)) } : {}),
  };
}

/** HDR_TONE_MAPPED: the output is SDR; say what the source was and where its white went. */
export function toneMappingWarnings(source: LivePhotoSource, toneMapped: boolean): PlanWarning[] {
  if (!toneMapped) return [];
  const c = source.color;
  const kind = c.dolbyVision
    ? `Dolby Vision profile ${c.dolbyVision.profile} (its ${c.hdr === 'hlg' ? 'HLG' : 'HDR10'} base layer)`
    : c.hdr === 'hlg'
      ? 'HLG'
      : 'HDR10 (PQ)';
  return [
    {
      code: 'HDR_TONE_MAPPED',
      message: `the source is ${kind} HDR; it was tone mapped to SDR BT.709 (reference white ${HDR_REFERENCE_WHITE_NITS} cd/m² → SDR white, highlights up to ${c.peakNits} cd/m² rolled off)`,
    },
  ];
}

/**
 * The whole engine: probe → plan (trim window + key frame) → render (one ffmpeg pass, two outputs) → pair
 * (metadata) → optional Google Motion Photo. Throws LivePhotoError with a code; intermediates are always removed.
 */
export async function convertToLivePhoto(req: ConvertRequest, ctx: StageContext = {}): Promise<LivePhotoResult> {
  try {
    return await runPipeline(req, ctx);
  } catch (e) {
    throw await explainFailure(e, req);
  }
}

/** Codes ffprobe/ffmpeg produce when the bytes they read are wrong, which a vanished source also produces. */
const READ_FAILURE_CODES: ReadonlySet<string> = new Set([
  'INPUT_NOT_MEDIA',
  'INPUT_TRUNCATED',
  'INPUT_NO_VIDEO',
  'INPUT_ZERO_DURATION',
  'INVALID_CONTAINER',
  'FFMPEG_FAILED',
]);

/**
 * What a failure really was: a local source deleted (or made unreadable) while it was being converted is
 * SOURCE_NOT_FOUND, not "not media" or an ffmpeg failure; a write that failed for lack of space or on a read-only
 * file system is OUTPUT_WRITE_FAILED with the reason (ENOSPC retryable, EROFS/EACCES final), not a metadata error.
 */
async function explainFailure(e: unknown, req: ConvertRequest): Promise<unknown> {
  if (isLivePhotoError(e) && e.code === 'CANCELED') return e;
  if (!isRemoteSource(req.source) && (!isLivePhotoError(e) || READ_FAILURE_CODES.has(e.code))) {
    const gone = await fs.access(req.source, fsConstants.R_OK).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err.code ?? 'error',
    );
    if (gone) {
      return new LivePhotoError('SOURCE_NOT_FOUND', `source ${req.source} disappeared or became unreadable while it was being converted (${gone})`, {
        file: req.source,
      }, { cause: e });
    }
  }
  return outputWriteError(e, `writing the Live Photo (${path.join(req.outputDir, req.baseName)}.*) failed`) ?? e;
}

/**
 * `mkdir -p` that says why it failed: Node's recursive mkdir answers ENOENT when a missing parent cannot be
 * created (a read-only file system, no permission); the first missing folder is then created alone to get the real
 * errno. Failures are OUTPUT_WRITE_FAILED naming the folder (EROFS/EACCES final, ENOSPC retryable).
 */
export async function makeOutputDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    let err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      let missing = path.resolve(dir);
      // Bounded by the depth of the path: walk up to the first ancestor that exists.
      for (let parent = path.dirname(missing); parent !== missing; missing = parent, parent = path.dirname(parent)) {
        if (await fs.stat(parent).then(() => true, () => false)) break;
      }
      await fs.mkdir(missing).catch((real: NodeJS.ErrnoException) => {
        if (real.code !== 'EEXIST') err = real;
      });
    }
    throw outputWriteError(err, `cannot create the output folder ${dir}`) ?? err;
  }
}

async function runPipeline(req: ConvertRequest, ctx: StageContext): Promise<LivePhotoResult> {
  const options = req.options ?? {};
  const wallpaper = options.profile === 'wallpaper';
  if (options.profile !== undefined && options.profile !== 'standard' && !wallpaper) {
    throw new LivePhotoError('INVALID_OPTIONS', `profile must be 'standard' or 'wallpaper', got ${String(options.profile)}`);
  }
  if (options.crop !== undefined && !wallpaper) throw new LivePhotoError('INVALID_OPTIONS', 'crop is only available with the wallpaper profile');
  const stillFormat = wallpaper ? WALLPAPER_PROFILE.still : options.still ?? 'jpeg';
  const out = outputPaths(req.outputDir, req.baseName, options);

  // A Motion Photo (a JPEG with its video inside) is a photo and a video at once: its own photo becomes the still.
  const motionPhoto = isRemoteSource(req.source) ? null : await detectMotionPhotoSource(req.source);
  if (motionPhoto) {
    if (wallpaper) {
      throw new LivePhotoError('INVALID_OPTIONS', `the wallpaper profile is not available for a Motion Photo source (${req.source}); convert its video`);
    }
    await makeOutputDir(req.outputDir);
    // The original photo is kept as it is (no re-encode), whatever still format was asked for: JPEG or HEIC.
    const stillOut = outputPaths(req.outputDir, req.baseName, { ...options, still: motionPhoto.kind === 'google-heic' ? 'heic' : 'jpeg', motionPhoto: false });
    return convertMotionPhotoSource(req, motionPhoto, stillOut, ctx);
  }

  const source = await probeSource(req.source, ctx);
  if (wallpaper && options.crop) wallpaperFraming(source, options.crop); // a bad crop fails before any decoding
  // An automatic JPEG still on a large source: the key frame is chosen from the render's own decode of the window.
  const planned = wallpaper
    ? await planClip(source, { ...options, duration: options.duration ?? WALLPAPER_PROFILE.duration }, ctx)
    : stillFormat === 'jpeg'
      ? await planClipOrDeferKeyFrame(source, options, ctx)
      : await planClip(source, options, ctx);
  const deferred = 'settle' in planned ? planned : undefined;
  let plan = 'settle' in planned ? planned.provisional : wallpaper ? wallpaperPlan(planned, options) : planned;
  let crop: CropRect | undefined;
  if (wallpaper) {
    // Frame the 9:16 crop around what moves in the chosen clip (one small decode of the clip), unless given.
    const columnMotion = options.crop ? undefined : await clipColumnMotion(req.source, source, plan, ctx);
    const framing = wallpaperFraming(source, options.crop, columnMotion);
    crop = framing.crop;
    plan = { ...plan, reasons: [...plan.reasons, framing.reason] };
  }
  throwIfAborted(ctx.signal);

  await makeOutputDir(req.outputDir);
  const workDir = await fs.mkdtemp(path.join(req.workDir ?? os.tmpdir(), 'vid2live-'));
  try {
    const renderOptions: RenderOptions = {
      workDir,
      codec: options.codec ?? (wallpaper ? WALLPAPER_PROFILE.codec : 'h264'),
      stillFormat: stillFormat === 'jpeg' ? 'jpeg' : 'png',
      ...(crop
        ? { fps: WALLPAPER_PROFILE.fps, frame: { width: WALLPAPER_PROFILE.width, height: WALLPAPER_PROFILE.height, crop }, audio: false }
        : {}),
      signal: ctx.signal,
      onProgress: ctx.onProgress,
      media: ctx.media,
    };
    let rendered;
    if (deferred) {
      const settled = await renderWithDeferredKeyFrame(req.source, source, deferred, renderOptions, () => planClip(source, options, ctx));
      plan = settled.plan;
      rendered = settled.rendered;
    } else {
      rendered = await renderClip(req.source, source, plan, renderOptions);
    }
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
        fingerprint: req.fingerprint,
        wallpaper,
      },
      ctx,
    );

    if (out.motionPhoto) {
      ctx.onProgress?.({ stage: 'motion-photo', percent: 0 });
      // Motion Photo readers (media3, ExifTool) want an MP4 (`isom`), not a QuickTime MOV: re-mux, no re-encode.
      const mp4 = path.join(workDir, 'motion.mp4');
      await mediaToolsOf(ctx).runFfmpeg(['-i', rendered.moviePath, '-map', '0', '-c', 'copy', '-f', 'mp4', '-brand', 'isom', '-movflags', '+faststart', '-y', mp4], {
        signal: ctx.signal,
        subject: req.source,
      });
      // The Motion Photo gets the pair's Exif minus the Apple MakerNote: with it, it would carry the pair's
      // ContentIdentifier and a gallery would see two images claiming one MOV.
      let jpegStill: Buffer;
      if (stillFormat === 'jpeg') {
        jpegStill = writeJpegExif(await fs.readFile(rendered.stillPath), paired.motionPhotoExifTiff);
      } else {
        const jpg = path.join(workDir, 'motion-still.jpg');
        await mediaToolsOf(ctx).runFfmpeg(['-i', rendered.stillPath, '-q:v', '2', '-frames:v', '1', '-y', jpg], { signal: ctx.signal, subject: req.source });
        jpegStill = writeJpegExif(await fs.readFile(jpg), paired.motionPhotoExifTiff);
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
      // Capture-time warnings come from the source's metadata, not from the clip plan.
      warnings: [...plan.warnings, ...toneMappingWarnings(source, rendered.toneMapped), ...captureTimeWarnings(source)],
      reasons: plan.reasons,
      ...(wallpaper ? { profile: 'wallpaper' as const, crop } : {}),
    };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** Said in every wallpaper result: what the profile is based on, and that no device confirmed it. */
export const WALLPAPER_DISCLAIMER =
  'wallpaper profile: 1080×1920, 60 fps, live-photo-info track, HEIC still — copies the structure of generated files ' +
  'reported to work as iOS 17+ lock-screen Live Wallpapers (docs/wallpaper.md); not verified on a device';

/**
 * The wallpaper's 9:16 framing, in upright source pixels: the user's rectangle (checked: inside the picture, 9:16
 * within 1 %), else the largest 9:16 rectangle centred on the picture.
 */
/** Where things move across the picture during the clip (analysis columns); undefined when it cannot be measured. */
async function clipColumnMotion(sourcePath: string, source: LivePhotoSource, plan: ClipPlan, ctx: StageContext): Promise<number[] | undefined> {
  if (source.displayWidth <= source.displayHeight * (WALLPAPER_PROFILE.width / WALLPAPER_PROFILE.height) + 1) return undefined; // nothing to place
  const analysis = await mediaToolsOf(ctx).analyseFrames(sourcePath, {
    start: plan.start,
    duration: plan.duration,
    displayWidth: source.displayWidth,
    displayHeight: source.displayHeight,
    streamIndex: source.videoStreamIndex,
    columns: true,
    signal: ctx.signal,
  });
  return analysis.columnMotion;
}

/** The wallpaper framing without looking at the motion (the user's crop, or centred): see stages/wallpaper-crop.ts. */
export function wallpaperCrop(source: Pick<LivePhotoSource, 'displayWidth' | 'displayHeight'>, crop?: CropRect): CropRect {
  return wallpaperFraming(source, crop).crop;
}

/**
 * The wallpaper's key frame: 0.5 s into the clip (the working recipes' still-image-time; TouSC issue #2 reports
 * 0 s failing where 0.5 s works), unless the user chose a key-frame time.
 */
function wallpaperPlan(plan: ClipPlan, options: ConvertOptions): ClipPlan {
  if (typeof options.keyFrame === 'number') return { ...plan, reasons: [...plan.reasons, WALLPAPER_DISCLAIMER] };
  const stillOffset = Math.min(WALLPAPER_PROFILE.stillOffset, Math.floor((plan.duration * WALLPAPER_PROFILE.fps) / 2) / WALLPAPER_PROFILE.fps);
  return {
    ...plan,
    stillOffset,
    stillFrameIndex: Math.round(stillOffset * 30),
    reasons: [...plan.reasons, `key frame ${stillOffset.toFixed(2)} s into the clip (the wallpaper recipes' still time)`, WALLPAPER_DISCLAIMER],
  };
}
