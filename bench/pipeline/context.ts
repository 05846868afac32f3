import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from './processes';

/** The pipeline benchmark's settings, its log line, number formats, and the cleanup that runs also on failure and Ctrl-C. */

const args = process.argv.slice(2);
/** also measure a second long-source conversion with the window chosen automatically (no `start`) */
export const WITH_AUTO = !args.includes('--no-auto');
/** embedded and pipeline runs each; with 2 the whole benchmark takes about 5 minutes on 2 cores (inputs cached) */
export const ROUNDS = args.includes('--rounds') ? Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 1) : 2;
/** only the proxied byte measurements (short clip, long sources): no embedded/pipeline timing rounds */
export const BYTES_ONLY = args.includes('--bytes-only');
/** which 10-minute sources to measure: `--long-sources 200mb,1200mb` (the default: both) */
export type LongSourceId = '200mb' | '1200mb';
export const LONG_SOURCES: LongSourceId[] = parseLongSources();
function parseLongSources(): LongSourceId[] {
  const i = args.indexOf('--long-sources');
  if (i < 0) return ['200mb', '1200mb'];
  const raw = (args[i + 1] ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  const known: LongSourceId[] = ['200mb', '1200mb'];
  const bad = raw.filter((x) => !known.includes(x as LongSourceId));
  if (!raw.length || bad.length) throw new Error(`--long-sources takes a comma list of ${known.join(', ')} (got "${args[i + 1] ?? ''}")`);
  return known.filter((k) => raw.includes(k));
}
/**
 * How the pipeline runs are laid out: `--layouts 1x1,2x1` = worker processes × WORKER_CONCURRENCY (slots per worker),
 * each measured once per round beside the embedded baseline. The default is the single layout 2x1 (2 workers × 1 slot).
 */
export interface Layout {
  workers: number;
  concurrency: number;
  /** `2x1` */
  label: string;
}
export const LAYOUTS: Layout[] = parseLayouts();
function parseLayouts(): Layout[] {
  const i = args.indexOf('--layouts');
  if (i < 0) return [{ workers: 2, concurrency: 1, label: '2x1' }];
  const raw = (args[i + 1] ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  const out: Layout[] = [];
  for (const r of raw) {
    const m = /^([1-9]\d?)x([1-9]\d?)$/.exec(r);
    if (!m) throw new Error(`--layouts takes a comma list of WORKERSxCONCURRENCY, e.g. 1x1,2x1 (got "${r}")`);
    const label = `${Number(m[1])}x${Number(m[2])}`;
    if (!out.some((l) => l.label === label)) out.push({ workers: Number(m[1]), concurrency: Number(m[2]), label });
  }
  if (!out.length) throw new Error(`--layouts takes a comma list of WORKERSxCONCURRENCY, e.g. 1x1,2x1 (got "${args[i + 1] ?? ''}")`);
  return out;
}
export const OUT = path.join(ROOT, 'bench', 'out');
export const CLIPS_DIR = path.join(OUT, 'pipeline-inputs');
export const EMBEDDED_OUT = path.join(OUT, 'pipeline-embedded-out');
export const LOG_DIR = path.join(OUT, 'pipeline-logs');
export const LONG_SHARED = path.join(OUT, 'inputs', 'src-1080p-10min.mp4');
export const LONG_OWN = path.join(CLIPS_DIR, 'src-1080p-10min.mp4');
/** the ~200 MB 10-minute source (same picture with light noise, ~2.5 Mb/s video): a bitrate closer to a phone's */
export const LONG_200MB = path.join(OUT, 'inputs', 'src-1080p-10min-200mb.mp4');
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** worker processes for the proxied byte measurements (the timed runs use LAYOUTS) */
export const WORKERS = 2;
export const IN_BUCKET = 'bench-in';
export const OUT_BUCKET = 'bench-out';
export const LONG_START = 300;
export const LONG_DURATION = 3;

const T0 = performance.now();
export const note = (s: string) => process.stderr.write(`[bench:pipeline +${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);
export const sec = (ms: number) => (ms / 1000).toFixed(2);
export const mb = (b: number) => (b / 1e6).toFixed(2);

export const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

// ---------------------------------------------------------------------------------------------------------------
// cleanup, also on failure and on Ctrl-C

const cleanups: Array<{ what: string; fn: () => Promise<unknown> }> = [];
let cleaning: Promise<void> | undefined;
export function onCleanup(what: string, fn: () => Promise<unknown>): void {
  cleanups.push({ what, fn });
}
export function cleanup(): Promise<void> {
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
export function stopIfInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

/** True once SIGINT/SIGTERM started the cleanup: whatever fails after that is a consequence. */
export function wasInterrupted(): boolean {
  return interrupted;
}
