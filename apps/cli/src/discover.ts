import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isMotionPhotoFile, MOTION_PHOTO_EXTENSIONS } from '@vid2live/livephoto/sources/motion-photo-layout';

/** Extensions we treat as videos when walking a folder. Files named explicitly are always attempted. */
export const VIDEO_EXTENSIONS = new Set([
  '.mp4', '.mov', '.m4v', '.mkv', '.webm', '.avi', '.3gp', '.3g2', '.mts', '.m2ts', '.ts', '.wmv', '.flv',
  '.mpg', '.mpeg', '.ogv', '.hevc', '.h264',
]);

export interface DiscoveredSource {
  /** absolute path of the source */
  sourcePath: string;
  /** output path without extension, relative to the output folder (keeps the input's sub-folders) */
  outputStem: string;
}

export interface Discovery {
  sources: DiscoveredSource[];
  /** files found in folders that are not videos by extension */
  skipped: string[];
}

/**
 * Expand files and folders (recursively) into sources. Output stems keep each folder's relative layout so that
 * `a/IMG.mp4` and `b/IMG.mp4` don't overwrite each other; explicitly named files that would share a stem get a
 * numeric suffix.
 */
export async function discoverSources(inputs: string[], outputDir: string): Promise<Discovery> {
  const sources: DiscoveredSource[] = [];
  const skipped: string[] = [];
  const outAbs = path.resolve(outputDir);
  const used = new Set<string>();
  const claim = (stem: string): string => {
    let candidate = stem;
    for (let n = 2; used.has(candidate.toLowerCase()); n++) candidate = `${stem}-${n}`;
    used.add(candidate.toLowerCase());
    return candidate;
  };

  for (const input of inputs) {
    const abs = path.resolve(input);
    const st = await fs.stat(abs).catch(() => undefined);
    if (st?.isDirectory()) {
      const files = await walk(abs, outAbs);
      for (const file of files.sort()) {
        const ext = path.extname(file).toLowerCase();
        // A photo is a source only when it is a Motion Photo (its video inside): checked from its header and tail.
        const isSource = VIDEO_EXTENSIONS.has(ext) || (MOTION_PHOTO_EXTENSIONS.has(ext) && (await isMotionPhotoFile(file)));
        if (!isSource) {
          skipped.push(file);
          continue;
        }
        const rel = path.relative(abs, file);
        sources.push({ sourcePath: file, outputStem: claim(stripExt(rel)) });
      }
    } else {
      // Missing or unreadable files are kept: the conversion reports SOURCE_NOT_FOUND for them.
      sources.push({ sourcePath: abs, outputStem: claim(stripExt(path.basename(abs))) });
    }
  }
  return { sources, skipped };
}

function stripExt(p: string): string {
  const ext = path.extname(p);
  const stem = ext ? p.slice(0, -ext.length) : p;
  // `PXL_….MP.jpg` (the Motion Photo file-name pattern) → `PXL_…`: the pair is PXL_….JPG + PXL_….MOV
  return MOTION_PHOTO_EXTENSIONS.has(ext.toLowerCase()) && /[^/\\]\.MP$/i.test(stem) ? stem.slice(0, -3) : stem;
}

async function walk(dir: string, exclude: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.name.startsWith('.')) continue;
    // Never re-ingest our own outputs when the output folder sits inside the input folder.
    if (full === exclude) continue;
    if (e.isDirectory()) out.push(...(await walk(full, exclude)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}
