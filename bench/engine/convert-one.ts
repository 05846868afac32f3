/**
 * One engine conversion in a fresh node process, so its peak RSS is the engine's alone.
 * argv: <source> <outputDir> [start keyFrame]  → prints one JSON line { ms, maxRssMB, start, stillTime, ... }.
 */
import { performance } from 'node:perf_hooks';
import { convertToLivePhoto } from '../../libs/livephoto/src';

async function main(): Promise<void> {
  const [source, outputDir, start, keyFrame] = process.argv.slice(2);
  const options = start !== undefined ? { start: Number(start), keyFrame: Number(keyFrame), duration: 3 } : { duration: 3 };
  const t0 = performance.now();
  const r = await convertToLivePhoto({ source, outputDir, baseName: 'bench', options }, {});
  const ms = performance.now() - t0;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    JSON.stringify({ ms, maxRssMB, start: r.clip.start, stillTime: r.stillTime, width: r.width, height: r.height }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
