import * as path from 'node:path';
import { MAX_CONVERSION_ID_LENGTH, OUTPUT_TEMP_FOLDER, defaultOutputName, stemOfName } from './scope';

export { MAX_CONVERSION_ID_LENGTH, OUTPUT_TEMP_FOLDER };

/**
 * Output names (relative to the output prefix, without extension) shared by the api (at submit) and the worker.
 * Pure: no SDK, no I/O.
 */

type NamedSource = { bucket: string; key: string } | { url: string };

/**
 * The output name of every item of an items batch, in item order, so that no two items write the same keys.
 *
 * 1. Each item starts with `defaultOutputName` (its base name without the extension).
 * 2. Items whose names clash (compared case-insensitively: a clash on macOS/Windows once downloaded is a clash)
 *    keep the source's sub-path below the folder their keys share: `a/IMG_0001.mov` + `b/IMG_0001.mov` →
 *    `a/IMG_0001` + `b/IMG_0001`; `2024/x.mov` + `x.mov` → `2024/x` + `x`. Items that do not clash keep their
 *    plain name.
 * 3. What still clashes (the same key listed twice, `x.mov` + `x.mp4` in one folder, URLs) gets `_2`, `_3`, … in
 *    item order (the first keeps the name), never a name another item already has.
 *
 * Deterministic: the same list of items always gives the same names.
 */
export function batchItemOutputNames(items: readonly NamedSource[]): string[] {
  const names = items.map((s) => defaultOutputName(s));
  const fold = (n: string) => n.toLowerCase();

  const groups = new Map<string, number[]>();
  names.forEach((n, i) => groups.set(fold(n), [...(groups.get(fold(n)) ?? []), i]));
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const keyed = members.filter((i) => 'key' in items[i]);
    const dirs = keyed.map((i) => dirSegments((items[i] as { key: string }).key));
    const common = commonLength(dirs);
    keyed.forEach((i, j) => {
      const rel = dirs[j].slice(common);
      names[i] = rel.length ? `${rel.join('/')}/${names[i]}` : names[i];
    });
  }

  const taken = new Set(names.map(fold));
  const used = new Set<string>();
  return names.map((name) => {
    if (!used.has(fold(name))) {
      used.add(fold(name));
      return name;
    }
    // Bounded: at most items.length names are taken, so a free suffix is found within items.length + 1 tries.
    for (let n = 2; n <= items.length + 1; n++) {
      const candidate = `${name}_${n}`;
      if (!taken.has(fold(candidate)) && !used.has(fold(candidate))) {
        used.add(fold(candidate));
        return candidate;
      }
    }
    throw new Error(`no free output name for ${name}`);
  });
}

/**
 * The output names a key listed by a prefix batch may take, most preferred first (each with its case-folded form,
 * the form clashes are judged by): its path below the prefix without the extension, then with it
 * (`2024/x.mp4` → `2024/x`, then `2024/x.mp4`). A listing page cannot see the other pages, so the worker claims
 * names per batch in Redis in listing order (`RecordStore.claimOutputName`): the first key keeps the plain name, a
 * later one whose plain name is taken — `x.mp4` after `x.mov`, `img.mov` after `IMG.MOV` — keeps its extension,
 * and only what clashes even then gets `_2`, `_3`, … after the last candidate.
 */
export function prefixItemOutputCandidates(rel: string): Array<{ name: string; folded: string }> {
  const stem = path.posix.join(path.posix.dirname(rel), stemOfName(path.posix.basename(rel))).replace(/^\.\//, '');
  const names = stem !== rel ? [stem, rel] : [rel];
  return names.map((name) => ({ name, folded: name.toLowerCase() }));
}

/** The folder segments of a key (empty segments from `//` or a leading `/` dropped). */
function dirSegments(key: string): string[] {
  const parts = key.split('/').filter((s) => s !== '');
  return parts.slice(0, -1);
}

function commonLength(lists: string[][]): number {
  if (!lists.length) return 0;
  let n = 0;
  for (;;) {
    const seg = lists[0][n];
    if (seg === undefined || !lists.every((l) => l[n] === seg)) return n;
    n++;
  }
}

/**
 * Where the worker uploads an output before it is published: `<prefix>.vid2live-tmp/<conversion id><suffix>`.
 * Inside the output prefix (so inside the tenant's write scope), deterministic (a retry overwrites and then
 * removes it), and the same length whatever the output name.
 */
export function outputTempKey(prefix: string, conversionId: string, suffix: string): string {
  return `${prefix}${OUTPUT_TEMP_FOLDER}${conversionId}${suffix}`;
}
