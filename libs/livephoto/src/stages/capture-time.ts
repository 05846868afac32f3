import tzLookup from '@photostructure/tz-lookup';
import type { GpsPosition, PlanWarning, SourceInfo } from '../types';

/**
 * Capture times arrive as ISO 8601 strings from the source (`2025-01-01T11:06:46+0900` from Apple's
 * creationdate key, `2025-01-01T02:11:23.000000Z` from creation_time). Exif wants local wall time + an
 * offset; the MOV's creationdate wants `YYYY-MM-DDTHH:MM:SS±hhmm`.
 *
 * Only Apple's creationdate says which zone the camera was in. Android, GoPro and ffmpeg write the UTC
 * creation_time alone, which printed as is dates a 21:38 evening shot in California at 05:38 the next
 * morning. When such a clip carries a GPS position, the zone is derived offline from the position (IANA
 * zone by tz-lookup, offset at that instant by Intl, so summer time is right); without one it stays UTC
 * and convert says so (CAPTURE_TIME_UTC).
 */

/** Where the offset of a capture time comes from. */
export type CaptureZoneSource =
  /** the source states it (Apple's creationdate, `…+0100`) */
  | 'source'
  /** derived from the GPS position: IANA zone → offset at the capture instant */
  | 'gps'
  /** unknown: a UTC-only timestamp and no position; the time is given at +00:00 */
  | 'utc';

