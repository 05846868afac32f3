/**
 * Queue benchmark: is the queue ever the bottleneck? Prints figures, asserts nothing (BENCHMARKS.md, "Queue
 * benchmark").
 *
 * In one run:
 *  1. baseline: the embedded engine converts the same tiny clip (1 s, 160×120, H.264, silent) K times in this
 *     process, one after another: the engine's own cost per job, no queue, no S3.
 *  2. pipeline: s3rver (in this process), the built api, 2 worker processes (WORKER_CONCURRENCY = 1 by default:
 *     one slot per core), Redis under a unique QUEUE_PREFIX. N conversions of that clip (each into its own output
 *     prefix) are POSTed by 16 concurrent clients; timed from the first POST until every record is terminal.
 *     From the records in Redis: queue latency (startedAt − createdAt), service time (finishedAt − startedAt),
 *     slot utilisation (Σ service ÷ (slots × wall)) and the gap a slot waits between two jobs.
 * Usage: npm run build && npm run bench:queue [-- --jobs N --concurrency C --baseline K]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { convertToLivePhoto } from '@vid2live/livephoto/convert';
import { S3Storage } from '@vid2live/storage';
import { startS3rver } from '@vid2live/storage/testing/s3rver';
import { redisKeys } from '@vid2live/jobs';
import { ROOT, startApi, startWorker, waitFor, type AppProcess } from '../pipeline/processes';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Math.max(1, Number(args[args.indexOf(name) + 1]) || dflt) : dflt);
const JOBS = opt('--jobs', 1000);
const CONCURRENCY = opt('--concurrency', 1);
const BASELINE = opt('--baseline', 20);
const WORKERS = 2;
const CLIENTS = 16;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const OUT = path.join(ROOT, 'bench', 'out');
const CLIP = path.join(OUT, 'queue-tiny-1s-160x120.mp4');
const LOG_DIR = path.join(OUT, 'queue-logs');

const T0 = performance.now();
const note = (s: string) => process.stderr.write(`[bench:queue +${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const ms = (v: number) => `${v.toFixed(0)} ms`;

function makeClip(): void {
  if (fs.existsSync(CLIP)) return;
  fs.mkdirSync(OUT, { recursive: true });
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', CLIP]);
}

async function baseline(): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-queue-'));
  const times: number[] = [];
  try {
    // one warm-up (module loading, ffmpeg's first start), then K timed conversions
    for (let i = 0; i <= BASELINE; i++) {
      const t = performance.now();
      await convertToLivePhoto({ source: CLIP, outputDir: path.join(dir, String(i)), baseName: 'clip' });
      if (i > 0) times.push(performance.now() - t);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

interface Rec {
  status: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string | null;
}

async function main(): Promise<void> {
  makeClip();
  note(`baseline: ${BASELINE} embedded conversions of ${path.basename(CLIP)}`);
  const base = await baseline();
  const baseMedian = pct(base, 50);
  note(`baseline median ${ms(baseMedian)}`);

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const prefix = `bench-queue-${randomBytes(4).toString('hex')}`;
  const s3 = await startS3rver(['q-in', 'q-out']);
  const storage = new S3Storage(s3.config);
  const processes: AppProcess[] = [];
  fs.mkdirSync(LOG_DIR, { recursive: true });
  try {
    await storage.putObjectFromFile('q-in', 'tiny/clip.mp4', CLIP);
    const apiKey = `bench_${randomBytes(18).toString('base64url')}`;
    const env: Record<string, string> = {
      REDIS_URL,
      ...s3.env,
      API_KEYS: `${apiKey}:bench`,
      TENANT_STORAGE: JSON.stringify({ bench: { read: [{ bucket: 'q-in', prefix: '' }], write: [{ bucket: 'q-out', prefix: '' }] } }),
      WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
      QUEUE_PREFIX: prefix,
      WORKER_CONCURRENCY: String(CONCURRENCY),
      LOG_LEVEL: 'info', // startWorker waits for the worker's "processing … conversions" line
    };
    const api = await startApi(env, path.join(LOG_DIR, `${prefix}-api.log`));
    processes.push(api.app);
    processes.push(...(await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(env, path.join(LOG_DIR, `${prefix}-worker-${i + 1}.log`))))));

    note(`submitting ${JOBS} conversions with ${CLIENTS} clients; ${WORKERS} workers × ${CONCURRENCY} slot(s)`);
    const ids: string[] = new Array(JOBS);
    const postLatency: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = next++; i < JOBS; i = next++) {
          const t = performance.now();
          const res = await fetch(`${api.url}/v1/conversions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ source: { bucket: 'q-in', key: 'tiny/clip.mp4' }, output: { bucket: 'q-out', prefix: `out/${i}/` } }),
          });
          const body = (await res.json()) as { id: string };
          if (res.status !== 202 && res.status !== 201) throw new Error(`POST → ${res.status}: ${JSON.stringify(body)}`);
          postLatency.push(performance.now() - t);
          ids[i] = body.id;
        }
      }),
    );
    const submitMs = performance.now() - started;
    note(`submitted in ${(submitMs / 1000).toFixed(1)} s; waiting for the workers`);

    let records: Rec[] = [];
    await waitFor(
      `${JOBS} terminal records`,
      async () => {
        const raw = await redis.mget(...ids.map((id) => redisKeys.conversion(prefix, id)));
        records = raw.map((r) => JSON.parse(r ?? '{}') as Rec);
        return records.every((r) => r.status === 'completed' || r.status === 'failed' || r.status === 'canceled');
      },
      Math.max(600_000, JOBS * 2_000),
      1_000,
    );
    const wallMs = performance.now() - started;
    const t = (s?: string | null) => (s ? Date.parse(s) : Number.NaN);
    const queueLatency = records.map((r) => t(r.startedAt) - t(r.createdAt)).sort((a, b) => a - b);
    const service = records.map((r) => t(r.finishedAt) - t(r.startedAt)).sort((a, b) => a - b);
    const completed = records.filter((r) => r.status === 'completed').length;
    const slots = WORKERS * CONCURRENCY;
    const busy = service.reduce((a, b) => a + b, 0);
    const first = Math.min(...records.map((r) => t(r.createdAt)));
    const last = Math.max(...records.map((r) => t(r.finishedAt)));
    const span = last - first;
    const post = postLatency.sort((a, b) => a - b);
    const cores = os.cpus().length;

    const lines = [
      `queue benchmark: ${JOBS} jobs of a 1 s 160×120 clip, ${WORKERS} workers × ${CONCURRENCY} slot(s), ${cores} cores, Node ${process.version}`,
      `baseline (embedded, in-process, sequential): median ${ms(baseMedian)}, p90 ${ms(pct(base, 90))} per conversion`,
      `submit: ${JOBS} POSTs in ${(submitMs / 1000).toFixed(2)} s = ${(JOBS / (submitMs / 1000)).toFixed(0)} jobs/s accepted; POST latency p50 ${ms(pct(post, 50))}, p99 ${ms(pct(post, 99))}`,
      `completed: ${completed}/${JOBS} in ${(span / 1000).toFixed(1)} s (first createdAt → last finishedAt) = ${(JOBS / (span / 1000)).toFixed(2)} jobs/s, ${((JOBS / (span / 60_000)) / cores).toFixed(1)} jobs/min/core`,
      `queue latency (startedAt − createdAt): p50 ${ms(pct(queueLatency, 50))}, p99 ${ms(pct(queueLatency, 99))} (a backlog of ${JOBS} submitted at once: most of it is waiting for a free slot)`,
      `service time per job (finishedAt − startedAt): p50 ${ms(pct(service, 50))}, p99 ${ms(pct(service, 99))} = ${(pct(service, 50) / baseMedian).toFixed(2)}× the embedded baseline (S3 download + upload + records + webhook bookkeeping)`,
      `slot utilisation Σservice ÷ (slots × span): ${(busy / (slots * span)).toFixed(3)}; per job the queue costs ${ms((slots * span - busy) / JOBS)} of slot time between jobs`,
      `wall from first POST to last record seen: ${(wallMs / 1000).toFixed(1)} s`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [c, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = c;
      keys.push(...found);
    } while (cursor !== '0');
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    await storage.close();
    await s3.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:queue failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
