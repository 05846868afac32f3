/**
 * Engine benchmark: prints figures, asserts nothing (see BENCHMARKS.md for method and targets).
 *
 * For each generated input (1080p 10 s, 4K 10 s, 1080p 10 min), in one run, interleaved, median of R runs:
 *  - engine (auto):  convertToLivePhoto choosing the window and key frame itself
 *  - engine (fixed): the same with --start/--key-frame given (no analysis pass)
 *  - naive:          ffmpeg trim to a file (output seeking), a second ffmpeg for the frame, exiftool per file
 *  - lower bound:    one ffmpeg encode of the clip alone (input seeking, same filters and encoder), nothing else
 * Usage: npm run build && node dist/bench/engine/run.js [--runs 3] [--quick]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sourceColorOf } from '@vid2live/livephoto/stages/color';
import { buildRenderFilterGraph, movieEncodeArgs, outputFrameSize } from '@vid2live/livephoto/stages/render';
import { reapedChildrenCpuMs } from './cpu';

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1]) > 0 && args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const QUICK = args.includes('--quick');
/**
 * `--baseline <convert-one.js of another build>`: its automatic mode runs as one more variant in the same rounds,
 * so a change to the engine is measured against the engine before it in one run (ratios, not separate runs).
 */
const BASELINE = args.includes('--baseline') ? path.resolve(args[args.indexOf('--baseline') + 1]) : undefined;
const ROOT = path.resolve(__dirname, '..', '..', '..');
const WORK = path.join(ROOT, 'bench', 'out');
const INPUTS = path.join(WORK, 'inputs');
const EXIFTOOL = require.resolve('exiftool-vendored.pl/bin/exiftool');

interface Input {
  name: string;
  file: string;
  size: string;
  seconds: number;
}

const inputs: Input[] = [
  { name: '1080p 10 s', file: path.join(INPUTS, 'src-1080p-10s.mp4'), size: '1920x1080', seconds: 10 },
  { name: '4K 10 s', file: path.join(INPUTS, 'src-4k-10s.mp4'), size: '3840x2160', seconds: 10 },
  { name: '1080p 10 min', file: path.join(INPUTS, 'src-1080p-10min.mp4'), size: '1920x1080', seconds: QUICK ? 120 : 600 },
];

