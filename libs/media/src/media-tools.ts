import { analyseFrames, readPacketIndex } from './analysis';
import { runFfmpeg, runFfmpegJob, warmFfmpegCapabilities } from './ffmpeg';
import { runFfprobe } from './ffprobe';
import { encodeHeic } from './heif-enc';

/**
 * The real tools behind the engine's MediaTools port (libs/livephoto/src/ports/media-tools.ts): ffprobe, the
 * analysis decodes, ffmpeg runs and heif-enc, each a process started here. Callers (the CLI, the worker, the
 * studio, the benchmarks) hand this to the engine; tests hand it recorded answers instead.
 */
export function createMediaTools() {
  return {
    probe: runFfprobe,
    analyseFrames,
    readPacketIndex,
    runFfmpeg,
    runFfmpegJob,
    encodeHeic,
    warmUp: () => void warmFfmpegCapabilities(),
  };
}

export type RealMediaTools = ReturnType<typeof createMediaTools>;
