import * as path from 'node:path';

/**
 * Live Photo pairs among the keys of a prefix listing (a `livePhotoPairs` batch: iPhone → Android in bulk). A pair is
 * one still (`.jpg|.jpeg|.heic|.heif`) and one movie (`.mov`) with the same folder and the same name before the
 * extension (`IMG_1234.HEIC` + `IMG_1234.MOV`; the extension's case does not matter, the name's does: S3 keys are
 * case-sensitive and only same-name keys are sure to be listed next to each other). Other keys (`.AAE` edit
 * sidecars, `.xmp`, folder placeholders) are not items. A still or movie without its other half, or a name with two
 * stills or two movies, is an incomplete item: reported, never guessed.
 *
 * A listing comes in pages, and a pair may straddle two of them. Every key whose name shares the last key's
 * folder and its name up to the first `.` (`dir/IMG_1234.`) is listed contiguously (S3 lists in byte order), so
 * those keys are held back (`carry`) and grouped with the next page; the carry is bounded (MAX_PAIR_CARRY keys of
 * one such prefix: beyond that they are grouped where they are).
 */
export const PAIR_STILL_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.heic', '.heif']);
export const PAIR_MOVIE_EXTENSIONS: ReadonlySet<string> = new Set(['.mov']);
export const MAX_PAIR_CARRY = 64;

export type PairItem = { kind: 'pair'; still: string; movie: string } | { kind: 'incomplete'; key: string; reason: string };

export interface PairPage {
  items: PairItem[];
  /** keys to put in front of the next page's (only when there is a next page) */
  carry: string[];
}

function roleOf(key: string): 'still' | 'movie' | undefined {
  if (key.endsWith('/')) return undefined;
  const ext = path.posix.extname(key).toLowerCase();
  if (PAIR_STILL_EXTENSIONS.has(ext)) return 'still';
  if (PAIR_MOVIE_EXTENSIONS.has(ext)) return 'movie';
  return undefined;
}

/** `dir/` + the base name up to and including its first `.`: the keys sharing it are contiguous in a listing. */
function contiguousPrefix(key: string): string {
  const slash = key.lastIndexOf('/');
  const dot = key.indexOf('.', slash + 1);
  return dot < 0 ? key : key.slice(0, dot + 1);
}

/** The group a key pairs within: its folder and its name without the last extension. */
function groupOf(key: string): string {
  return key.slice(0, key.length - path.posix.extname(key).length);
}

/**
 * Pairs one page: `carried` (the previous page's carry) followed by `listed` (this page, in listing order);
 * `more` = another page follows.
 */
export function pairListedKeys(carried: readonly string[], listed: readonly string[], more: boolean, maxCarry = MAX_PAIR_CARRY): PairPage {
  let keys = [...carried, ...listed].filter((k) => roleOf(k) !== undefined);
  let carry: string[] = [];
  if (more && keys.length) {
    const tail = contiguousPrefix(keys[keys.length - 1]);
    let i = keys.length;
    while (i > 0 && keys[i - 1].startsWith(tail)) i--;
    if (keys.length - i <= maxCarry) {
      carry = keys.slice(i);
      keys = keys.slice(0, i);
    }
  }
  const groups = new Map<string, { stills: string[]; movies: string[] }>();
  for (const key of keys) {
    const g = groups.get(groupOf(key)) ?? { stills: [], movies: [] };
    groups.set(groupOf(key), g);
    (roleOf(key) === 'still' ? g.stills : g.movies).push(key);
  }
  const items: PairItem[] = [];
  for (const [name, g] of groups) {
    const base = path.posix.basename(name);
    if (g.stills.length === 1 && g.movies.length === 1) {
      items.push({ kind: 'pair', still: g.stills[0], movie: g.movies[0] });
      continue;
    }
    const reason =
      g.movies.length === 0
        ? `no ${base}.MOV beside it: not a Live Photo pair`
        : g.stills.length === 0
          ? `no still (${base}.HEIC or .JPG) beside it: not a Live Photo pair`
          : `${g.stills.length} still(s) and ${g.movies.length} movie(s) are named ${base}: which belong together is not guessed`;
    for (const key of [...g.stills, ...g.movies]) items.push({ kind: 'incomplete', key, reason });
  }
  return { items, carry };
}
