import { inspectLivePhoto, inspectMotionPhoto, type InspectReport } from '../../../libs/livephoto/src';

export async function runInspect(still: string, movie: string | undefined): Promise<InspectReport> {
  return movie ? inspectLivePhoto(still, movie) : inspectMotionPhoto(still);
}

export function describeReport(r: InspectReport): string[] {
  const lines: string[] = [];
  const what = r.kind === 'live-photo' ? 'Apple Live Photo pair' : 'Google Motion Photo';
  lines.push(`${r.valid ? 'VALID' : 'INVALID'} ${what}`);
  for (const [label, value] of Object.entries(r.facts)) lines.push(`  ${label}: ${value}`);
  for (const e of r.errors) lines.push(`  error   ${e.code}: ${e.message}`);
  for (const w of r.warnings) lines.push(`  warning ${w.code}: ${w.message}`);
  return lines;
}
