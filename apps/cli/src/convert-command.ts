import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MultiBar, Presets, SingleBar } from 'cli-progress';
import {
  conversionFingerprint,
  convertToLivePhoto,
  inspectLivePhoto,
  isLivePhotoError,
  LivePhotoError,
  makeOutputDir,
  outputPaths,
  pvtPackagePath,
  readPairFingerprint,
  writePvtMetadata,
  type ConvertOptions,
  type PlanWarning,
  type StageProgress,
} from '@vid2live/livephoto';
import { outputWriteError } from '@vid2live/errors';
import { createMediaTools } from '@vid2live/media';
import { discoverSources, type DiscoveredSource } from './discover';
import { isMotionPhotoFile } from '@vid2live/livephoto/sources/motion-photo-layout';

const cliMediaTools = createMediaTools();

export interface ConvertCommandOptions {
  output: string;
  convert: ConvertOptions;
  concurrency: number;
  json: boolean;
  /** show progress bars (TTY) instead of plain lines */
  tty: boolean;
  /** write each pair into a `NAME.pvt/` package (still + MOV + metadata.plist, makelive's layout) */
  pvt?: boolean;
  signal?: AbortSignal;
}

export type FileOutcome =
  | {
      source: string;
      status: 'converted' | 'skipped';
      still: string;
      movie: string;
      motionPhoto?: string;
      /** with `--pvt`: the NAME.pvt folder holding the pair and metadata.plist */
      package?: string;
      contentIdentifier: string;
      stillTime: number;
      warnings: PlanWarning[];
      /** how the clip and the still were chosen (empty for a pair kept from an earlier run) */
      reasons: string[];
      /** why a pair already in OUT was replaced (absent when there was none, or it was kept) */
      redone?: string;
      seconds: number;
    }
  | { source: string; status: 'failed'; error: { code: string; message: string }; seconds: number };

export interface ConvertSummary {
  /** the run could not start or failed as a whole (e.g. OUT on a read-only file system): exit code 2 */
  error?: { code: string; message: string };
  total: number;
  converted: number;
  skipped: number;
  failed: number;
  skippedNonVideo: string[];
  files: FileOutcome[];
  seconds: number;
}

const STAGE_WEIGHT: Record<string, [number, number]> = {
  probe: [0, 5],
  plan: [5, 20],
  render: [20, 85],
  pair: [85, 95],
  'motion-photo': [95, 100],
};

/** Maps a stage's percent to the file's overall percent. */
function overallPercent(p: StageProgress): number {
  const [from, to] = STAGE_WEIGHT[p.stage] ?? [0, 100];
  return Math.round(from + ((to - from) * Math.max(0, Math.min(100, p.percent))) / 100);
}

export async function runConvert(inputs: string[], opts: ConvertCommandOptions, log: (line: string) => void): Promise<ConvertSummary> {
  const started = Date.now();
  // OUTPUT_WRITE_FAILED naming the reason (read-only file system, no space, permission) when OUT cannot be made.
  await makeOutputDir(opts.output);
  // once per process, not per file: fluent-ffmpeg's format and encoder checks run while the sources are found
  cliMediaTools.warmUp();
  const { sources, skipped } = await discoverSources(inputs, opts.output);
  const outcomes: FileOutcome[] = new Array(sources.length);

  const multibar = opts.tty
    ? new MultiBar(
        {
          format: ' {bar} {percentage}% | {name} | {stage}',
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
          barsize: 24,
        },
        Presets.shades_classic,
      )
    : undefined;
  const overall: SingleBar | undefined = multibar?.create(sources.length, 0, { name: 'all files', stage: '' }, {
    format: ' {bar} {value}/{total} files | {name} {stage}',
  });
  const note = (line: string) => (multibar ? multibar.log(line + '\n') : log(line));

  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= sources.length || opts.signal?.aborted) return;
      const src = sources[i];
      const bar = multibar?.create(100, 0, { name: path.basename(src.sourcePath), stage: 'starting' });
      const outcome = await convertOne(src, opts, (p) => bar?.update(overallPercent(p), { stage: p.stage }));
      outcomes[i] = outcome;
      if (bar) multibar!.remove(bar);
      overall?.increment(1, { stage: `(${outcomes.filter((o) => o?.status === 'failed').length} failed)` });
      note(describeOutcome(outcome));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, sources.length || 1)) }, worker));
  // log() lines are written on the next redraw: force one so the last file's line is not lost.
  multibar?.update();
  multibar?.stop();

  const done = outcomes.filter(Boolean);
  return {
    total: sources.length,
    converted: done.filter((o) => o.status === 'converted').length,
    skipped: done.filter((o) => o.status === 'skipped').length,
    failed: done.filter((o) => o.status === 'failed').length,
    skippedNonVideo: skipped,
    files: done,
    seconds: (Date.now() - started) / 1000,
  };
}

