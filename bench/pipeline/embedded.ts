import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { CLIPS_DIR, EMBEDDED_OUT, note, onCleanup, stopIfInterrupted } from './context';
import { machineBusyMs, procTimes, treeMs } from './cpu';
import { ROOT } from './processes';

/** Phase 2, the embedded CLI as a user runs it, and the CPU accounting both phases share. */

export interface CpuSplit {
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

export const selfMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export interface CliSummary {
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

export interface EmbeddedResult {
  ms: number;
  summary: CliSummary;
  cpu: CpuSplit;
}

export async function measureEmbedded(): Promise<EmbeddedResult> {
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
