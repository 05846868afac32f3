import * as path from 'node:path';
import type { ConversionJobData } from '@vid2live/jobs';
import { convertToLivePhoto } from '@vid2live/livephoto';
import { createMediaTools } from '@vid2live/media';
import { contentIdentifierFor, localName, outputBaseName } from './conversion-names';
import type { ProgressWriter } from './conversion-progress';

/** ffprobe/ffmpeg/heif-enc for the engine (its MediaTools port): the real processes of libs/media. */
const media = createMediaTools();

export type EngineResult = Awaited<ReturnType<typeof convertToLivePhoto>>;

/** The engine on an opened source: the pair (and Motion Photo) written under `<tmp>/out`, named for the job. */
export function runEngine(data: ConversionJobData, input: string, tmp: string, signal: AbortSignal, progress: ProgressWriter): Promise<EngineResult> {
  return convertToLivePhoto(
    {
      source: input,
      outputDir: path.join(tmp, 'out'),
      baseName: localName(outputBaseName(data)),
      options: data.options,
      contentIdentifier: contentIdentifierFor(data.conversionId),
      workDir: tmp,
    },
    { signal, onProgress: (p) => progress.report(p), media },
  );
}
