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
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { S3Storage } from '@vid2live/storage';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import { machineBusyMs, procTimes, treeMs } from './cpu';
import { diffCounters, startCountingProxy, type CountingProxy, type ProxyCounters, type RequestLogEntry } from './counting-proxy';
import { ensureClips, ensureLongSource, INPUT_COUNT } from './media';
import { ROOT, startApi, startWorker, waitFor, type AppProcess } from './processes';

const args = process.argv.slice(2);
/** also measure a second long-source conversion with the window chosen automatically (no `start`) */
const WITH_AUTO = !args.includes('--no-auto');
/** embedded and pipeline runs each; with 2 the whole benchmark takes about 5 minutes on 2 cores (inputs cached) */
const ROUNDS = args.includes('--rounds') ? Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 1) : 2;
const OUT = path.join(ROOT, 'bench', 'out');
const CLIPS_DIR = path.join(OUT, 'pipeline-inputs');
const EMBEDDED_OUT = path.join(OUT, 'pipeline-embedded-out');
const LOG_DIR = path.join(OUT, 'pipeline-logs');
const LONG_SHARED = path.join(OUT, 'inputs', 'src-1080p-10min.mp4');
const LONG_OWN = path.join(CLIPS_DIR, 'src-1080p-10min.mp4');
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const WORKERS = 2;
const IN_BUCKET = 'bench-in';
const OUT_BUCKET = 'bench-out';
const LONG_START = 300;
const LONG_DURATION = 3;

