/**
 * Pipeline benchmark: prints figures, asserts nothing (method and targets in BENCHMARKS.md, "Pipeline benchmark").
 *
 * In one run:
 *  1. 20 generated clips (1280×720, 6 s, H.264 + AAC), cached in bench/out/pipeline-inputs.
 *  2. embedded: `node bin/vid2live.js convert <dir> -o <out> --json --concurrency 2`, wall time.
 *  3. pipeline: s3rver (in this process), the built api, 2 worker processes with WORKER_CONCURRENCY=1 (or each
 *     layout of --layouts, WORKERSxCONCURRENCY), Redis on 127.0.0.1:6379 under a unique QUEUE_PREFIX. The clips
 *     are uploaded first (not timed); timed from
 *     `POST /v1/batches` (prefix source) until `GET /v1/batches/:id` shows 20 ended. Checks: 20 completed,
 *     20 .JPG + 20 .MOV objects in the output bucket (nothing is downloaded). The apps talk to s3rver directly here.
 *  4. bytes read from S3, counted by a reverse proxy in front of s3rver that the apps then use as S3_ENDPOINT (it
 *     sees the presigned-URL GETs ffmpeg makes, which the SDK's own counters do not): one 6 s clip, and a 3 s clip
 *     (start 300 s, and again with the window chosen automatically) of a 10-minute 1080p source.
 * Embedded and pipeline runs alternate over 2 rounds (E P, then P E; with several layouts E L1 L2, then L2 L1 E);
 * medians are reported, with the CPU time of the benchmark's own process tree and of everything else on the machine
 * meanwhile (it may be shared).
 * A second 10-minute source of ~200 MB (light noise, 2.5 Mb/s) is measured beside the 1176 MB one; each GET is
 * attributed to the ffmpeg/ffprobe open that was running (opens.ts).
 * Usage: npm run build && npm run bench:pipeline [-- --rounds N --no-auto --bytes-only --long-sources 200mb,1200mb
 *        --layouts 1x1,2x1]
 *   --bytes-only: no embedded/pipeline timing rounds, only the proxied byte measurements
 *   --long-sources: which 10-minute sources to measure (default both)
 *   --layouts: pipeline layouts to time, each WORKERSxCONCURRENCY (default 2x1); every round runs each of them once
 * (REDIS_URL overrides redis://127.0.0.1:6379)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BYTES_ONLY,
  CLIPS_DIR,
  cleanup,
  IN_BUCKET,
  LAYOUTS,
  type Layout,
  LONG_DURATION,
  LONG_200MB,
  LONG_OWN,
  LONG_SHARED,
  LONG_SOURCES,
  type LongSourceId,
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
import { ensureClips, ensureLongSource, ensureLongSource200mb, INPUT_COUNT } from './media';
import { convertViaProxy, measurePipeline, uploadClips, type ProxiedResult } from './pipeline';
import { formatReport, type LongSourceResult, type Run } from './report';
import { startApps, startStack } from './stack';

/** The order of the phases; the pieces are in context/stack/embedded/pipeline/report.ts. */
async function main(): Promise<void> {
  const cores = os.cpus().length;
  note(
    `node ${process.version}, ${cores} cores, redis ${REDIS_URL}, ${BYTES_ONLY ? 'bytes only (no timing rounds)' : `${ROUNDS} round(s), pipeline layouts ${LAYOUTS.map((l) => l.label).join(', ')} (workers × WORKER_CONCURRENCY)`}, long sources ${LONG_SOURCES.join(', ')}`,
  );
  const clips = await ensureClips(CLIPS_DIR, note);
  const sources: Array<{ id: LongSourceId; file: string; recipe: string }> = [];
  for (const id of LONG_SOURCES) {
    if (id === '1200mb') {
      sources.push({ id, file: await ensureLongSource(LONG_SHARED, LONG_OWN, note), recipe: '1920x1080 30 fps testsrc2, H.264 ultrafast g=60 + AAC' });
    } else {
      sources.push({ id, file: await ensureLongSource200mb(LONG_200MB, note), recipe: '1920x1080 30 fps testsrc2 + light noise, H.264 ultrafast g=60 2.5 Mb/s + AAC 128k' });
    }
  }
  const inputBytes = clips.reduce((s, f) => s + fs.statSync(f).size, 0);

  note('starting s3rver, the counting proxy and a Redis connection …');
  const stack = await startStack();
  // the short clip is read through the proxy in every mode; the batch rounds need all 20
  await uploadClips(stack, BYTES_ONLY ? clips.slice(0, 1) : clips);

  // Rounds alternate the order (E L1 L2 …, then … L2 L1 E) so a load that drifts during the run hits all variants alike.
  const runs: Run[] = [];
  const variants: Array<Layout | 'embedded'> = ['embedded', ...LAYOUTS];
  for (let round = 1; round <= (BYTES_ONLY ? 0 : ROUNDS); round++) {
    const order = round % 2 ? variants : [...variants].reverse();
    for (const v of order) {
      if (v === 'embedded') {
        note(`embedded #${round}: ${INPUT_COUNT} clips, --concurrency 2 …`);
        const r = await measureEmbedded();
        note(`embedded #${round}: ${sec(r.ms)} s, ${r.summary.converted} converted, ${r.summary.failed} failed`);
        runs.push({ kind: 'embedded', round, r });
      } else {
        note(`pipeline ${v.label} #${round}: ${v.workers} worker(s) × WORKER_CONCURRENCY=${v.concurrency} …`);
        const r = await measurePipeline(stack, round, v);
        note(`pipeline ${v.label} #${round}: ${sec(r.ms)} s, ${r.batch.counts.completed} completed`);
        runs.push({ kind: 'pipeline', round, layout: v, r });
      }
    }
  }

  const longKeys: string[] = [];
  for (const src of sources) {
    const size = fs.statSync(src.file).size;
    note(`uploading the 10-minute source ${path.basename(src.file)} (${mb(size)} MB, not timed) …`);
    const key = `long/${path.basename(src.file)}`;
    await stack.storage.putObjectFromFile(IN_BUCKET, key, src.file, { contentType: 'video/mp4' });
    longKeys.push(key);
  }
  const apps = await startApps(stack, 'proxied', true);
  note(`short clip through the proxy: ${path.basename(clips[0])} …`);
  const short = await convertViaProxy(stack, apps, `clips/${path.basename(clips[0])}`, 'short clip, auto', {}, 'short/');
  const longSources: LongSourceResult[] = [];
  for (const [i, src] of sources.entries()) {
    const size = fs.statSync(src.file).size;
    const key = longKeys[i];
    const results: ProxiedResult[] = [];
    note(`${src.id} source (${mb(size)} MB): one conversion, start ${LONG_START} s, duration ${LONG_DURATION} s …`);
    results.push(await convertViaProxy(stack, apps, key, `start ${LONG_START} s, ${LONG_DURATION} s`, { start: LONG_START, duration: LONG_DURATION }, `long-${src.id}-fixed/`));
    if (WITH_AUTO) {
      note(`${src.id} source: one conversion, window chosen by the engine (auto) …`);
      results.push(await convertViaProxy(stack, apps, key, `auto window, ${LONG_DURATION} s`, { duration: LONG_DURATION, keyFrame: 'auto' }, `long-${src.id}-auto/`));
    }
    longSources.push({ id: src.id, file: src.file, size, recipe: src.recipe, results });
  }
  await apps.stop();
  process.stdout.write(formatReport({ cores, layouts: LAYOUTS, runs, clips, inputBytes, short, longSources }));
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
