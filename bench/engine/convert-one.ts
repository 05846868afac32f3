/**
 * One engine conversion in a fresh node process, so its peak RSS is the engine's alone.
 * argv: <source> <outputDir> [start keyFrame]  → prints one JSON line { ms, cpuMs, warmMs, maxRssMB, start, stillTime, stages, ... }.
 * `cpuMs`: CPU (user + system) of the conversion: this process's and that of every process it ran (ffprobe, ffmpeg),
 * from the same start to the same end as `ms`.
 * `stages`: wall milliseconds per stage, from the first progress event of a stage to the first of the next one
 * (probe → plan → render → pair; the last stage runs to the end of the conversion).
 */
import { performance } from 'node:perf_hooks';
import { convertToLivePhoto } from '@vid2live/livephoto';
import { warmFfmpegCapabilities } from '@vid2live/media/ffmpeg';
import { reapedChildrenCpuMs } from './cpu';

/** CPU ms of this process and of the processes it ran and reaped. */
function cpuMsSoFar(): number {
  const own = process.cpuUsage();
  return reapedChildrenCpuMs() + (own.user + own.system) / 1000;
}

async function main(): Promise<void> {
  const [source, outputDir, start, keyFrame] = process.argv.slice(2);
  // What the worker and the CLI do once per process, before their first conversion: fluent-ffmpeg's format and
  // encoder checks (two ffmpeg starts). Timed on its own (`warmMs`), not as part of the conversion.
  const w0 = performance.now();
  await warmFfmpegCapabilities();
  const warmMs = performance.now() - w0;
  const options = start !== undefined ? { start: Number(start), keyFrame: Number(keyFrame), duration: 3 } : { duration: 3 };
  const firstSeen: Array<[string, number]> = [];
  const cpu0 = cpuMsSoFar();
  const t0 = performance.now();
  const r = await convertToLivePhoto(
    { source, outputDir, baseName: 'bench', options },
    {
      onProgress: (p) => {
        if (!firstSeen.some(([s]) => s === p.stage)) firstSeen.push([p.stage, performance.now() - t0]);
      },
    },
  );
  const ms = performance.now() - t0;
  const cpuMs = cpuMsSoFar() - cpu0;
  const stages: Record<string, number> = {};
  firstSeen.forEach(([stage, at], i) => {
    stages[stage] = (i + 1 < firstSeen.length ? firstSeen[i + 1][1] : ms) - at;
  });
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    JSON.stringify({ ms, cpuMs, warmMs, maxRssMB, start: r.clip.start, stillTime: r.stillTime, width: r.width, height: r.height, stages }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
