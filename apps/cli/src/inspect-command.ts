import { inspectLivePhoto, inspectMotionPhoto, inspectPvtPackage, isPvtPath, type InspectReport } from '@vid2live/livephoto';

/** A pair (still + movie), a `.pvt` package folder (its pair inside), or a Motion Photo alone. */
export async function runInspect(still: string, movie: string | undefined, options: { wallpaper?: boolean } = {}): Promise<InspectReport> {
  if (!movie && isPvtPath(still)) return inspectPvtPackage(still, options.wallpaper ? { wallpaper: true } : {});
  return movie ? inspectLivePhoto(still, movie, options.wallpaper ? { wallpaper: true } : {}) : inspectMotionPhoto(still);
}

const WALLPAPER_STATUS_LABEL = { met: 'met    ', 'not-met': 'NOT MET', unknown: 'unknown' } as const;

export function describeReport(r: InspectReport): string[] {
  const lines: string[] = [];
  const what = r.kind === 'live-photo' ? 'Apple Live Photo pair' : 'Google Motion Photo';
  lines.push(`${r.valid ? 'VALID' : 'INVALID'} ${what}`);
  for (const [label, value] of Object.entries(r.facts)) lines.push(`  ${label}: ${value}`);
  for (const e of r.errors) lines.push(`  error   ${e.code}: ${e.message}`);
  for (const w of r.warnings) lines.push(`  warning ${w.code}: ${w.message}`);
  if (r.wallpaper) {
    lines.push(`${r.wallpaper.ready ? 'WALLPAPER-READY' : 'NOT WALLPAPER-READY'} (lock-screen Live Wallpaper; ${r.wallpaper.note})`);
    for (const q of r.wallpaper.requirements) lines.push(`  ${WALLPAPER_STATUS_LABEL[q.status]} ${q.id}: ${q.detail} [${q.evidence}]`);
  }
  return lines;
}
