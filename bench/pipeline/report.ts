import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LONG_DURATION, LONG_START, mb, mean, median, ROUNDS, sec, type Layout, type LongSourceId } from './context';
import type { CpuSplit, EmbeddedResult } from './embedded';
import { INPUT_COUNT } from './media';
import { attributeGets } from './opens';
import type { PipelineResult, ProxiedResult } from './pipeline';
import { ROOT } from './processes';

/** The benchmark's printed report: the runs table, ratios against the targets, CPU split, read patterns. */

export type Run = { kind: 'embedded'; round: number; r: EmbeddedResult } | { kind: 'pipeline'; round: number; layout: Layout; r: PipelineResult };

export interface ReportInput {
  cores: number;
  /** the pipeline layouts timed (workers × WORKER_CONCURRENCY), in --layouts order */
  layouts: Layout[];
  runs: Run[];
  clips: string[];
  inputBytes: number;
  short: ProxiedResult;
  longSources: LongSourceResult[];
}

/** One 10-minute source and its proxied conversions (fixed start first, then auto). */
export interface LongSourceResult {
  id: LongSourceId;
  file: string;
  size: number;
  /** how it was made, for the heading */
  recipe: string;
  results: ProxiedResult[];
}

export function formatReport({ cores, layouts, runs, clips, inputBytes, short, longSources }: ReportInput): string {
  const L: string[] = [];
  if (runs.length) formatRuns(L, cores, layouts, runs, inputBytes);
  else L.push(`pipeline benchmark, --bytes-only (proxied byte measurements, no timing rounds) — ${new Date().toISOString()}; node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? '?'})`);
  formatShort(L, clips, short);
  for (const src of longSources) formatLongSource(L, src);
  formatSummary(L, longSources);
  return L.join('\n') + '\n';
}

