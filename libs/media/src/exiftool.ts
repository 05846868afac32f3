import { ExifTool, Tags } from 'exiftool-vendored';

/**
 * One long-lived exiftool process pool for the whole process (spawning perl per file is slow).
 * Close it on shutdown with `closeExifTool()`; the CLI, worker and tests do.
 */
let instance: ExifTool | undefined;

export function exiftool(): ExifTool {
  if (!instance) {
    instance = new ExifTool({ maxProcs: 2, taskTimeoutMillis: 60_000 });
  }
  return instance;
}

export type ExifToolTags = Tags & Record<string, unknown>;

/**
 * Read every tag with group names (`-G1`), duplicates (`-a`) and embedded/timed metadata (`-ee`),
 * e.g. `Apple:ContentIdentifier`, `Keys:ContentIdentifier`, `Track3:StillImageTime`.
 */
export async function readAllTags(file: string): Promise<Record<string, unknown>> {
  const tags = (await exiftool().read(file, { readArgs: ['-a', '-G1', '-ee', '-n'], useMWG: false })) as Record<
    string,
    unknown
  >;
  return tags;
}

export async function closeExifTool(): Promise<void> {
  const t = instance;
  instance = undefined;
  if (t) await t.end();
}
