import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { FfmpegJob, FfmpegRunOptions, MediaTools } from '../ports/media-tools';
import { analysisKey, FIXTURE_DIR, packetKey, type MediaRecording } from './media-recording';

/**
 * A MediaTools that starts no process: ffprobe, the frame analyses and the packet indexes answer from recordings of
 * real runs (media-recording.ts); ffmpeg and heif-enc runs are written down (`jobs`, `ffmpegRuns`, `heicRuns`) and
 * leave small real files behind (fixtures/rendered/, made once by ffmpeg in record-fixtures.ts) so the stages after
 * them (display-matrix reset, pairing, Motion Photo) run on genuine bytes.
 *
 * A request nobody recorded is an error naming it: the engine asked for something the real run did not.
 */
export interface ReplayMediaTools extends MediaTools {
  /** every ffmpeg job (render, previews), in order */
  jobs: FfmpegJob[];
  /** every plain-argument ffmpeg run (Motion Photo re-mux, PNG → JPEG), in order */
  ffmpegRuns: string[][];
  /** every heif-enc run: input, output, quality */
  heicRuns: Array<{ input: string; output: string; quality?: number }>;
  /** sources probed, analysed or indexed, with the tool's name */
  reads: Array<{ tool: 'probe' | 'analyseFrames' | 'readPacketIndex'; source: string }>;
}

export const RENDERED_DIR = path.join(FIXTURE_DIR, 'rendered');

/** The small real file standing for an output, by its extension. */
function renderedStandIn(output: string): string {
  const ext = path.extname(output).toLowerCase();
  const file = { '.mov': 'clip.mov', '.jpg': 'still.jpg', '.png': 'still.png', '.mp4': 'motion.mp4', '.heic': 'still.heic' }[ext];
  if (!file) throw new Error(`replayMediaTools: no stand-in for an output named ${output}`);
  return path.join(RENDERED_DIR, file);
}

/**
 * The render's gray analysis frames (the graph's `[foranalysis]select='between(n,A,B)',scale=W:H…`): the same textured
 * picture N times (no motion, equal sharpness), so a settled plan takes the middle frame. What the frames of real
 * footage decide is the real-tools specs' matter (convert.spec.ts, real-media.spec.ts).
 */
function writeAnalysisStandIn(job: FfmpegJob, out: FfmpegJob['outputs'][number]): void {
  const size = /\[foranalysis\]select='between\(n,(\d+),(\d+)\)',scale=(\d+):(\d+):flags=area,format=gray\[analysis\]/.exec(job.complexFilter ?? '');
  if (!size) throw new Error(`replayMediaTools: no analysis range and size in ${job.complexFilter}`);
  const frames = Number(size[2]) - Number(size[1]) + 1;
  const [width, height] = [Number(size[3]), Number(size[4])];
  const picture = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) picture[y * width + x] = ((x >> 3) + (y >> 3)) % 2 ? 200 : 40;
  fs.writeFileSync(out.path, Buffer.concat(Array.from({ length: frames }, () => picture)));
}

function finish(opts: FfmpegRunOptions | undefined) {
  opts?.onProgress?.(100);
  return { stderrTail: [] };
}

/** `recordings`: the sources the test may read, found by file name (`IMG_3853.MOV` answers for any `…/IMG_3853.MOV`). */
export function replayMediaTools(...recordings: MediaRecording[]): ReplayMediaTools {
  const byName = new Map(recordings.map((r) => [r.name, r]));
  const recordingOf = (source: string): MediaRecording => {
    const r = byName.get(path.basename(source));
    if (!r) throw new Error(`replayMediaTools: nothing recorded for ${source} (have: ${[...byName.keys()].join(', ')})`);
    return r;
  };
  const tools: ReplayMediaTools = {
    jobs: [],
    ffmpegRuns: [],
    heicRuns: [],
    reads: [],
    async probe(source, options) {
      if (options?.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      tools.reads.push({ tool: 'probe', source });
      return structuredClone(recordingOf(source).probe);
    },
    async analyseFrames(source, request) {
      tools.reads.push({ tool: 'analyseFrames', source });
      const r = recordingOf(source);
      const key = analysisKey(request);
      const hit = r.analyses.find((a) => isDeepStrictEqual(a.request, key));
      if (!hit) throw new Error(`replayMediaTools: no analysis of ${r.name} recorded for ${JSON.stringify(key)}`);
      request.onProgress?.(100);
      return structuredClone(hit.result);
    },
    async readPacketIndex(source, request) {
      tools.reads.push({ tool: 'readPacketIndex', source });
      const r = recordingOf(source);
      const key = packetKey(request);
      const hit = r.packets.find((p) => isDeepStrictEqual(p.request, key));
      if (!hit) throw new Error(`replayMediaTools: no packet index of ${r.name} recorded for ${JSON.stringify(key)}`);
      return structuredClone(hit.result);
    },
    async runFfmpeg(args, options) {
      tools.ffmpegRuns.push([...args]);
      const output = args[args.length - 1];
      fs.copyFileSync(renderedStandIn(output), output);
      return finish(options);
    },
    async runFfmpegJob(job, options) {
      tools.jobs.push(structuredClone(job));
      for (const out of job.outputs) {
        if (out.options.includes('[analysis]')) writeAnalysisStandIn(job, out);
        // the raw candidate stills: never read by the engine itself, only by the (replayed) ffmpeg that encodes one
        else if (out.path.endsWith('.yuv')) fs.writeFileSync(out.path, '');
        else fs.copyFileSync(renderedStandIn(out.path), out.path);
      }
      return finish(options);
    },
    async encodeHeic(input, output, options) {
      tools.heicRuns.push({ input, output, quality: options?.quality });
      fs.copyFileSync(renderedStandIn(output.replace(/\.[^.]+$/, '.heic')), output);
    },
  };
  return tools;
}