export interface CaptureTime {
  /** Exif DateTimeOriginal: 'YYYY:MM:DD HH:MM:SS' (wall time at the offset) */
  exifDateTime: string;
  /** Exif OffsetTimeOriginal: '+09:00' */
  exifOffset: string;
  /** com.apple.quicktime.creationdate: '2025-01-01T11:06:46+0900' */
  quickTimeCreationDate: string;
  /** the instant itself, whole seconds (the MOV's mvhd/tkhd/mdhd times are UTC) */
  instant: Date;
  zone: CaptureZoneSource;
  /** IANA zone the offset was derived from, e.g. 'America/New_York' (zone 'gps' only) */
  timeZone?: string;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;
/** Exif and QuickTime store whole minutes of offset (−12:00…+14:00 in practice). */
const MAX_OFFSET_MINUTES = 18 * 60;

/** Parse a source timestamp as it is: its own offset, or UTC ('utc') when it has none or says Z. */
export function parseCaptureTime(raw: string | undefined): CaptureTime | undefined {
  if (!raw) return undefined;
  const m = ISO.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  // 1904 (QuickTime's epoch) and 1970 (Unix's) are what zeroed date fields decode to: "unknown", not a date.
  if (Number(y) <= 1970) return undefined;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  // Date.UTC rolls 2025-02-30 over into March: such a field is damaged, not a date.
  if (formatWall(new Date(wall)).exif !== `${y}:${mo}:${d} ${h}:${mi}:${s}`) return undefined;
  // No zone at all: QuickTime creation_time is UTC by definition. RFC 3339's −00:00 means "offset unknown".
  const utcOnly = !zone || zone === 'Z' || /^-00:?00$/.test(zone);
  const offsetMinutes = utcOnly ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  if (Math.abs(offsetMinutes) > MAX_OFFSET_MINUTES) return undefined;
  return captureTimeAt(new Date(wall - offsetMinutes * 60_000), offsetMinutes, utcOnly ? 'utc' : 'source');
}

/**
 * A UTC-only capture time becomes local time at the GPS position (zone 'gps'); times that carry their own
 * offset, and times without a position, are returned unchanged.
 */
export function localizeCaptureTime(capture: CaptureTime, gps: GpsPosition | undefined): CaptureTime {
  if (capture.zone !== 'utc' || !gps) return capture;
  const timeZone = timeZoneAt(gps);
  if (!timeZone) return capture;
  const offsetMinutes = utcOffsetMinutes(capture.instant, timeZone);
  if (offsetMinutes === undefined) return capture;
  return { ...captureTimeAt(capture.instant, offsetMinutes, 'gps'), timeZone };
}

/** The capture time a conversion writes: the source's own offset, else the zone at its GPS position, else UTC. */
export function resolveCaptureTime(source: Pick<SourceInfo, 'captureTime' | 'gps'>): CaptureTime | undefined {
  const parsed = parseCaptureTime(source.captureTime);
  return parsed && localizeCaptureTime(parsed, source.gps);
}

/** CAPTURE_TIME_UTC when the written time could only be given in UTC. */
export function captureTimeWarnings(source: Pick<SourceInfo, 'captureTime' | 'gps'>): PlanWarning[] {
  const capture = resolveCaptureTime(source);
  if (capture?.zone !== 'utc') return [];
  return [
    {
      code: 'CAPTURE_TIME_UTC',
      message:
        `capture time ${capture.exifDateTime} is written in UTC (+00:00): the source gives no time zone and no ` +
        'GPS position to derive one from, so viewers may show it hours off the local time',
    },
  ];
}

/**
 * Of the timestamps a source carries (most trusted first), the one to keep: the first that states its
 * offset, else the first that parses, else the first as found.
 */
export function chooseCaptureTime(candidates: string[]): string | undefined {
  const parsed = candidates.map((c) => parseCaptureTime(c));
  const withOffset = parsed.findIndex((p) => p?.zone === 'source');
  if (withOffset >= 0) return candidates[withOffset];
  const valid = parsed.findIndex((p) => p !== undefined);
  return candidates[valid >= 0 ? valid : 0];
}

/** IANA zone at a position, offline (tz-lookup ships its own map); undefined for an invalid position. */
export function timeZoneAt(gps: GpsPosition): string | undefined {
  try {
    return tzLookup(gps.latitude, gps.longitude);
  } catch {
    return undefined;
  }
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * Offset of `timeZone` from UTC at `instant`, in minutes: the zone's wall clock read back with Intl (Node ships
 * full ICU, so the tz database, summer time included) minus UTC. Undefined for a zone Intl does not know.
 */
export function utcOffsetMinutes(instant: Date, timeZone: string): number | undefined {
  let format = wallClockFormats.get(timeZone);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      return undefined;
    }
    wallClockFormats.set(timeZone, format);
  }
  const part: Record<string, number> = {};
  for (const p of format.formatToParts(instant)) part[p.type] = Number(p.value);
  const wall = Date.UTC(part.year, part.month - 1, part.day, part.hour, part.minute, part.second);
  const offset = Math.round((wall - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
  // Old local mean times have second offsets (Paris 1800: +00:09:21); Exif keeps whole minutes.
  return Number.isFinite(offset) && Math.abs(offset) <= MAX_OFFSET_MINUTES ? offset : undefined;
}

/** '+05:45', '-04:00' */
export function formatOffset(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Y-M-D h:m:s of a Date read in UTC (callers shift it by the offset first). */
function formatWall(wall: Date): { exif: string; iso: string } {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const date = [String(wall.getUTCFullYear()).padStart(4, '0'), p2(wall.getUTCMonth() + 1), p2(wall.getUTCDate())];
  const time = `${p2(wall.getUTCHours())}:${p2(wall.getUTCMinutes())}:${p2(wall.getUTCSeconds())}`;
  return { exif: `${date.join(':')} ${time}`, iso: `${date.join('-')}T${time}` };
}

function captureTimeAt(instant: Date, offsetMinutes: number, zone: CaptureZoneSource): CaptureTime {
  const wholeSeconds = new Date(Math.floor(instant.getTime() / 1000) * 1000);
  const wall = formatWall(new Date(wholeSeconds.getTime() + offsetMinutes * 60_000));
  const offset = formatOffset(offsetMinutes);
  return {
    exifDateTime: wall.exif,
    exifOffset: offset,
    quickTimeCreationDate: `${wall.iso}${offset.replace(':', '')}`,
    instant: wholeSeconds,
    zone,
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
