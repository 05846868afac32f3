import * as path from 'node:path';
import type { ConversionJobData } from '@vid2live/jobs';
import { convertToLivePhoto } from '@vid2live/livephoto';
import { writeShareFiles, type ShareFiles } from '@vid2live/livephoto/share';
import { convertLivePhotoPair, type LivePhotoPairResult } from '@vid2live/livephoto/sources/live-photo-pair';
import { createMediaTools } from '@vid2live/media';
import { contentIdentifierFor, localName, outputBaseName } from './conversion-names';
import type { ProgressWriter } from './conversion-progress';

/** ffprobe/ffmpeg/heif-enc for the engine (its MediaTools port): the real processes of libs/media. */
const media = createMediaTools();

export type EngineResult = Awaited<ReturnType<typeof convertToLivePhoto>> & { share?: Partial<ShareFiles> };

/**
 * The engine on an opened source: the pair (and Motion Photo) written under `<tmp>/out`, named for the job; a
 * studio conversion (`share`) also gets the share files (zip, .pvt zip, browser previews) beside it.
 */
export async function runEngine(data: ConversionJobData, input: string, tmp: string, signal: AbortSignal, progress: ProgressWriter): Promise<EngineResult> {
  const outputDir = path.join(tmp, 'out');
  const baseName = localName(outputBaseName(data));
  const { pvt, ...options } = data.options;
  const result = await convertToLivePhoto(
    {
      source: input,
      outputDir,
      baseName,
      options,
      contentIdentifier: contentIdentifierFor(data.conversionId),
      workDir: tmp,
    },
    { signal, onProgress: (p) => progress.report(p), media },
  );
  if (!data.share && !pvt) return result;
  // the studio's share files, or only the .pvt zip the request asked for
  const share = await writeShareFiles(result, outputDir, baseName, { codec: data.options.codec, signal, media, ...(data.share ? {} : { only: 'pvt' as const }) });
  return { ...result, share };
}

/**
 * A Live Photo pair (a `livePhotoPairs` batch item, both halves downloaded) → one Google Motion Photo under
 * `<tmp>/out`, named for the job: the still's image data and the MOV's video are not re-encoded.
 */
export async function runPairEngine(
  data: ConversionJobData,
  halves: { still: string; movie: string; names: { still: string; movie: string } },
  tmp: string,
  signal: AbortSignal,
): Promise<LivePhotoPairResult> {
  return convertLivePhotoPair(
    { ...halves, outputDir: path.join(tmp, 'out'), baseName: localName(outputBaseName(data)), workDir: path.join(tmp, 'pair') },
    { signal, media },
  );
}