async function convertOne(
  src: DiscoveredSource,
  opts: ConvertCommandOptions,
  onProgress: (p: StageProgress) => void,
): Promise<FileOutcome> {
  const t0 = Date.now();
  const seconds = () => (Date.now() - t0) / 1000;
  const baseName = path.basename(src.outputStem);
  const parentDir = path.join(opts.output, path.dirname(src.outputStem));
  // --pvt: the pair goes inside OUT/…/NAME.pvt/ under its usual names, with metadata.plist beside it.
  const outputDir = opts.pvt ? pvtPackagePath(parentDir, baseName) : parentDir;
  const packaged = async (): Promise<{ package?: string }> => {
    if (!opts.pvt) return {};
    await writePvtMetadata(outputDir);
    return { package: outputDir };
  };
  // A Motion Photo keeps its own JPEG as the still and writes no Motion Photo: its pair is NAME.JPG + NAME.MOV.
  const motionPhotoSource = await isMotionPhotoFile(src.sourcePath);
  const expected = outputPaths(outputDir, baseName, motionPhotoSource ? { ...opts.convert, still: 'jpeg', motionPhoto: false } : opts.convert);
  try {
    // Resumable: a pair from an earlier run is kept only if it is valid and was made from these very source
    // bytes with these options (its MOV records the fingerprint); a name alone proves nothing.
    const fingerprint = await sourceFingerprint(src.sourcePath, opts);
    const decision = decideResume(await readExistingPair(expected), fingerprint);
    if (decision.keep) {
      return {
        source: src.sourcePath,
        status: 'skipped',
        still: expected.still,
        movie: expected.movie,
        ...(expected.motionPhoto ? { motionPhoto: expected.motionPhoto } : {}),
        ...(await packaged()),
        contentIdentifier: decision.contentIdentifier,
        stillTime: decision.stillTime,
        warnings: [],
        reasons: [],
        seconds: seconds(),
      };
    }
    const result = await convertToLivePhoto(
      { source: src.sourcePath, outputDir, baseName, options: opts.convert, ...(fingerprint ? { fingerprint } : {}) },
      // the engine's MediaTools port: the real ffprobe/ffmpeg/heif-enc of libs/media
      { signal: opts.signal, onProgress, media: cliMediaTools },
    );
    return {
      source: src.sourcePath,
      status: 'converted',
      still: result.stillPath,
      movie: result.moviePath,
      ...(result.motionPhotoPath ? { motionPhoto: result.motionPhotoPath } : {}),
      ...(await packaged()),
      contentIdentifier: result.contentIdentifier,
      stillTime: result.stillTime,
      warnings: result.warnings,
      reasons: result.reasons,
      ...(decision.redo ? { redone: decision.redo } : {}),
      seconds: seconds(),
    };
  } catch (e) {
    const err = asRunError(e, src.sourcePath);
    return { source: src.sourcePath, status: 'failed', error: { code: err.code, message: err.message }, seconds: seconds() };
  }
}

/**
 * The source's fingerprint (bytes + options + engine version, see libs/livephoto/src/fingerprint.ts), or
 * undefined when it cannot be read: the conversion then reports why with its own typed error.
 */
async function sourceFingerprint(source: string, opts: ConvertCommandOptions): Promise<string | undefined> {
  try {
    return await conversionFingerprint(source, opts.convert, opts.signal);
  } catch (e) {
    if (isLivePhotoError(e) && e.code === 'CANCELED') throw e;
    return undefined;
  }
}

/** What an earlier run left in OUT under the expected names. */
export interface ExistingPair {
  /** passes `inspect` */
  valid: boolean;
  contentIdentifier: string | null;
  stillTime: number | null;
  /** `com.vid2live.fingerprint` of its MOV; null when it has none */
  fingerprint: string | null;
}