function ffmpeg(a: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...a], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function ensureInput(i: Input): void {
  if (fs.existsSync(i.file)) return;
  fs.mkdirSync(INPUTS, { recursive: true });
  process.stderr.write(`generating ${i.name} source…\n`);
  // A camera-like stream: H.264 with 2 s GOPs and AAC audio.
  ffmpeg([
    '-f', 'lavfi', '-i', `testsrc2=size=${i.size}:rate=30:duration=${i.seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${i.seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', i.file + '.tmp.mp4',
  ]);
  fs.renameSync(i.file + '.tmp.mp4', i.file);
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Wall and CPU ms of `fn` (CPU: of the processes it ran and waited for). */
function measured<T>(fn: () => T): { value: T; ms: number; cpuMs: number } {
  const cpu0 = reapedChildrenCpuMs();
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0, cpuMs: reapedChildrenCpuMs() - cpu0 };
}

interface EngineRun {
  ms: number;
  /** CPU ms of the conversion, every process it ran included (absent in builds before it) */
  cpuMs?: number;
  /** the process's warm-up before the conversion (fluent-ffmpeg's checks; absent in builds before it) */
  warmMs?: number;
  maxRssMB: number;
  start: number;
  stillTime: number;
  /** wall ms per stage (probe, plan, render, pair), see convert-one.ts */
  stages: Record<string, number>;
}

function engine(i: Input, fixed?: { start: number; keyFrame: number }, script = path.join(__dirname, 'convert-one.js')): EngineRun {
  const out = path.join(WORK, 'engine');
  const argv = [script, i.file, out, ...(fixed ? [String(fixed.start), String(fixed.keyFrame)] : [])];
  const res = spawnSync(process.execPath, argv, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`engine failed on ${i.name}: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!);
}

function encodeArgsFor(i: Input): string[] {
  const [w, h] = i.size.split('x').map(Number);
  const { width, height } = outputFrameSize(w, h);
  // The engine's own movie chain (colour conversion included), without the still branch.
  const { graph } = buildRenderFilterGraph({
    streamIndex: 0,
    width,
    height,
    color: sourceColorOf({ width: w, height: h, pix_fmt: 'yuv420p' }),
    orientationFilters: [],
    stillFrameIndex: 0,
    stillFormat: 'jpeg',
  });
  const movieChain = graph.split(';')[0].replace('split=2[movie][forstill]', 'null[movie]');
  return ['-filter_complex', movieChain, ...movieEncodeArgs('h264', 90, true, { width, height })];
}

function naive(i: Input, start: number, stillTime: number): number {
  const dir = path.join(WORK, 'naive');
  fs.mkdirSync(dir, { recursive: true });
  const clip = path.join(dir, 'clip.mov');
  const still = path.join(dir, 'still.jpg');
  return timed(() => {
    // trim to a file the way most recipes do it: -ss after -i (output seeking decodes from the start)
    ffmpeg(['-i', i.file, '-ss', String(start), '-t', '3', ...encodeArgsFor(i), clip]);
    ffmpeg(['-ss', String(start + stillTime), '-i', i.file, '-frames:v', '1', '-q:v', '2', still]);
    execFileSync(EXIFTOOL, ['-q', '-overwrite_original', `-Keys:ContentIdentifier=8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6`, clip]);
    execFileSync(EXIFTOOL, ['-q', '-overwrite_original', '-Make=Apple', '-DateTimeOriginal=2025:01:01 00:00:00', still]);
  });
}

function lowerBound(i: Input, start: number): { ms: number; cpuMs: number } {
  const dir = path.join(WORK, 'lower');
  fs.mkdirSync(dir, { recursive: true });
  return measured(() => ffmpeg(['-ss', String(start), '-t', '3', '-i', i.file, ...encodeArgsFor(i), path.join(dir, 'clip.mov')]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f1 = (ms: number) => (ms / 1000).toFixed(2).padStart(7);
const r2 = (x: number) => x.toFixed(2);

function main(): void {
  fs.mkdirSync(WORK, { recursive: true });
  for (const i of inputs) ensureInput(i);
  const rows: Array<{
    input: Input;
    auto: number;
    fixed: number;
    naive: number;
    lower: number;
    rss: number;
    start: number;
    still: number;
    autoStages: Record<string, number>;
    fixedStages: Record<string, number>;
    base?: number;
    baseStages?: Record<string, number>;
    warm: number;
    /** each round's own ratios (a round's variants ran back to back): less exposed to drift than ratios of medians */
    paired: { auto: number[]; fixed: number[]; base: number[] };
    /** CPU ms, medians: auto, fixed, lower bound, baseline auto */
    cpu: { auto: number; fixed: number; lower: number; base?: number };
  }> = [];
  for (const i of inputs) {
    const autoMs: number[] = [];
    const fixedMs: number[] = [];
    const naiveMs: number[] = [];
    const lowerMs: number[] = [];
    let rss = 0;
    let plan = { start: 0, stillTime: 0 };
    const autoStages: Array<Record<string, number>> = [];
    const fixedStages: Array<Record<string, number>> = [];
    const baseMs: number[] = [];
    const baseStages: Array<Record<string, number>> = [];
    const warmMs: number[] = [];
    const cpu = { auto: [] as number[], fixed: [] as number[], lower: [] as number[], base: [] as number[] };
    for (let r = 0; r < RUNS; r++) {
      // interleaved, so drift on a noisy machine hits every variant alike
      const a = engine(i);
      plan = { start: a.start, stillTime: a.stillTime };
      autoMs.push(a.ms);
      cpu.auto.push(a.cpuMs ?? NaN);
      autoStages.push(a.stages);
      warmMs.push(a.warmMs ?? 0);
      rss = Math.max(rss, a.maxRssMB);
      const f = engine(i, { start: plan.start, keyFrame: plan.start + plan.stillTime });
      fixedMs.push(f.ms);
      cpu.fixed.push(f.cpuMs ?? NaN);
      fixedStages.push(f.stages);
      rss = Math.max(rss, f.maxRssMB);
      naiveMs.push(naive(i, plan.start, plan.stillTime));
      const lower = lowerBound(i, plan.start);
      lowerMs.push(lower.ms);
      cpu.lower.push(lower.cpuMs);
      if (BASELINE) {
        const b = engine(i, undefined, BASELINE);
        baseMs.push(b.ms);
        cpu.base.push(b.cpuMs ?? NaN);
        baseStages.push(b.stages);
      }
      process.stderr.write(`  ${i.name} run ${r + 1}/${RUNS} done\n`);
    }
    const stageMedians = (runs: Array<Record<string, number>>) =>
      Object.fromEntries(Object.keys(runs[0] ?? {}).map((k) => [k, median(runs.map((r) => r[k] ?? 0))]));
    rows.push({
      input: i,
      auto: median(autoMs),
      fixed: median(fixedMs),
      naive: median(naiveMs),
      lower: median(lowerMs),
      rss,
      start: plan.start,
      still: plan.stillTime,
      autoStages: stageMedians(autoStages),
      fixedStages: stageMedians(fixedStages),
      ...(BASELINE ? { base: median(baseMs), baseStages: stageMedians(baseStages) } : {}),
      warm: median(warmMs),
      paired: {
        auto: autoMs.map((ms, k) => ms / lowerMs[k]),
        fixed: fixedMs.map((ms, k) => ms / lowerMs[k]),
        base: baseMs.map((ms, k) => ms / lowerMs[k]),
      },
      cpu: {
        auto: median(cpu.auto),
        fixed: median(cpu.fixed),
        lower: median(cpu.lower),
        ...(BASELINE ? { base: median(cpu.base) } : {}),
      },
    });
  }

  const lines: string[] = [];
  lines.push(`engine benchmark — ${RUNS} run(s) per variant, medians, seconds; node ${process.version}, ${require('node:os').cpus().length} cores`);
  lines.push('input          | engine auto | engine fixed |   naive | lower bound | auto/naive | auto/lower | fixed/lower | peak RSS (node)');
  for (const r of rows) {
    lines.push(
      `${r.input.name.padEnd(14)} | ${f1(r.auto)}     | ${f1(r.fixed)}      | ${f1(r.naive)} | ${f1(r.lower)}     | ${r2(r.auto / r.naive).padStart(10)} | ${r2(r.auto / r.lower).padStart(10)} | ${r2(r.fixed / r.lower).padStart(11)} | ${r.rss.toFixed(0)} MB`,
    );
  }
  const short = rows[0];
  const long = rows[2];
  lines.push(`long source: engine auto ${r2(long.auto / short.auto)}× the 10 s source (target ≤ 1.30); fixed ${r2(long.fixed / short.fixed)}×`);
  const tot = (k: 'auto' | 'naive' | 'lower' | 'fixed') => rows.reduce((s, r) => s + r[k], 0);
  lines.push(`all inputs: auto/naive ${r2(tot('auto') / tot('naive'))} (target ≤ 0.60), auto/lower ${r2(tot('auto') / tot('lower'))} (target ≤ 1.15), fixed/lower ${r2(tot('fixed') / tot('lower'))}`);
  lines.push(
    'once per process, before the first conversion (not in the columns above): fluent-ffmpeg\'s format and encoder checks ' +
      rows.map((r) => `${r.input.name} ${f1(r.warm).trim()} s (${r2(r.warm / r.lower)})`).join(', '),
  );
  const spread = (xs: number[]) => `${r2(median(xs))} (${r2(Math.min(...xs))}–${r2(Math.max(...xs))})`;
  lines.push('per round / that round\'s lower bound: median (min–max) — auto | fixed' + (BASELINE ? ' | baseline auto' : ''));
  for (const r of rows) {
    lines.push(`  ${r.input.name.padEnd(14)} ${spread(r.paired.auto)} | ${spread(r.paired.fixed)}` + (BASELINE ? ` | ${spread(r.paired.base)}` : ''));
  }
  lines.push(
    'CPU seconds of the conversion and every process it ran (medians, user + system; the cost per conversion on a ' +
      'busy worker), and / lower bound: auto | fixed | lower bound' + (BASELINE ? ' | baseline auto' : ''),
  );
  const cpuCell = (ms: number, lower: number) => (Number.isNaN(ms) ? '   n/a (build before cpuMs)' : `${f1(ms)} (${r2(ms / lower)})`);
  for (const r of rows) {
    lines.push(
      `  ${r.input.name.padEnd(14)} ${cpuCell(r.cpu.auto, r.cpu.lower)} | ${cpuCell(r.cpu.fixed, r.cpu.lower)} | ${f1(r.cpu.lower)}` +
        (r.cpu.base !== undefined ? ` | ${cpuCell(r.cpu.base, r.cpu.lower)}` : ''),
    );
  }
  lines.push('per stage (medians, seconds, and / lower bound): probe | plan | render | pair');
  const stageCell = (st: Record<string, number>, lower: number, k: string) => `${f1(st[k] ?? 0)} (${r2((st[k] ?? 0) / lower)})`;
  for (const r of rows) {
    for (const [label, st] of [['auto ', r.autoStages], ['fixed', r.fixedStages]] as const) {
      lines.push(`  ${r.input.name.padEnd(14)} ${label} | ${['probe', 'plan', 'render', 'pair'].map((k) => stageCell(st, r.lower, k)).join(' | ')}`);
    }
  }
  if (BASELINE) {
    lines.push(`baseline: automatic mode of ${BASELINE}, interleaved in the same rounds`);
    for (const r of rows) {
      lines.push(
        `  ${r.input.name.padEnd(14)} baseline auto ${f1(r.base!)} | baseline/lower ${r2(r.base! / r.lower)} | auto/baseline ${r2(r.auto / r.base!)} | ` +
          ['probe', 'plan', 'render', 'pair'].map((k) => `${k} ${stageCell(r.baseStages!, r.lower, k)}`).join(' | '),
      );
    }
  }
  lines.push(`peak RSS of the node process: max ${Math.max(...rows.map((r) => r.rss)).toFixed(0)} MB (target < 200 MB)`);
  process.stdout.write(lines.join('\n') + '\n');
}

main();
