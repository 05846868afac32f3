import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { RequestLogEntry } from './counting-proxy';

/**
 * Which ffmpeg/ffprobe open of a source each S3 GET served. The worker's source reader turns every open's reads
 * into ranged GETs, so the counting proxy sees GETs but not which open asked. This watches the workers' child
 * processes in /proc (Linux; polled every POLL_MS while a conversion runs) and records each ffmpeg/ffprobe with
 * its lifetime and command line; a GET is attributed to the open that was running when it arrived.
 * Approximate by nature: a run the reader keeps fetching after ffmpeg left (≤ 1 MiB) still falls in the lifetime
 * of the open that asked for it, but a process shorter than one poll may be missed (it then shows as "between").
 */
const POLL_MS = 10;
/** a tracker never outlives this, whatever happens to the conversion it watches */
const MAX_TRACK_MS = 6 * 60_000;

/** 'other': an ffmpeg/ffprobe that does not open the source (no loopback URL on its command line) */
export type OpenKind = 'probe' | 'packet index' | 'analysis' | 'render' | 'other';

export interface TrackedOpen {
  pid: number;
  tool: string;
  kind: OpenKind;
  args: string[];
  firstSeenMs: number;
  lastSeenMs: number;
}

function classify(tool: string, args: string[]): OpenKind {
  const a = args.join(' ');
  if (!a.includes('http://127.0.0.1:')) return 'other';
  if (tool === 'ffprobe') return a.includes('-read_intervals') ? 'packet index' : 'probe';
  if (tool === 'ffmpeg') return a.includes('format=gray') && a.includes('rawvideo') ? 'analysis' : 'render';
  return 'other';
}

/**
 * The poller runs in a worker thread: the benchmark's main thread also runs s3rver and the counting proxy, and
 * while they stream a source its event loop can stall longer than a short ffprobe lives. The thread polls /proc
 * every POLL_MS (Atomics.wait between polls), stops when the shared flag is set, and posts what it saw; its times
 * are absolute (timeOrigin + now) and converted to the main thread's performance.now() here.
 */
const POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const { parents, pollMs, maxMs, flag } = workerData;
const stop = new Int32Array(flag);
const abs = () => performance.timeOrigin + performance.now();
const ppidOf = (pid) => {
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch { return undefined; }
};
const cmdlineOf = (pid) => {
  try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').filter(Boolean); } catch { return []; }
};
const opens = new Map();
const notOurs = new Set();
const t0 = abs();
for (;;) {
  const now = abs();
  let pids = [];
  try { pids = fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map(Number); } catch {}
  for (const pid of pids) {
    const known = opens.get(pid);
    if (known) {
      if (ppidOf(pid) !== undefined) known.lastSeenAbs = now;
      continue;
    }
    if (notOurs.has(pid)) continue;
    const ppid = ppidOf(pid);
    if (ppid === undefined || !parents.includes(ppid)) { notOurs.add(pid); continue; }
    const argv = cmdlineOf(pid);
    const tool = (argv[0] || '').split('/').pop() || '';
    if (tool !== 'ffmpeg' && tool !== 'ffprobe') { notOurs.add(pid); continue; }
    opens.set(pid, { pid, tool, args: argv.slice(1), firstSeenAbs: now, lastSeenAbs: now });
  }
  if (Atomics.load(stop, 0) === 1 || now - t0 > maxMs) break;
  Atomics.wait(stop, 0, 0, pollMs);
}
parentPort.postMessage([...opens.values()]);
`;

type Seen = { pid: number; tool: string; args: string[]; firstSeenAbs: number; lastSeenAbs: number };

export class OpenTracker {
  private readonly flag = new SharedArrayBuffer(4);
  private readonly worker: Worker;
  private readonly result: Promise<Seen[]>;

  constructor(parents: number[]) {
    this.worker = new Worker(POLLER, { eval: true, workerData: { parents, pollMs: POLL_MS, maxMs: MAX_TRACK_MS, flag: this.flag } });
    this.worker.unref();
    this.result = new Promise<Seen[]>((resolve) => {
      this.worker.once('message', (m: Seen[]) => resolve(m));
      this.worker.once('error', () => resolve([]));
      this.worker.once('exit', () => resolve([]));
    });
  }

  async stop(): Promise<TrackedOpen[]> {
    Atomics.store(new Int32Array(this.flag), 0, 1);
    Atomics.notify(new Int32Array(this.flag), 0);
    const seen = await Promise.race([this.result, new Promise<Seen[]>((r) => setTimeout(() => r([]), 5_000))]);
    await this.worker.terminate();
    const toLocal = (abs: number) => abs - performance.timeOrigin;
    return seen
      .map((o) => ({ pid: o.pid, tool: o.tool, kind: classify(o.tool, o.args), args: o.args, firstSeenMs: toLocal(o.firstSeenAbs), lastSeenMs: toLocal(o.lastSeenAbs) }))
      .sort((a, b) => a.firstSeenMs - b.firstSeenMs);
  }
}

export interface OpenShare {
  label: string;
  kind: OpenKind | 'between';
  gets: number;
  bytes: number;
  /** what the process was doing, in short: its -ss/-t/-read_intervals */
  detail: string;
}

function detailOf(o: TrackedOpen): string {
  const v = (flag: string) => {
    const i = o.args.indexOf(flag);
    return i >= 0 ? o.args[i + 1] : undefined;
  };
  const parts: string[] = [];
  for (const f of ['-ss', '-t', '-read_intervals', '-frames:v', '-probesize', '-analyzeduration']) {
    const x = v(f);
    if (x !== undefined) parts.push(`${f} ${x}`);
  }
  if (o.kind === 'other') return o.args.slice(0, 8).map((x) => x.replace(/\/tmp\/[^ ]*\//, '…/')).join(' ').slice(0, 80);
  const vf = v('-vf') ?? v('-filter_complex');
  if (vf) parts.push(`filter ${vf.slice(0, 40)}${vf.length > 40 ? '…' : ''}`);
  return parts.join(' ');
}

/**
 * Each source GET attributed to the open that was running when it arrived (a process is "running" from its first
 * to its last sighting, widened by one poll on each side). GETs outside any open are "between" (the reader's own
 * HEAD/first reads, a fetch that started after ffmpeg left).
 */
export function attributeGets(gets: RequestLogEntry[], opens: TrackedOpen[]): { shares: OpenShare[]; perGet: Array<string> } {
  const shares: OpenShare[] = opens.map((o, i) => ({
    label: `#${i + 1} ${o.tool} (${o.kind})`,
    kind: o.kind,
    gets: 0,
    bytes: 0,
    detail: `${detailOf(o)}; alive ~${((o.lastSeenMs - o.firstSeenMs) / 1000).toFixed(2)} s`,
  }));
  const between: OpenShare = { label: 'between opens', kind: 'between', gets: 0, bytes: 0, detail: 'no ffmpeg/ffprobe seen running' };
  const perGet: string[] = [];
  for (const g of gets) {
    // the latest-started open that was alive at the time (opens are sequential in practice)
    let idx = -1;
    for (let i = 0; i < opens.length; i++) {
      const o = opens[i];
      if (g.startMs >= o.firstSeenMs - POLL_MS && g.startMs <= o.lastSeenMs + POLL_MS) idx = i;
    }
    const s = idx >= 0 ? shares[idx] : between;
    s.gets++;
    s.bytes += g.responseBytes;
    perGet.push(idx >= 0 ? `#${idx + 1}` : '-');
  }
  return { shares: [...shares, ...(between.gets ? [between] : [])], perGet };
}