function formatRuns(L: string[], cores: number, layouts: Layout[], runs: Run[], inputBytes: number): void {
  const embRuns = runs.flatMap((x) => (x.kind === 'embedded' ? [x] : []));
  const pipeOf = (l: Layout) => runs.flatMap((x) => (x.kind === 'pipeline' && x.layout.label === l.label ? [x] : []));
  const jpm = (ms: number) => INPUT_COUNT / (ms / 60_000);
  const otherCores = (c: CpuSplit) => Math.max(0, c.machineMs - c.ownMs) / c.windowMs;
  const cpuPerJob = (c: CpuSplit) => c.ownMs / 1000 / INPUT_COUNT;
  const names = ['E', ...layouts.map((l) => l.label)];
  const orders = names.length > 2 ? `${names.join(' ')} / ${[...names].reverse().join(' ')}` : 'E P / P E';
  L.push(`pipeline benchmark — ${new Date().toISOString()}; node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? '?'}), ${ROUNDS} round(s), order ${orders} alternating`);
  L.push(`inputs: ${INPUT_COUNT} clips 1280x720 30 fps 6 s H.264 ~8 Mb/s + AAC, ${mb(inputBytes)} MB in all`);
  L.push(`pipeline layouts: ${layouts.map((l) => `${l.label} = ${l.workers} worker process(es) × WORKER_CONCURRENCY=${l.concurrency}`).join('; ')}; ffmpeg -threads not set (ffmpeg's own default)`);
  L.push('"CPU s/job" = CPU time of the benchmark\'s own process tree (CLI, or api + workers + s3rver in this process; with their');
  L.push('ffmpeg/exiftool children) / 20; "other load" = CPU the rest of the machine used meanwhile, in cores (0 = quiet machine).');
  L.push('');
  L.push('run                | wall (s) | jobs/min | mean s/job | CPU s/job | other load | ok    | outputs');
  L.push('-------------------|----------|----------|------------|-----------|------------|-------|------------------------');
  for (const x of runs) {
    if (x.kind === 'embedded') {
      const r = x.r;
      const meanFile = mean(r.summary.files.map((f) => f.seconds));
      L.push(
        `${`embedded #${x.round}`.padEnd(18)} | ${sec(r.ms).padStart(8)} | ${jpm(r.ms).toFixed(1).padStart(8)} | ${meanFile.toFixed(2).padStart(10)} | ${cpuPerJob(r.cpu).toFixed(2).padStart(9)} | ${otherCores(r.cpu).toFixed(2).padStart(10)} | ${`${r.summary.converted}/${INPUT_COUNT}`.padEnd(5)} | local files`,
      );
    } else {
      const r = x.r;
      L.push(
        `${`pipeline ${x.layout.label} #${x.round}`.padEnd(18)} | ${sec(r.ms).padStart(8)} | ${jpm(r.ms).toFixed(1).padStart(8)} | ${(r.meanActiveSec ?? NaN).toFixed(2).padStart(10)} | ${cpuPerJob(r.cpu).toFixed(2).padStart(9)} | ${otherCores(r.cpu).toFixed(2).padStart(10)} | ${`${r.batch.counts.completed}/${INPUT_COUNT}`.padEnd(5)} | ${r.jpg} .JPG + ${r.mov} .MOV in S3`,
      );
    }
  }
  const embMs = median(embRuns.map((x) => x.r.ms));
  const ref = layouts.find((l) => l.label === '2x1');

  // per layout: medians, throughput per core, CPU, what limits it, and ratios within this run
  L.push('');
  L.push(`per variant (medians over ${ROUNDS} round(s); ratios are wall-time ratios, > 1 = slower; "busy cores" = CPU s/job × jobs/s of the bench's own tree):`);
  L.push(`variant      | median wall (s) | jobs/min | jobs/min/core | mean s/job | CPU s/job | busy cores (own) | other load | ÷ embedded | ÷ 2x1`);
  L.push(`-------------|-----------------|----------|---------------|------------|-----------|------------------|------------|------------|------`);
  type Row = { label: string; ms: number; meanJob: number; cpu: number; other: number; perRoundEmb: number[]; perRoundRef: number[] };
  const byRound = (xs: Array<{ round: number; r: { ms: number } }>, round: number) => xs.find((x) => x.round === round)?.r.ms;
  const rounds = Array.from({ length: ROUNDS }, (_, i) => i + 1);
  const perRound = (xs: Array<{ round: number; r: { ms: number } }>, base: Array<{ round: number; r: { ms: number } }>) =>
    rounds.flatMap((k) => {
      const a = byRound(xs, k);
      const b = byRound(base, k);
      return a !== undefined && b !== undefined ? [a / b] : [];
    });
  const refRuns = ref ? pipeOf(ref) : [];
  const rows: Row[] = [
    {
      label: 'embedded',
      ms: embMs,
      meanJob: median(embRuns.map((x) => mean(x.r.summary.files.map((f) => f.seconds)))),
      cpu: median(embRuns.map((x) => cpuPerJob(x.r.cpu))),
      other: mean(embRuns.map((x) => otherCores(x.r.cpu))),
      perRoundEmb: [],
      perRoundRef: ref ? perRound(embRuns, refRuns) : [],
    },
    ...layouts.map((l) => {
      const xs = pipeOf(l);
      return {
        label: `pipeline ${l.label}`,
        ms: median(xs.map((x) => x.r.ms)),
        meanJob: median(xs.map((x) => x.r.meanActiveSec ?? NaN)),
        cpu: median(xs.map((x) => cpuPerJob(x.r.cpu))),
        other: mean(xs.map((x) => otherCores(x.r.cpu))),
        perRoundEmb: perRound(xs, embRuns),
        perRoundRef: ref ? perRound(xs, refRuns) : [],
      };
    }),
  ];
  const refMs = ref ? median(refRuns.map((x) => x.r.ms)) : NaN;
  for (const row of rows) {
    const busy = row.cpu * (INPUT_COUNT / (row.ms / 1000));
    L.push(
      `${row.label.padEnd(12)} | ${sec(row.ms).padStart(15)} | ${jpm(row.ms).toFixed(1).padStart(8)} | ${(jpm(row.ms) / cores).toFixed(2).padStart(13)} | ${row.meanJob.toFixed(2).padStart(10)} | ${row.cpu.toFixed(2).padStart(9)} | ${`${busy.toFixed(2)} of ${cores}`.padStart(16)} | ${row.other.toFixed(2).padStart(10)} | ${(row.ms / embMs).toFixed(3).padStart(10)} | ${ref ? (row.ms / refMs).toFixed(3) : '—'}`,
    );
  }
  L.push('per-round wall ratios (same round, so drift between rounds cancels):');
  for (const row of rows.slice(1)) {
    L.push(
      `  ${row.label}: ÷ embedded ${row.perRoundEmb.map((v) => v.toFixed(3)).join(', ')}${ref ? `; ÷ 2x1 ${row.perRoundRef.map((v) => v.toFixed(3)).join(', ')}` : ''}`,
    );
  }
  L.push('what limits throughput (busy cores = own CPU s/job × jobs/s; + other load = the machine):');
  for (const row of rows) {
    const busy = row.cpu * (INPUT_COUNT / (row.ms / 1000));
    const total = busy + row.other;
    const verdict =
      total >= 0.9 * cores
        ? `CPU-bound: ${(total / cores * 100).toFixed(0)} % of ${cores} cores busy`
        : `not CPU-bound: ${(total / cores * 100).toFixed(0)} % of ${cores} cores busy, ${(cores - total).toFixed(2)} core(s) idle on average (serial stages / waiting)`;
    L.push(`  ${row.label.padEnd(12)} ${busy.toFixed(2)} own + ${row.other.toFixed(2)} other = ${total.toFixed(2)} cores → ${verdict}`);
  }

  // the target is stated for the default layout (2 workers × 1), or the first one timed
  const head = ref ?? layouts[0];
  const pipeRuns = pipeOf(head);
  const pipeMs = median(pipeRuns.map((x) => x.r.ms));
  const ratio = pipeMs / embMs;
  const cpuRatio = mean(pipeRuns.map((x) => x.r.cpu.ownMs)) / mean(embRuns.map((x) => x.r.cpu.ownMs));
  L.push('');
  L.push(`embedded: median ${sec(embMs)} s = ${jpm(embMs).toFixed(1)} jobs/min; pipeline ${head.label}: median ${sec(pipeMs)} s = ${jpm(pipeMs).toFixed(1)} jobs/min`);
  L.push(`overhead ratio pipeline ${head.label}/embedded (wall, medians): ${ratio.toFixed(3)} (target ≤ 1.10) → ${ratio <= 1.1 ? 'met' : 'MISSED'}`);
  if (ROUNDS > 1) L.push(`  per round: ${perRound(pipeRuns, embRuns).map((v) => v.toFixed(3)).join(', ')}`);
  L.push(`CPU ratio pipeline ${head.label}/embedded (own process trees): ${cpuRatio.toFixed(3)}`);
  {
    const per = (xs: CpuSplit[], f: (c: CpuSplit) => number) => (mean(xs.map(f)) / 1000 / INPUT_COUNT).toFixed(2);
    const e = embRuns.map((x) => x.r.cpu);
    const media = (c: CpuSplit) => c.ownMs - c.nodeMs - c.benchMs;
    L.push(`CPU s/job by part — embedded: ffmpeg+exiftool ${per(e, media)}, node (CLI) ${per(e, (c) => c.nodeMs)}`);
    for (const l of layouts) {
      const p = pipeOf(l).map((x) => x.r.cpu);
      L.push(
        `  pipeline ${l.label}: ffmpeg+exiftool ${per(p, media)}, node (api + ${l.workers} worker(s)) ${per(p, (c) => c.nodeMs)}, s3rver + polling (bench process) ${per(p, (c) => c.benchMs)}`,
      );
    }
  }
  const p1 = pipeRuns[0].r;
  L.push(
    `pipeline detail (${head.label} #1): first job active ${p1.firstStartMs !== null ? sec(p1.firstStartMs) : '?'} s after POST; batch status "completed" at ${p1.msUntilStatusCompleted !== null ? sec(p1.msUntilStatusCompleted) : '?'} s; ` +
      `counts ${JSON.stringify(p1.batch.counts)}${p1.batch.failures ? `; failures ${JSON.stringify(p1.batch.failures)}` : ''}`,
  );
}

