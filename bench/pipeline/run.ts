/**
 * Pipeline benchmark: prints figures, asserts nothing (method and targets in BENCHMARKS.md, "Pipeline benchmark").
 *
 * In one run:
 *  1. 20 generated clips (1280×720, 6 s, H.264 + AAC), cached in bench/out/pipeline-inputs.
 *  2. embedded: `node bin/vid2live.js convert <dir> -o <out> --json --concurrency 2`, wall time.
 *  3. pipeline: s3rver (in this process), the built api, 2 worker processes with WORKER_CONCURRENCY=1, Redis on
 *     127.0.0.1:6379 under a unique QUEUE_PREFIX. The clips are uploaded first (not timed); timed from
 *     `POST /v1/batches` (prefix source) until `GET /v1/batches/:id` shows 20 ended. Checks: 20 completed,
 *     20 .JPG + 20 .MOV objects in the output bucket (nothing is downloaded). The apps talk to s3rver directly here.
 *  4. bytes read from S3, counted by a reverse proxy in front of s3rver that the apps then use as S3_ENDPOINT (it
 *     sees the presigned-URL GETs ffmpeg makes, which the SDK's own counters do not): one 6 s clip, and a 3 s clip
 *     (start 300 s, and again with the window chosen automatically) of a 10-minute 1080p source.
 * Embedded and pipeline runs alternate over 2 rounds (E P, then P E); medians are reported, with the CPU time of
 * the benchmark's own process tree and of everything else on the machine meanwhile (it may be shared).
 * Usage: npm run build && npm run bench:pipeline [-- --rounds N --no-auto]
 * (REDIS_URL overrides redis://127.0.0.1:6379)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CLIPS_DIR,
  cleanup,
  IN_BUCKET,
  LONG_DURATION,
  LONG_OWN,
  LONG_SHARED,
  LONG_START,
  mb,
  note,
  REDIS_URL,
  ROUNDS,
  sec,
  wasInterrupted,
  WITH_AUTO,
} from './context';
import { measureEmbedded } from './embedded';
import { ensureClips, ensureLongSource, INPUT_COUNT } from './media';
import { convertViaProxy, measurePipeline, uploadClips, type ProxiedResult } from './pipeline';
import { formatReport, type Run } from './report';
import { startApps, startStack } from './stack';

/** The order of the phases; the pieces are in context/stack/embedded/pipeline/report.ts. */
async function main(): Promise<void> {
  const cores = os.cpus().length;
  note(`node ${process.version}, ${cores} cores, redis ${REDIS_URL}, ${ROUNDS} round(s)`);
  const clips = await ensureClips(CLIPS_DIR, note);
  const longSource = await ensureLongSource(LONG_SHARED, LONG_OWN, note);
  const inputBytes = clips.reduce((s, f) => s + fs.statSync(f).size, 0);
  const longSize = fs.statSync(longSource).size;

  note('starting s3rver, the counting proxy and a Redis connection …');
  const stack = await startStack();
  await uploadClips(stack, clips);

  // Rounds alternate the order (E P, P E, …) so a load that drifts during the run hits both variants alike.
  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Array<'embedded' | 'pipeline'> = round % 2 ? ['embedded', 'pipeline'] : ['pipeline', 'embedded'];
    for (const kind of order) {
      if (kind === 'embedded') {
        note(`embedded #${round}: ${INPUT_COUNT} clips, --concurrency 2 …`);
        const r = await measureEmbedded();
        note(`embedded #${round}: ${sec(r.ms)} s, ${r.summary.converted} converted, ${r.summary.failed} failed`);
        runs.push({ kind, round, r });
      } else {
        const r = await measurePipeline(stack, round);
        note(`pipeline #${round}: ${sec(r.ms)} s, ${r.batch.counts.completed} completed`);
        runs.push({ kind, round, r });
      }
    }
  }

  note(`uploading the 10-minute source (${mb(longSize)} MB, not timed) …`);
  const longKey = `long/${path.basename(longSource)}`;
  await stack.storage.putObjectFromFile(IN_BUCKET, longKey, longSource, { contentType: 'video/mp4' });
  const apps = await startApps(stack, 'proxied', true);
  note(`short clip through the proxy: ${path.basename(clips[0])} …`);
  const short = await convertViaProxy(stack, apps, `clips/${path.basename(clips[0])}`, 'short clip, auto', {}, 'short/');
  const longs: ProxiedResult[] = [];
  note(`long source: one conversion, start ${LONG_START} s, duration ${LONG_DURATION} s …`);
  longs.push(await convertViaProxy(stack, apps, longKey, `start ${LONG_START} s, ${LONG_DURATION} s`, { start: LONG_START, duration: LONG_DURATION }, 'long-fixed/'));
  if (WITH_AUTO) {
    note('long source: one conversion, window chosen by the engine (auto) …');
    longs.push(await convertViaProxy(stack, apps, longKey, `auto window, ${LONG_DURATION} s`, { duration: LONG_DURATION, keyFrame: 'auto' }, 'long-auto/'));
  }
  await apps.stop();
  process.stdout.write(formatReport({ cores, runs, clips, inputBytes, longSource, longSize, short, longs }));
}

main()
  .catch((e: unknown) => {
    if (wasInterrupted()) return; // the run was stopped on purpose; whatever failed after that is a consequence
    process.stderr.write(`[bench:pipeline] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    // lingering keep-alive sockets or handles must not hold the process open
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  });
