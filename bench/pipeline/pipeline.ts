import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { IN_BUCKET, note, OUT_BUCKET, type Layout } from './context';
import { diffCounters, type ProxyCounters, type RequestLogEntry } from './counting-proxy';
import { machineBusyMs, procTimes, treeMs } from './cpu';
import { selfMs, type CpuSplit } from './embedded';
import { INPUT_COUNT } from './media';
import { OpenTracker, type TrackedOpen } from './opens';
import { waitFor } from './processes';
import { api, assertAppsAlive, startApps, type Apps, type Stack } from './stack';

// ---------------------------------------------------------------------------------------------------------------
// 3. pipeline

export interface BatchView {
  id: string;
  status: string;
  total: number | null;
  counts: { queued: number; active: number; completed: number; failed: number; canceled: number };
  failures?: Array<{ id: string; error?: { code: string; message: string } }>;
}

export interface PipelineResult {
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

export async function uploadClips(stack: Stack, clips: string[]): Promise<void> {
  note(`uploading ${clips.length} clips to s3://${IN_BUCKET}/clips/ (not timed) …`);
  for (const f of clips) await stack.storage.putObjectFromFile(IN_BUCKET, `clips/${path.basename(f)}`, f, { contentType: 'video/mp4' });
}

export async function measurePipeline(stack: Stack, round: number, layout: Layout): Promise<PipelineResult> {
  // Straight to s3rver, as deployed: the counting proxy (measurement equipment) would add its own CPU to the
  // pipeline's on these 2 cores. The read pattern of a short clip is measured through the proxy separately.
  const apps = await startApps(stack, `round${round}-${layout.label}`, false, layout);
  const tag = `pipeline ${layout.label} #${round}`;
  // CPU the apps spent starting up is not the batch's: subtract what they have used so far
  const appNodeMs = () =>
    apps.processes.reduce((s, a) => s + (procTimes(a.child.pid!)?.own ?? 0), 0);
  const startup = apps.processes.reduce((s, a) => {
    const t = procTimes(a.child.pid!);
    return s + (t ? t.own + t.children : 0);
  }, 0);
  const node0 = appNodeMs();
  const outPrefix = `batch-${round}-${layout.label}/`;
  const m0 = machineBusyMs();
  const tree0 = treeMs();
  const self0 = selfMs();
  const w0 = performance.now();
  note(`${tag}: POST /v1/batches …`);
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
      const line = `  ${tag} batch ${view.status}: ${ended}/${view.total ?? '?'} ended (active ${c.active}, failed ${c.failed})`;
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

export interface ConversionView {
  id: string;
  status: string;
  progress: { stage: string; percent: number };
  result?: { stillTime: number; video: { key: string }; still: { key: string }; warnings: Array<{ code: string }> };
  error?: { code: string; message: string };
}

export interface ProxiedResult {
  label: string;
  ms: number;
  view: ConversionView;
  bytes: ProxyCounters;
  sourceGets: RequestLogEntry[];
  /** the workers' ffmpeg/ffprobe processes during the conversion (which open each GET served) */
  opens: TrackedOpen[];
}

export async function convertViaProxy(
  stack: Stack,
  apps: Apps,
  key: string,
  label: string,
  options: Record<string, unknown>,
  outPrefix: string,
): Promise<ProxiedResult> {
  const before = stack.proxy.counters();
  const logFrom = stack.proxy.log().length;
  const tracker = new OpenTracker(apps.processes.filter((a) => a.role === 'worker').map((a) => a.child.pid!));
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
  const opens = await tracker.stop();
  const bytes = diffCounters(stack.proxy.counters(), before);
  const sourcePath = `/${IN_BUCKET}/${key}`;
  const sourceGets = stack.proxy
    .log()
    .slice(logFrom)
    .filter((e) => e.path === sourcePath);
  return { label, ms, view: view!, bytes, sourceGets, opens };
}
