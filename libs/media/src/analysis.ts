import { execFile } from 'node:child_process';
import { LivePhotoError } from '@vid2live/errors';
import { resolveMediaBinaries } from './binaries';
import { sourceInputOptions } from './demuxers';
import { ffmpegInput, runFfmpeg } from './ffmpeg';
import {
  analysisFrameSize,
  ANALYSIS_FPS,
  frameMeter,
  parsePacketLines,
  type FrameAnalysis,
  type FrameAnalysisRequest,
  type FrameMetrics,
  type PacketIndexRequest,
  type PacketInfo,
  addColumnDifferences,
} from './measures';

/**
 * Picture analysis for the plan stage: one cheap decode of a bounded span into small gray frames, from which we
 * measure motion (mean absolute difference between consecutive frames), scene cuts (difference spikes) and
 * sharpness (variance of the Laplacian). What to make of those numbers (cuts, the calmest window, the sharpest
 * frame) is the plan stage's policy: libs/livephoto/src/stages/plan/policy.ts. The measuring itself (pure arithmetic
 * on frames, the shapes of requests and results) is in measures.ts; this file runs the decoders.
 */

export * from './measures';

/**
 * One decode pass of [start, start+duration) at ANALYSIS_FPS into gray frames piped to node, measuring each as it
 * arrives (only the previous half-size frame is kept, so memory is flat however long the span).
 * Cheap decode: input seeking (`-ss` before `-i`, decodes only from the preceding key frame), no loop filter,
 * no audio/subtitles, area downscale.
 */
export async function analyseFrames(sourcePath: string, req: FrameAnalysisRequest): Promise<FrameAnalysis> {
  const { width, height } = analysisFrameSize(req.displayWidth, req.displayHeight);
  const frameBytes = width * height;
  const frames: FrameMetrics[] = [];
  const pending = Buffer.alloc(frameBytes);
  let filled = 0;
  const measure = frameMeter(width, height);
  const columnSums = req.columns ? new Float64Array(width) : undefined;
  const previousFull = req.columns ? Buffer.alloc(frameBytes) : undefined;
  let pairs = 0;

  const onFrame = (data: Uint8Array) => {
    if (columnSums && previousFull) {
      if (frames.length > 0) {
        addColumnDifferences(data, previousFull, width, columnSums);
        pairs++;
      }
      previousFull.set(data);
    }
    frames.push(measure(data));
  };

  const args = [
    '-v', 'error',
    '-skip_loop_filter', 'all',
    '-ss', req.start.toFixed(3),
    '-t', req.duration.toFixed(3),
    ...sourceInputOptions(sourcePath),
    '-i', ffmpegInput(sourcePath),
    '-map', req.streamIndex === undefined ? '0:v:0' : `0:${req.streamIndex}`, '-an', '-sn', '-dn',
    '-vf', `fps=${ANALYSIS_FPS},scale=${width}:${height}:flags=area,format=gray`,
    '-f', 'rawvideo', 'pipe:1',
  ];
  await runFfmpeg(args, {
    signal: req.signal,
    subject: sourcePath,
    expectedDuration: req.duration,
    onProgress: req.onProgress,
    onStdout: (chunk) => {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(frameBytes - filled, chunk.length - offset);
        chunk.copy(pending, filled, offset, offset + take);
        filled += take;
        offset += take;
        if (filled === frameBytes) {
          onFrame(pending); // measured synchronously, so the buffer can be reused for the next frame
          filled = 0;
        }
      }
    },
  });
  return {
    width,
    height,
    fps: ANALYSIS_FPS,
    frames,
    ...(columnSums ? { columnMotion: Array.from(columnSums, (s) => (pairs ? s / (pairs * height) : 0)) } : {}),
  };
}

/**
 * The video packets of [start, start+duration), from the key frame at or before `start` on, as the demuxer
 * reports them (`ffprobe -show_entries packet=…`): sizes, key flags and times, no decoding. For containers
 * whose index we do not read ourselves (see the plan stage's MP4 sample tables) and for remote sources.
 */
export function readPacketIndex(sourcePath: string, req: PacketIndexRequest): Promise<PacketInfo[]> {
  const { ffprobe } = resolveMediaBinaries();
  if (req.signal?.aborted) return Promise.reject(new LivePhotoError('CANCELED'));
  const args = [
    '-v', 'error',
    ...sourceInputOptions(sourcePath),
    '-select_streams', req.streamIndex === undefined ? 'v:0' : String(req.streamIndex),
    // absolute end: `%+duration` would count from the key frame the read starts at, not from `start`
    '-read_intervals', `${req.start.toFixed(3)}%${(req.start + req.duration).toFixed(3)}`,
    '-show_entries', 'packet=pts_time,dts_time,size,flags',
    '-of', 'compact=p=0',
    ffmpegInput(sourcePath),
  ];
  return new Promise((resolve, reject) => {
    execFile(
      ffprobe.path,
      args,
      { timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, signal: req.signal, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if ((err as { name?: string } | null)?.name === 'AbortError') {
          return reject(new LivePhotoError('CANCELED', `canceled while indexing ${sourcePath}`));
        }
        if (err) {
          return reject(
            new LivePhotoError('FFMPEG_FAILED', `ffprobe could not list the packets of ${sourcePath}: ${err.message}`, {
              file: sourcePath,
              stderr: stderr.split('\n').slice(-10),
            }),
          );
        }
        resolve(parsePacketLines(stdout));
      },
    );
  });
}