export type ResumeDecision =
  | { keep: true; contentIdentifier: string; stillTime: number }
  /** `redo` says why a pair in OUT is replaced; absent when there is none */
  | { keep: false; redo?: string };

/** Undefined when some expected output is missing (nothing to resume from). */
async function readExistingPair(p: { still: string; movie: string; motionPhoto?: string }): Promise<ExistingPair | undefined> {
  const present = await Promise.all(
    [p.still, p.movie, p.motionPhoto].filter((f): f is string => !!f).map((f) => fs.stat(f).then(() => true, () => false)),
  );
  if (!present.every(Boolean)) return undefined;
  const report = await inspectLivePhoto(p.still, p.movie).catch(() => undefined);
  return {
    valid: !!report?.valid,
    contentIdentifier: report?.contentIdentifier ?? null,
    stillTime: report?.stillTime ?? null,
    fingerprint: await readPairFingerprint(p.movie),
  };
}

/** Keep a pair only when it is valid and records exactly the fingerprint this run would write. */
export function decideResume(existing: ExistingPair | undefined, fingerprint: string | undefined): ResumeDecision {
  if (!existing) return { keep: false };
  if (!existing.valid || !existing.contentIdentifier) return { keep: false, redo: 'the pair in the output folder does not pass inspect' };
  if (fingerprint === undefined) return { keep: false, redo: 'the source could not be read to check the pair against it' };
  if (existing.fingerprint === null) {
    return { keep: false, redo: 'the pair in the output folder has no vid2live fingerprint (made by an older version or another tool)' };
  }
  if (existing.fingerprint !== fingerprint) {
    return { keep: false, redo: 'the pair in the output folder was made from a different source file or with different options' };
  }
  return { keep: true, contentIdentifier: existing.contentIdentifier, stillTime: existing.stillTime ?? 0 };
}

export function describeOutcome(o: FileOutcome): string {
  if (o.status === 'failed') return `✗ ${o.source}: ${o.error.code}: ${o.error.message}`;
  const verb = o.status === 'skipped' ? '= kept (already valid)' : '✓';
  const warn = o.warnings.length ? `  [warnings: ${o.warnings.map((w) => w.code).join(', ')}]` : '';
  const redone = o.redone ? `  [redone: ${o.redone}]` : '';
  const where = o.package ? `${path.basename(o.package)}/ (` : '';
  return `${verb} ${o.source} → ${where}${path.basename(o.still)} + ${path.basename(o.movie)}${o.package ? ' + metadata.plist)' : ''}${
    o.motionPhoto ? ` + ${path.basename(o.motionPhoto)}` : ''
  } (still at ${o.stillTime.toFixed(2)} s, ${o.seconds.toFixed(1)} s)${warn}${redone}`;
}

/**
 * A typed error for anything a conversion threw: the engine's own, a write refused by the file system
 * (OUTPUT_WRITE_FAILED with the reason), or else INTERNAL_ERROR — a bug is never reported as the disk's fault.
 */
function asRunError(e: unknown, what: string): LivePhotoError {
  if (isLivePhotoError(e)) return e;
  return outputWriteError(e, what) ?? new LivePhotoError('INTERNAL_ERROR', e instanceof Error ? e.message : String(e));
}

/** The `--json` summary of a run that failed as a whole, before or outside any one file. */
export function failedRunSummary(e: unknown, started: number): ConvertSummary {
  const err = asRunError(e, 'the output folder');
  return {
    error: { code: err.code, message: err.message },
    total: 0,
    converted: 0,
    skipped: 0,
    failed: 0,
    skippedNonVideo: [],
    files: [],
    seconds: (Date.now() - started) / 1000,
  };
}

export function describeSummary(s: ConvertSummary): string[] {
  const lines = [
    `${s.total} file(s): ${s.converted} converted, ${s.skipped} already valid, ${s.failed} failed in ${s.seconds.toFixed(1)} s`,
  ];
  if (s.skippedNonVideo.length) lines.push(`${s.skippedNonVideo.length} non-video file(s) in the folders were ignored`);
  for (const f of s.files) if (f.status === 'failed') lines.push(`  failed: ${f.source} — ${f.error.code}: ${f.error.message}`);
  return lines;
}