function formatShort(L: string[], clips: string[], short: ProxiedResult): void {
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
}

const srcGets = (l: ProxiedResult) => l.sourceGets.filter((e) => e.method === 'GET');
const srcRead = (l: ProxiedResult) => srcGets(l).reduce((s, e) => s + e.responseBytes, 0);

/** The table of one 10-minute source, each GET (with the open it served), and the bytes per open. */
function formatLongSource(L: string[], src: LongSourceResult): void {
  L.push('');
  L.push(`10-minute source: ${path.relative(ROOT, src.file)}, ${mb(src.size)} MB (${src.recipe})`);
  L.push('conversion                | status    | wall (s) | source bytes read  | % of source | GETs on source | uploads (outputs)');
  L.push('--------------------------|-----------|----------|--------------------|-------------|----------------|------------------');
  for (const l of src.results) {
    L.push(
      `${l.label.padEnd(25)} | ${l.view.status.padEnd(9)} | ${sec(l.ms).padStart(8)} | ${`${mb(srcRead(l))} MB`.padStart(18)} | ${`${((srcRead(l) / src.size) * 100).toFixed(2)} %`.padStart(11)} | ${String(srcGets(l).length).padStart(14)} | ${mb(l.bytes.uploadRequestBytes)} MB in ${l.bytes.uploadRequests} PUT/POST`,
    );
  }
  for (const l of src.results) {
    L.push('');
    L.push(`  ${l.label} (${mb(src.size)} MB source): ${l.view.status}`);
    if (l.view.error) L.push(`  error: ${l.view.error.code}: ${l.view.error.message}`);
    if (l.view.result) L.push(`  result: still at ${l.view.result.stillTime.toFixed(3)} s; warnings [${l.view.result.warnings.map((w) => w.code).join(', ')}]`);
    L.push(`  all GET response bytes during the job: ${mb(l.bytes.getResponseBytes)} MB; other responses ${l.bytes.otherResponseBytes} B; ${l.bytes.requests} requests`);
    const { shares, perGet } = attributeGets(l.sourceGets, l.opens);
    const t0 = l.sourceGets[0]?.startMs ?? 0;
    L.push('    open  method status range                     bytes        at (s)');
    l.sourceGets.forEach((e, i) => {
      L.push(
        `    ${perGet[i].padEnd(5)} ${e.method.padEnd(4)}   ${String(e.status).padEnd(3)}    ${(e.range ?? '(no range)').padEnd(24)} ${String(e.responseBytes).padStart(11)} B  ${((e.startMs - t0) / 1000).toFixed(2).padStart(6)}${e.aborted ? '  closed early by the client' : ''}`,
      );
    });
    const total = srcRead(l) || 1;
    L.push(`    bytes per open (a GET counts for the ffmpeg/ffprobe running when it arrived; /proc polled every 10 ms):`);
    for (const s of shares) {
      L.push(
        `    ${s.label.padEnd(26)} ${String(s.gets).padStart(3)} GETs ${`${mb(s.bytes)} MB`.padStart(10)} ${`${((s.bytes / total) * 100).toFixed(0)} %`.padStart(5)} of read, ${`${((s.bytes / src.size) * 100).toFixed(2)} %`.padStart(7)} of source  ${s.detail}`,
      );
    }
  }
}

