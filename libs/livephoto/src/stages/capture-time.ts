/**
 * Capture times arrive as ISO 8601 strings from the source (`2025-01-01T11:06:46+0900` from Apple's
 * creationdate key, `2025-01-01T02:11:23.000000Z` from creation_time). Exif wants local wall time + an
 * offset; the MOV's creationdate wants `YYYY-MM-DDTHH:MM:SS±hhmm`.
 */
export interface CaptureTime {
  /** Exif DateTimeOriginal: 'YYYY:MM:DD HH:MM:SS' (wall time at the offset) */
  exifDateTime: string;
  /** Exif OffsetTimeOriginal: '+09:00' */
  exifOffset: string;
  /** com.apple.quicktime.creationdate: '2025-01-01T11:06:46+0900' */
  quickTimeCreationDate: string;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

export function parseCaptureTime(raw: string | undefined): CaptureTime | undefined {
  if (!raw) return undefined;
  const m = ISO.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  // No zone at all: QuickTime creation_time is UTC by definition.
  const offset = !zone || zone === 'Z' ? '+00:00' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  // 1904 (QuickTime's epoch) and 1970 (Unix's) are what zeroed date fields decode to: "unknown", not a date.
  if (Number(y) <= 1970) return undefined;
  return {
    exifDateTime: `${y}:${mo}:${d} ${h}:${mi}:${s}`,
    exifOffset: offset,
    quickTimeCreationDate: `${y}-${mo}-${d}T${h}:${mi}:${s}${offset.replace(':', '')}`,
  };
}

/** ISO 6709 as Apple writes it: `+39.9990+116.3477+054.305/`. */
export function toISO6709(gps: { latitude: number; longitude: number; altitude?: number }): string {
  const sign = (v: number) => (v < 0 ? '-' : '+');
  const lat = `${sign(gps.latitude)}${Math.abs(gps.latitude).toFixed(4).padStart(7, '0')}`;
  const lon = `${sign(gps.longitude)}${Math.abs(gps.longitude).toFixed(4).padStart(8, '0')}`;
  const alt = gps.altitude === undefined ? '' : `${sign(gps.altitude)}${Math.abs(gps.altitude).toFixed(3).padStart(7, '0')}`;
  return `${lat}${lon}${alt}/`;
}
