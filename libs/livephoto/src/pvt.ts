import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inspectLivePhoto, type InspectIssue, type InspectOptions, type InspectReport } from './inspect';

/**
 * `.pvt` Live Photo packages (docs/wallpaper.md §5): a folder `NAME.pvt/` holding the still (`NAME.JPG` or
 * `NAME.HEIC`), the movie (`NAME.MOV`) and `metadata.plist` — an XML plist with the one key
 * `PFVideoComplementMetadataVersionKey` = "1", makelive's layout (RhetTbull/makelive `_make_pvt_package`). Photos
 * on macOS imports such a folder as one Live Photo; that is reported by makelive and its users, not verified here.
 */
export const PVT_EXTENSION = '.pvt';
export const PVT_METADATA_FILE = 'metadata.plist';
export const PVT_METADATA_VERSION_KEY = 'PFVideoComplementMetadataVersionKey';

/** The exact bytes vid2live writes as `metadata.plist`. */
export const PVT_METADATA_PLIST =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n' +
  '<dict>\n' +
  `\t<key>${PVT_METADATA_VERSION_KEY}</key>\n` +
  '\t<string>1</string>\n' +
  '</dict>\n' +
  '</plist>\n';

/** `DIR/NAME.pvt` */
export function pvtPackagePath(outputDir: string, baseName: string): string {
  return path.join(outputDir, `${baseName}${PVT_EXTENSION}`);
}

export function isPvtPath(p: string): boolean {
  return path.extname(p.replace(/[\\/]+$/, '')).toLowerCase() === PVT_EXTENSION;
}

/** Writes `metadata.plist` into the package folder (atomically: a temporary file renamed over it). */
export async function writePvtMetadata(packageDir: string): Promise<string> {
  const file = path.join(packageDir, PVT_METADATA_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, PVT_METADATA_PLIST, 'utf8');
  await fs.rename(tmp, file);
  return file;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (s: string) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => XML_ENTITIES[e]);

/**
 * The top-level `<dict>` of an XML plist as key → string value (non-string values are kept as their element
 * name, e.g. `<true/>` → "true"). Enough for `metadata.plist`; undefined when the text is no XML plist dict.
 */
export function parsePlistStringDict(xml: string): Record<string, string> | undefined {
  const dict = /<plist[^>]*>\s*<dict>([\s\S]*)<\/dict>\s*<\/plist>/.exec(xml);
  if (!dict) return undefined;
  const out: Record<string, string> = {};
  const re = /<key>([^<]*)<\/key>\s*(?:<(string|integer|real|date)>([^<]*)<\/\2>|<(true|false)\s*\/>|<(string|dict|array)\s*\/>)/g;
  for (let m = re.exec(dict[1]); m; m = re.exec(dict[1])) {
    out[unescapeXml(m[1])] = m[3] !== undefined ? unescapeXml(m[3]) : (m[4] ?? '');
  }
  return out;
}

export interface PvtPackage {
  dir: string;
  still?: string;
  movie?: string;
  /** metadata.plist parsed (undefined when missing or not an XML plist dict) */
  metadata?: Record<string, string>;
  /** what makes the folder no valid package (missing or extra files, bad metadata.plist) */
  errors: string[];
  /** deviations from makelive's layout that Photos may not mind (names not matching the folder) */
  warnings: string[];
}

const STILL_EXTENSIONS = new Set(['.jpg', '.jpeg', '.heic', '.heif']);
const MOVIE_EXTENSIONS = new Set(['.mov']);

/** Reads a `.pvt` folder: which still, which movie, what metadata.plist says. Never throws for a bad layout. */
export async function readPvtPackage(dir: string): Promise<PvtPackage> {
  const pkg: PvtPackage = { dir, errors: [], warnings: [] };
  let names: string[];
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isFile()).map((e) => e.name).filter((n) => !n.startsWith('.'));
  } catch (e) {
    pkg.errors.push(`${dir} is not a readable folder: ${(e as Error).message}`);
    return pkg;
  }
  const stills = names.filter((n) => STILL_EXTENSIONS.has(path.extname(n).toLowerCase()));
  const movies = names.filter((n) => MOVIE_EXTENSIONS.has(path.extname(n).toLowerCase()));
  if (stills.length !== 1) pkg.errors.push(`a .pvt package holds exactly one still (JPEG/HEIC); found ${stills.length ? stills.join(', ') : 'none'}`);
  if (movies.length !== 1) pkg.errors.push(`a .pvt package holds exactly one movie (.MOV); found ${movies.length ? movies.join(', ') : 'none'}`);
  if (stills.length) pkg.still = path.join(dir, stills[0]);
  if (movies.length) pkg.movie = path.join(dir, movies[0]);

  const plistName = names.find((n) => n === PVT_METADATA_FILE);
  if (!plistName) {
    pkg.errors.push(`${PVT_METADATA_FILE} is missing`);
  } else {
    pkg.metadata = parsePlistStringDict(await fs.readFile(path.join(dir, plistName), 'utf8'));
    if (!pkg.metadata) pkg.errors.push(`${PVT_METADATA_FILE} is not an XML property list with a dict`);
    else if (pkg.metadata[PVT_METADATA_VERSION_KEY] !== '1') {
      pkg.errors.push(`${PVT_METADATA_FILE}: ${PVT_METADATA_VERSION_KEY} must be the string "1", found ${JSON.stringify(pkg.metadata[PVT_METADATA_VERSION_KEY] ?? null)}`);
    }
  }

  const stem = (n: string) => path.basename(n, path.extname(n));
  const folderStem = stem(path.basename(dir.replace(/[\\/]+$/, '')));
  for (const n of [...stills, ...movies]) {
    if (stem(n) !== folderStem) pkg.warnings.push(`${n} is not named after the package (${folderStem}.*, as makelive writes it)`);
  }
  return pkg;
}

/**
 * `inspect NAME.pvt`: the package's layout (errors `PVT_PACKAGE_INVALID`, warnings `PVT_NAME_UNUSUAL`) plus the
 * usual pair report of the still and movie inside it.
 */
export async function inspectPvtPackage(dir: string, options: InspectOptions = {}): Promise<InspectReport> {
  const pkg = await readPvtPackage(dir);
  const errors: InspectIssue[] = pkg.errors.map((message) => ({ code: 'PVT_PACKAGE_INVALID', message }));
  const warnings: InspectIssue[] = pkg.warnings.map((message) => ({ code: 'PVT_NAME_UNUSUAL', message }));
  const packageFact = `${path.basename(dir.replace(/[\\/]+$/, ''))} (${[pkg.still, pkg.movie].filter(Boolean).map((f) => path.basename(f!)).join(' + ')}${
    pkg.metadata ? ` + ${PVT_METADATA_FILE}` : ''
  })`;
  if (!pkg.still || !pkg.movie) {
    return { kind: 'live-photo', valid: false, contentIdentifier: null, stillTime: null, facts: { package: packageFact }, errors, warnings };
  }
  const report = await inspectLivePhoto(pkg.still, pkg.movie, options);
  return {
    ...report,
    valid: report.valid && errors.length === 0,
    facts: { package: packageFact, ...report.facts },
    errors: [...errors, ...report.errors],
    warnings: [...warnings, ...report.warnings],
  };
}
