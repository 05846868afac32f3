import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLivePhotoError } from '@vid2live/errors';
import { convertLivePhotoPair } from '@vid2live/livephoto/sources/live-photo-pair';

/**
 * `vid2live motion-photo`: Live Photo pairs (NAME.JPG|HEIC + NAME.MOV side by side) → Google Motion Photos
 * (NAME.MP.jpg), the iPhone → Android direction, for files and folders (recursively, sub-folders kept).
 */
const STILL_EXTENSIONS = new Set(['.jpg', '.jpeg', '.heic', '.heif']);
const MOVIE_EXTENSIONS = new Set(['.mov']);

export interface FoundPair {
  still: string;
  movie: string;
  /** output path without extension, relative to the output folder */
  outputStem: string;
}

export interface PairDiscovery {
  pairs: FoundPair[];
  /** a still or a movie without its other half, or any other file */
  unpaired: string[];
}

/**
 * Pairs files by folder and name (case-insensitive: `IMG_1.HEIC` + `IMG_1.mov`). A name with two stills (or two
 * movies) is ambiguous: none of its files is paired. Explicit files are paired among themselves the same way.
 */
export async function discoverPairs(inputs: string[], outputDir: string): Promise<PairDiscovery> {
  const outAbs = path.resolve(outputDir);
  const groups = new Map<string, { stills: string[]; movies: string[]; others: string[]; rel: string }>();
  const add = (file: string, rel: string) => {
    const ext = path.extname(file).toLowerCase();
    const key = path.join(path.dirname(file), path.basename(file, path.extname(file))).toLowerCase();
    const g = groups.get(key) ?? { stills: [], movies: [], others: [], rel };
    groups.set(key, g);
    if (STILL_EXTENSIONS.has(ext)) g.stills.push(file);
    else if (MOVIE_EXTENSIONS.has(ext)) g.movies.push(file);
    else g.others.push(file);
  };
  for (const input of inputs) {
    const abs = path.resolve(input);
    const st = await fs.stat(abs).catch(() => undefined);
    if (st?.isDirectory()) {
      for (const file of (await walk(abs, outAbs)).sort()) add(file, stripExt(path.relative(abs, file)));
    } else {
      add(abs, stripExt(path.basename(abs)));
    }
  }
  const pairs: FoundPair[] = [];
  const unpaired: string[] = [];
  const used = new Set<string>();
  for (const g of [...groups.values()].sort((a, b) => a.rel.localeCompare(b.rel))) {
    unpaired.push(...g.others);
    if (g.stills.length === 1 && g.movies.length === 1) {
      let stem = g.rel;
      for (let n = 2; used.has(stem.toLowerCase()); n++) stem = `${g.rel}-${n}`;
      used.add(stem.toLowerCase());
      pairs.push({ still: g.stills[0], movie: g.movies[0], outputStem: stem });
    } else {
      unpaired.push(...g.stills, ...g.movies);
    }
  }
  return { pairs, unpaired };
}

function stripExt(p: string): string {
  const ext = path.extname(p);
  return ext ? p.slice(0, -ext.length) : p;
}

async function walk(dir: string, exclude: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.name.startsWith('.') || full === exclude) continue;
    if (e.isDirectory()) out.push(...(await walk(full, exclude)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

export interface MotionPhotoRunItem {
  still: string;
  movie: string;
  status: 'done' | 'failed';
  output?: string;
  presentationTimestampUs?: number;
  warnings?: Array<{ code: string; message: string }>;
  error?: { code: string; message: string };
}

export interface MotionPhotoRunSummary {
  done: number;
  failed: number;
  unpaired: string[];
  items: MotionPhotoRunItem[];
}

/** Converts every pair found, one at a time; a pair that fails fails alone, with its typed code. */
export async function runMotionPhoto(
  inputs: string[],
  opts: { output: string; signal?: AbortSignal },
  log: (line: string) => void,
): Promise<MotionPhotoRunSummary> {
  const { pairs, unpaired } = await discoverPairs(inputs, opts.output);
  const items: MotionPhotoRunItem[] = [];
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'vid2live-motion-photo-'));
  try {
    for (const p of pairs) {
      if (opts.signal?.aborted) break;
      try {
        const r = await convertLivePhotoPair(
          {
            still: p.still,
            movie: p.movie,
            outputDir: path.join(opts.output, path.dirname(p.outputStem)),
            baseName: path.basename(p.outputStem),
            workDir: work,
          },
          { signal: opts.signal },
        );
        items.push({ still: p.still, movie: p.movie, status: 'done', output: r.motionPhotoPath, presentationTimestampUs: r.presentationTimestampUs, warnings: r.warnings });
        log(`✓ ${p.outputStem}: ${r.motionPhotoPath}${r.warnings.length ? ` (${r.warnings.map((w) => w.code).join(', ')})` : ''}`);
      } catch (e) {
        const error = isLivePhotoError(e) ? { code: e.code, message: e.message } : { code: 'INTERNAL_ERROR', message: (e as Error).message };
        items.push({ still: p.still, movie: p.movie, status: 'failed', error });
        log(`✗ ${p.outputStem}: ${error.code}: ${error.message}`);
      }
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  return { done: items.filter((i) => i.status === 'done').length, failed: items.filter((i) => i.status === 'failed').length, unpaired, items };
}