/** One line per source × case, and the target on the fixed-start case of each source. */
function formatSummary(L: string[], longSources: LongSourceResult[]): void {
  if (!longSources.length) return;
  L.push('');
  L.push('summary: bytes read from S3 for a 3 s Live Photo from a 10-minute source');
  L.push('source            | case                      | status    | source size | bytes read | % of source | GETs');
  L.push('------------------|---------------------------|-----------|-------------|------------|-------------|-----');
  for (const src of longSources) {
    for (const l of src.results) {
      L.push(
        `${`${src.id} (${path.basename(src.file)})`.slice(0, 17).padEnd(17)} | ${l.label.padEnd(25)} | ${l.view.status.padEnd(9)} | ${`${mb(src.size)} MB`.padStart(11)} | ${`${mb(srcRead(l))} MB`.padStart(10)} | ${`${((srcRead(l) / src.size) * 100).toFixed(2)} %`.padStart(11)} | ${String(srcGets(l).length).padStart(4)}`,
      );
    }
  }
  for (const src of longSources) {
    const head = src.results[0];
    if (!head) continue;
    const share = srcRead(head) / src.size;
    L.push(
      `bytes read / source size, ${mb(src.size)} MB source (start ${LONG_START} s, ${LONG_DURATION} s clip): ${(share * 100).toFixed(2)} % (target ≤ 10 %) → ${share <= 0.1 && head.view.status === 'completed' ? 'met' : 'MISSED'}`,
    );
  }
}