const T0 = performance.now();
const note = (s: string) => process.stderr.write(`[bench:pipeline +${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);
const sec = (ms: number) => (ms / 1000).toFixed(2);
const mb = (b: number) => (b / 1e6).toFixed(2);

// ---------------------------------------------------------------------------------------------------------------
// cleanup, also on failure and on Ctrl-C

const cleanups: Array<{ what: string; fn: () => Promise<unknown> }> = [];
let cleaning: Promise<void> | undefined;
function onCleanup(what: string, fn: () => Promise<unknown>): void {
  cleanups.push({ what, fn });
}
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c.fn();
      } catch (e) {
        note(`cleanup of ${c.what} failed: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true;
    note(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Between phases: after Ctrl-C, start nothing new (cleanup may already be running). */
function stopIfInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

async function deleteByPattern(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length) n += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// the embedded CLI, as a user runs it

interface CliSummary {
  total: number;
  converted: number;
  failed: number;
  files: Array<{ status: string; seconds: number; error?: { code: string } }>;
}

function runEmbedded(): Promise<{ ms: number; summary: CliSummary; cliNodeMs: number }> {
  fs.rmSync(EMBEDDED_OUT, { recursive: true, force: true }); // the CLI resumes: a previous run's pairs would be kept
  return new Promise((resolve, reject) => {
    const argv = [path.join(ROOT, 'bin', 'vid2live.js'), 'convert', CLIPS_DIR, '-o', EMBEDDED_OUT, '--json', '--concurrency', '2'];
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    onCleanup('the embedded CLI', async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGTERM: the CLI aborts its conversions and kills its ffmpeg; SIGKILL only if it does not go in time
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    });
    // the CLI's own (node) CPU, sampled until it exits; its children's CPU is the rest of the tree's
    let cliNodeMs = 0;
    const sampler = setInterval(() => {
      const t = procTimes(child.pid!);
      if (t) cliNodeMs = t.own;
    }, 100);
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      clearInterval(sampler);
      try {
        const summary = JSON.parse(out) as CliSummary;
        if (code !== 0) note(`the CLI exited with ${code} (${summary.failed} failed)`);
        resolve({ ms, summary, cliNodeMs });
      } catch {
        reject(new Error(`the CLI exited with ${code} and no JSON summary:\n${err.slice(-4000)}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// the stack: Redis, s3rver and the proxy for the whole run; api + workers started per phase (so their CPU time,
// reaped when they exit, can be attributed to that phase)

interface Stack {
  s3: RunningS3rver;
  proxy: CountingProxy;
  /** talks to s3rver directly: the bench's own uploads and listings never reach the proxy's counters */
  storage: S3Storage;
  redis: Redis;
  prefix: string;
  /** app environment; `viaProxy`: S3_ENDPOINT = the counting proxy instead of s3rver itself */
  env(viaProxy: boolean): Record<string, string>;
  apiKey: string;
}

interface Apps {
  apiUrl: string;
  apiKey: string;
  processes: AppProcess[];
  stop(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect().catch((e: Error) => {
    throw new Error(`no Redis at ${REDIS_URL} (${e.message}); start one or set REDIS_URL`);
  });
  const prefix = `bench-pipeline-${randomBytes(4).toString('hex')}`;
  onCleanup('redis', async () => {
    const n = await deleteByPattern(redis, `${prefix}:*`);
    note(`deleted ${n} Redis key(s) under ${prefix}:`);
    redis.disconnect();
  });

  const s3 = await startS3rver([IN_BUCKET, OUT_BUCKET]);
  onCleanup('s3rver', () => s3.close());
  const upstream = new URL(s3.endpoint);
  const proxy = await startCountingProxy({ host: upstream.hostname, port: Number(upstream.port) });
  onCleanup('the counting proxy', () => proxy.close());
  const storage = new S3Storage(s3.config);
  onCleanup('the S3 client', () => storage.close());

  const apiKey = `bench_${randomBytes(18).toString('base64url')}`;
  const env = (viaProxy: boolean): Record<string, string> => ({
    REDIS_URL,
    ...s3.env,
    // via the proxy, every app request and every presigned URL names the proxy; it forwards the same Host to s3rver
    S3_ENDPOINT: viaProxy ? proxy.endpoint : s3.endpoint,
    API_KEYS: `${apiKey}:bench`,
    TENANT_STORAGE: JSON.stringify({
      bench: { read: [{ bucket: IN_BUCKET, prefix: '' }], write: [{ bucket: OUT_BUCKET, prefix: '' }] },
    }),
    WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false',
    QUEUE_PREFIX: prefix,
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'info',
  });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  return { s3, proxy, storage, redis, prefix, env, apiKey };
}

async function startApps(stack: Stack, label: string, viaProxy: boolean): Promise<Apps> {
  stopIfInterrupted();
  const processes: AppProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= Promise.all(processes.map((a) => a.stop())).then(() => undefined));
  onCleanup(`the api and workers (${label})`, stop);
  const api = await startApi(stack.env(viaProxy), path.join(LOG_DIR, `${stack.prefix}-${label}-api.log`));
  processes.push(api.app);
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, (_, i) => startWorker(stack.env(viaProxy), path.join(LOG_DIR, `${stack.prefix}-${label}-worker-${i + 1}.log`))),
  );
  processes.push(...workers);
  return { apiUrl: api.url, apiKey: stack.apiKey, processes, stop };
}

async function api<T>(apps: Apps, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${apps.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${apps.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

function assertAppsAlive(apps: Apps): void {
  for (const a of apps.processes) if (!a.running) throw new Error(`the ${a.role} (log ${a.logFile}) exited:\n${a.output().slice(-4000)}`);
}

/** CPU of the benchmark's own process tree vs the whole machine over one phase. */
interface CpuSplit {
  /** the benchmark's own process tree */
  ownMs: number;
  /** of which node itself: the CLI, or api + workers */
  nodeMs: number;
  /** of which this process: s3rver + polling the api (0 for the embedded runs) */
  benchMs: number;
  /** the whole machine, all cores */
  machineMs: number;
  /** length of the accounting window (a little longer than the timed one: it includes stopping the apps) */
  windowMs: number;
}

const selfMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// ---------------------------------------------------------------------------------------------------------------
// 2. embedded

interface EmbeddedResult {
  ms: number;
  summary: CliSummary;
  cpu: CpuSplit;
}

async function measureEmbedded(): Promise<EmbeddedResult> {
  stopIfInterrupted();
  const m0 = machineBusyMs();
  const t0 = treeMs();
  const w0 = performance.now();
  const r = await runEmbedded();
  // the CLI has been reaped: its CPU, and its ffmpeg/exiftool children's, is in our cutime/cstime now
  return {
    ...r,
    cpu: { ownMs: treeMs() - t0, nodeMs: r.cliNodeMs, benchMs: 0, machineMs: machineBusyMs() - m0, windowMs: performance.now() - w0 },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 3. pipeline

interface BatchView {
  id: string;
  status: string;
  total: number | null;
  counts: { queued: number; active: number; completed: number; failed: number; canceled: number };
  failures?: Array<{ id: string; error?: { code: string; message: string } }>;
}

interface PipelineResult {
  ms: number;
  batch: BatchView;
  /** from POST until the batch's own status said completed (the flow parent ran) */
  msUntilStatusCompleted: number | null;
  jpg: number;
  mov: number;
  firstStartMs: number | null;
  meanActiveSec: number | null;
  cpu: CpuSplit;
}

async function uploadClips(stack: Stack, clips: string[]): Promise<void> {
  note(`uploading ${clips.length} clips to s3://${IN_BUCKET}/clips/ (not timed) …`);
  for (const f of clips) await stack.storage.putObjectFromFile(IN_BUCKET, `clips/${path.basename(f)}`, f, { contentType: 'video/mp4' });
}

async function measurePipeline(stack: Stack, round: number): Promise<PipelineResult> {
  // Straight to s3rver, as deployed: the counting proxy (measurement equipment) would add its own CPU to the
  // pipeline's on these 2 cores. The read pattern of a short clip is measured through the proxy separately.
  const apps = await startApps(stack, `round${round}`, false);
  // CPU the apps spent starting up is not the batch's: subtract what they have used so far
  const appNodeMs = () =>
    apps.processes.reduce((s, a) => s + (procTimes(a.child.pid!)?.own ?? 0), 0);
  const startup = apps.processes.reduce((s, a) => {
    const t = procTimes(a.child.pid!);
    return s + (t ? t.own + t.children : 0);
  }, 0);
  const node0 = appNodeMs();
  const outPrefix = `batch-${round}/`;
  const m0 = machineBusyMs();
  const tree0 = treeMs();
  const self0 = selfMs();
  const w0 = performance.now();
  note(`pipeline #${round}: POST /v1/batches …`);
  const t0 = performance.now();
  const wall0 = Date.now();
  const { id } = await api<{ id: string }>(apps, 'POST', '/v1/batches', {
    source: { bucket: IN_BUCKET, prefix: 'clips/' },
    output: { bucket: OUT_BUCKET, prefix: outPrefix },
  });
  let view: BatchView | undefined;
  let lastLine = '';
  await waitFor(
    'the batch to end',
    async () => {
      view = await api<BatchView>(apps, 'GET', `/v1/batches/${id}`);
      const c = view.counts;
      const ended = c.completed + c.failed + c.canceled;
      const line = `  batch ${view.status}: ${ended}/${view.total ?? '?'} ended (active ${c.active}, failed ${c.failed})`;
      if (line !== lastLine && (ended % 5 === 0 || c.failed)) note((lastLine = line));
      if (ended >= INPUT_COUNT || view.status === 'completed') return true;
      assertAppsAlive(apps);
      return false;
    },
    8 * 60_000,
    250,
  );
  const ms = performance.now() - t0;

  // not timed: when the batch's own status flips (its flow parent runs after the last child)
  let msUntilStatusCompleted: number | null = null;
  await waitFor(
    'the batch status to say completed',
    async () => {
      view = await api<BatchView>(apps, 'GET', `/v1/batches/${id}`);
      if (view.status === 'completed') msUntilStatusCompleted = performance.now() - t0;
      return view.status === 'completed';
    },
    30_000,
    250,
  ).catch((e: Error) => note(`${e.message} (the counts said all ended)`));
  const nodeMs = appNodeMs() - node0;
  await apps.stop();
  const cpu: CpuSplit = {
    ownMs: treeMs() - tree0 - startup,
    nodeMs,
    benchMs: selfMs() - self0,
    machineMs: machineBusyMs() - m0,
    windowMs: performance.now() - w0,
  };

  // outputs stay in S3: list them (directly, not through the proxy), download nothing
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await stack.storage.listPage(OUT_BUCKET, outPrefix, token);
    keys.push(...page.objects.map((o) => o.key));
    token = page.continuationToken;
  } while (token);

  // per-job times from the conversion records the worker wrote (startedAt → finishedAt: HEAD, engine, uploads)
  const active: number[] = [];
  let firstStart = Infinity;
  let cursor = '0';
  do {
    const [next, found] = await stack.redis.scan(cursor, 'MATCH', `${stack.prefix}:conversion:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of found) {
      const raw = await stack.redis.get(k).catch(() => null);
      if (!raw) continue;
      const r = JSON.parse(raw) as { batchId?: string; startedAt?: string; finishedAt?: string };
      if (r.batchId !== id || !r.startedAt || !r.finishedAt) continue;
      const s = Date.parse(r.startedAt);
      firstStart = Math.min(firstStart, s);
      active.push((Date.parse(r.finishedAt) - s) / 1000);
    }
  } while (cursor !== '0');

  return {
    ms,
    batch: view!,
    msUntilStatusCompleted,
    jpg: keys.filter((k) => k.endsWith('.JPG')).length,
    mov: keys.filter((k) => k.endsWith('.MOV')).length,
    firstStartMs: Number.isFinite(firstStart) ? firstStart - wall0 : null,
    meanActiveSec: active.length ? active.reduce((a, b) => a + b, 0) / active.length : null,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. bytes read from S3, counted by the proxy: a 6 s clip, and a 3 s clip of a 10-minute source

interface ConversionView {
  id: string;
  status: string;
  progress: { stage: string; percent: number };
  result?: { stillTime: number; video: { key: string }; still: { key: string }; warnings: Array<{ code: string }> };
  error?: { code: string; message: string };
}

interface ProxiedResult {
  label: string;
  ms: number;
  view: ConversionView;
  bytes: ProxyCounters;
  sourceGets: RequestLogEntry[];
}

async function convertViaProxy(
  stack: Stack,
  apps: Apps,
  key: string,
  label: string,
  options: Record<string, unknown>,
  outPrefix: string,
): Promise<ProxiedResult> {
  const before = stack.proxy.counters();
  const logFrom = stack.proxy.log().length;
  const t0 = performance.now();
  const { id } = await api<{ id: string }>(apps, 'POST', '/v1/conversions', {
    source: { bucket: IN_BUCKET, key },
    output: { bucket: OUT_BUCKET, prefix: outPrefix },
    options,
  });
  let view: ConversionView | undefined;
  await waitFor(
    `conversion ${id}`,
    async () => {
      view = await api<ConversionView>(apps, 'GET', `/v1/conversions/${id}`);
      if (['completed', 'failed', 'canceled'].includes(view.status)) return true;
      assertAppsAlive(apps);
      return false;
    },
    5 * 60_000,
    100,
  );
  const ms = performance.now() - t0;
  // give the proxy a moment to see the last aborted/closed connections
  await new Promise((r) => setTimeout(r, 300));
  const bytes = diffCounters(stack.proxy.counters(), before);
  const sourcePath = `/${IN_BUCKET}/${key}`;
  const sourceGets = stack.proxy
    .log()
    .slice(logFrom)
    .filter((e) => e.path === sourcePath);
  return { label, ms, view: view!, bytes, sourceGets };
}

// ---------------------------------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

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
  type Run = { kind: 'embedded'; round: number; r: EmbeddedResult } | { kind: 'pipeline'; round: number; r: PipelineResult };
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

  // ---- report
  const embRuns = runs.flatMap((x) => (x.kind === 'embedded' ? [x] : []));
  const pipeRuns = runs.flatMap((x) => (x.kind === 'pipeline' ? [x] : []));
  const jpm = (ms: number) => INPUT_COUNT / (ms / 60_000);
  const otherCores = (c: CpuSplit) => Math.max(0, c.machineMs - c.ownMs) / c.windowMs;
  const L: string[] = [];
  L.push(`pipeline benchmark — ${new Date().toISOString()}; node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? '?'}), ${ROUNDS} round(s), order E P / P E alternating`);
  L.push(`inputs: ${INPUT_COUNT} clips 1280x720 30 fps 6 s H.264 ~8 Mb/s + AAC, ${mb(inputBytes)} MB in all`);
  L.push('"CPU s/job" = CPU time of the benchmark\'s own process tree (CLI, or api + workers + s3rver in this process; with their');
  L.push('ffmpeg/exiftool children) / 20; "other load" = CPU the rest of the machine used meanwhile, in cores (0 = quiet machine).');
  L.push('');
  L.push('run            | wall (s) | jobs/min | mean s/job | CPU s/job | other load | ok    | outputs');
  L.push('---------------|----------|----------|------------|-----------|------------|-------|------------------------');
  for (const x of runs) {
    if (x.kind === 'embedded') {
      const r = x.r;
      const meanFile = mean(r.summary.files.map((f) => f.seconds));
      L.push(
        `${`embedded #${x.round}`.padEnd(14)} | ${sec(r.ms).padStart(8)} | ${jpm(r.ms).toFixed(1).padStart(8)} | ${meanFile.toFixed(2).padStart(10)} | ${(r.cpu.ownMs / 1000 / INPUT_COUNT).toFixed(2).padStart(9)} | ${otherCores(r.cpu).toFixed(2).padStart(10)} | ${`${r.summary.converted}/${INPUT_COUNT}`.padEnd(5)} | local files`,
      );
    } else {
      const r = x.r;
      L.push(
        `${`pipeline #${x.round}`.padEnd(14)} | ${sec(r.ms).padStart(8)} | ${jpm(r.ms).toFixed(1).padStart(8)} | ${(r.meanActiveSec ?? NaN).toFixed(2).padStart(10)} | ${(r.cpu.ownMs / 1000 / INPUT_COUNT).toFixed(2).padStart(9)} | ${otherCores(r.cpu).toFixed(2).padStart(10)} | ${`${r.batch.counts.completed}/${INPUT_COUNT}`.padEnd(5)} | ${r.jpg} .JPG + ${r.mov} .MOV in S3`,
      );
    }
  }
  const embMs = median(embRuns.map((x) => x.r.ms));
  const pipeMs = median(pipeRuns.map((x) => x.r.ms));
  const ratio = pipeMs / embMs;
  const cpuRatio = mean(pipeRuns.map((x) => x.r.cpu.ownMs)) / mean(embRuns.map((x) => x.r.cpu.ownMs));
  L.push('');
  L.push(`embedded: median ${sec(embMs)} s = ${jpm(embMs).toFixed(1)} jobs/min; pipeline: median ${sec(pipeMs)} s = ${jpm(pipeMs).toFixed(1)} jobs/min`);
  L.push(`overhead ratio pipeline/embedded (wall, medians): ${ratio.toFixed(3)} (target ≤ 1.10) → ${ratio <= 1.1 ? 'met' : 'MISSED'}`);
  if (ROUNDS > 1) {
    L.push(`  per round: ${Array.from({ length: ROUNDS }, (_, i) => (pipeRuns[i].r.ms / embRuns[i].r.ms).toFixed(3)).join(', ')}`);
  }
  L.push(`CPU ratio pipeline/embedded (own process trees): ${cpuRatio.toFixed(3)}`);
  {
    const per = (xs: CpuSplit[], f: (c: CpuSplit) => number) => (mean(xs.map(f)) / 1000 / INPUT_COUNT).toFixed(2);
    const e = embRuns.map((x) => x.r.cpu);
    const p = pipeRuns.map((x) => x.r.cpu);
    const media = (c: CpuSplit) => c.ownMs - c.nodeMs - c.benchMs;
    L.push(
      `CPU s/job by part — embedded: ffmpeg+exiftool ${per(e, media)}, node (CLI) ${per(e, (c) => c.nodeMs)}; ` +
        `pipeline: ffmpeg+exiftool ${per(p, media)}, node (api + 2 workers) ${per(p, (c) => c.nodeMs)}, s3rver + polling (bench process) ${per(p, (c) => c.benchMs)}`,
    );
  }
  const p1 = pipeRuns[0].r;
  L.push(
    `pipeline detail (#1): first job active ${p1.firstStartMs !== null ? sec(p1.firstStartMs) : '?'} s after POST; batch status "completed" at ${p1.msUntilStatusCompleted !== null ? sec(p1.msUntilStatusCompleted) : '?'} s; ` +
      `counts ${JSON.stringify(p1.batch.counts)}${p1.batch.failures ? `; failures ${JSON.stringify(p1.batch.failures)}` : ''}`,
  );
  {
    const size = fs.statSync(clips[0]).size;
    const gets = short.sourceGets.filter((e) => e.method === 'GET');
    const read = gets.reduce((a, e) => a + e.responseBytes, 0);
    L.push(
      `read pattern of one 6 s clip (${path.basename(clips[0])}, ${size} B, converted alone through the counting proxy, ${short.view.status}): ` +
        `${gets.length} GETs, ${mb(read)} MB read = ${(read / size).toFixed(2)}× its size; outputs uploaded ${mb(short.bytes.uploadRequestBytes)} MB in ${short.bytes.uploadRequests} PUT/POST`,
    );
    for (const e of gets) L.push(`    ${(e.range ?? '(no range)').padEnd(20)} ${String(e.responseBytes).padStart(9)} B${e.aborted ? '  closed early by the client' : ''}  ${e.userAgent.slice(0, 20)}`);
  }
  L.push('');
  L.push(`10-minute source: ${path.relative(ROOT, longSource)}, ${mb(longSize)} MB (1920x1080 30 fps H.264 ultrafast g=60 + AAC)`);
  L.push('conversion                | status    | wall (s) | source bytes read  | % of source | GETs on source | uploads (outputs)');
  L.push('--------------------------|-----------|----------|--------------------|-------------|----------------|------------------');
  for (const l of longs) {
    const srcRead = l.sourceGets.filter((e) => e.method === 'GET').reduce((s, e) => s + e.responseBytes, 0);
    const nGets = l.sourceGets.filter((e) => e.method === 'GET').length;
    L.push(
      `${l.label.padEnd(25)} | ${l.view.status.padEnd(9)} | ${sec(l.ms).padStart(8)} | ${`${mb(srcRead)} MB`.padStart(18)} | ${`${((srcRead / longSize) * 100).toFixed(2)} %`.padStart(11)} | ${String(nGets).padStart(14)} | ${mb(l.bytes.uploadRequestBytes)} MB in ${l.bytes.uploadRequests} PUT/POST`,
    );
    if (l.view.error) L.push(`  error: ${l.view.error.code}: ${l.view.error.message}`);
    if (l.view.result) L.push(`  result: still at ${l.view.result.stillTime.toFixed(3)} s; warnings [${l.view.result.warnings.map((w) => w.code).join(', ')}]`);
    L.push(`  all GET response bytes during the job: ${mb(l.bytes.getResponseBytes)} MB; other responses ${l.bytes.otherResponseBytes} B; ${l.bytes.requests} requests`);
    for (const e of l.sourceGets) {
      L.push(
        `    ${e.method.padEnd(4)} ${String(e.status).padEnd(3)} ${(e.range ?? '(no range)').padEnd(24)} ${String(e.responseBytes).padStart(11)} B${e.aborted ? '  closed early by the client' : ''}  ${e.userAgent.slice(0, 40)}`,
      );
    }
  }
  const head = longs[0];
  const headRead = head.sourceGets.filter((e) => e.method === 'GET').reduce((s, e) => s + e.responseBytes, 0);
  L.push('');
  L.push(`bytes read / source size (start ${LONG_START} s, ${LONG_DURATION} s clip): ${((headRead / longSize) * 100).toFixed(2)} % (target ≤ 10 %) → ${headRead / longSize <= 0.1 && head.view.status === 'completed' ? 'met' : 'MISSED'}`);
  process.stdout.write(L.join('\n') + '\n');
}

main()
  .catch((e: unknown) => {
    if (interrupted) return; // the run was stopped on purpose; whatever failed after that is a consequence
    process.stderr.write(`[bench:pipeline] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    // lingering keep-alive sockets or handles must not hold the process open
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  });
