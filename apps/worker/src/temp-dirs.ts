import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A conversion's private temp dir, and the reaper that removes what a killed worker left behind.
 *
 * Each dir carries its owner in its name: `vid2live-<conversion id>.p<pid>-<start>-XXXXXX`, where `<start>` is the
 * owner's start time in clock ticks since boot (/proc/<pid>/stat field 22; 0 where there is no /proc). A pid alone
 * is not an identity: a restarted container's worker is pid 1 again, with the old emptyDir still mounted.
 *
 * On start the worker reaps dirs whose owner is gone: it first kills the ffmpeg/ffprobe processes still working in
 * them (a SIGKILLed worker's children are re-parented and keep running), then removes the dirs. Bounded: at most
 * MAX_DIRS dirs and MAX_PROCS /proc entries are looked at; only ffmpeg/ffprobe of this user whose command line
 * points into a dead owner's dir are ever signalled.
 */

const OWNED_RE = /^vid2live-(cnv_[A-Za-z0-9_]+)\.p(\d+)-(\d+)-[A-Za-z0-9]{6}$/;
/** The name this worker used before owners were recorded (`vid2live-cnv_…-XXXXXX`): reaped only when old. */
const LEGACY_RE = /^vid2live-cnv_[A-Za-z0-9_]+-[A-Za-z0-9]{6}$/;
const MAX_DIRS = 1_000;
const MAX_PROCS = 100_000;
const MEDIA_COMMANDS = new Set(['ffmpeg', 'ffprobe']);

/** Start time of `pid` in clock ticks since boot (Linux), `0` when it cannot be read, undefined when it is gone. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // `comm` (field 2) is in parentheses and may hold spaces or `)`: fields are counted after the last `)`.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]) || 0; // field 22 = index 19 after pid, comm
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && procAvailable()) return undefined;
    // No /proc (macOS): fall back to "is there a process with this pid".
    try {
      process.kill(pid, 0);
      return 0;
    } catch (k) {
      return (k as NodeJS.ErrnoException).code === 'EPERM' ? 0 : undefined;
    }
  }
}

let procChecked: boolean | undefined;
function procAvailable(): boolean {
  if (procChecked === undefined) {
    try {
      readFileSync('/proc/self/stat');
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}

const OWN_START = processStartTicks(process.pid) ?? 0;

/** `$TMPDIR/vid2live-<id>.p<pid>-<start>-XXXXXX`, created with mode 0700. */
export function makeConversionTempDir(conversionId: string, root = os.tmpdir()): Promise<string> {
  return fs.mkdtemp(path.join(root, `vid2live-${conversionId}.p${process.pid}-${OWN_START}-`));
}

export interface ReapReport {
  /** dirs removed */
  removed: string[];
  /** pids of orphaned ffmpeg/ffprobe processes that were killed */
  killed: number[];
}

export interface ReapOptions {
  root?: string;
  /** legacy dirs (no owner in the name) untouched for this long are removed; default 6 h */
  legacyMaxAgeMs?: number;
  log?: (line: string) => void;
}

/** True when the owner recorded in a dir name is no longer running (pid gone, or reused by a later process). */
function ownerGone(pid: number, start: number): boolean {
  if (pid === process.pid && (start === OWN_START || start === 0)) return false;
  const now = processStartTicks(pid);
  if (now === undefined) return true;
  return start !== 0 && now !== 0 && now !== start;
}

/** Finds the stale dirs under `root`, kills the ffmpeg/ffprobe still working in them, removes them. */
export async function reapStaleTempDirs(opts: ReapOptions = {}): Promise<ReapReport> {
  const root = opts.root ?? os.tmpdir();
  const legacyMaxAgeMs = opts.legacyMaxAgeMs ?? 6 * 3600_000;
  const stale: string[] = [];
  let entries: string[];
  try {
    entries = await fs.readdir(root);
  } catch {
    return { removed: [], killed: [] };
  }
  for (const name of entries) {
    if (stale.length >= MAX_DIRS) break;
    if (!name.startsWith('vid2live-')) continue;
    const full = path.join(root, name);
    const owned = OWNED_RE.exec(name);
    if (owned) {
      if (ownerGone(Number(owned[2]), Number(owned[3]))) stale.push(full);
      continue;
    }
    if (LEGACY_RE.test(name)) {
      const st = await fs.lstat(full).catch(() => undefined);
      if (st?.isDirectory() && Date.now() - st.mtimeMs > legacyMaxAgeMs) stale.push(full);
    }
  }
  if (!stale.length) return { removed: [], killed: [] };

  const killed = await killOrphanedMedia(stale);
  const removed: string[] = [];
  for (const dir of stale) {
    const st = await fs.lstat(dir).catch(() => undefined);
    // Never follow a symlink someone put in $TMPDIR under our name.
    if (!st?.isDirectory()) continue;
    await fs.rm(dir, { recursive: true, force: true }).then(
      () => removed.push(dir),
      (e) => opts.log?.(`could not remove ${dir}: ${(e as Error).message}`),
    );
  }
  if (removed.length || killed.length) {
    opts.log?.(`reaped ${removed.length} temp dir(s) and ${killed.length} orphaned ffmpeg/ffprobe process(es) of a previous worker`);
  }
  return { removed, killed };
}

/**
 * Linux only (/proc): ffmpeg/ffprobe processes of this user whose command line names a file inside one of `dirs`.
 * Their owner is dead (that is what made the dir stale), so they are orphans: SIGKILL, then wait (bounded) until
 * they are gone so the dirs can be removed.
 */
async function killOrphanedMedia(dirs: string[]): Promise<number[]> {
  if (!procAvailable()) return [];
  let pids: string[];
  try {
    pids = (await fs.readdir('/proc')).filter((n) => /^\d+$/.test(n)).slice(0, MAX_PROCS);
  } catch {
    return [];
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const inDirs = (arg: string) => dirs.some((d) => arg === d || arg.startsWith(d + '/') || arg.includes(`${d}/`));
  const killed: number[] = [];
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      const comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      if (!MEDIA_COMMANDS.has(comm)) continue;
      if (uid !== undefined && (await fs.stat(`/proc/${p}`)).uid !== uid) continue;
      const args = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (!MEDIA_COMMANDS.has(path.basename(args[0] ?? ''))) continue;
      if (!args.slice(1).some(inDirs)) continue;
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone meanwhile, or not ours to read: leave it
    }
  }
  // Bounded wait (≤ 2 s) for the kernel to take them down before their dirs are removed.
  const until = Date.now() + 2_000;
  for (const pid of killed) {
    while (Date.now() < until && isRunning(pid)) await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}

function isRunning(pid: number): boolean {
  try {
    // A killed child of ours would stay a zombie; an orphan's reaper (init) collects it.
    const state = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/\) Z /.test(state);
  } catch {
    return false;
  }
}
