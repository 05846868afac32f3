import { realMedia } from '../testing/fixtures';
import {
  captureTimeWarnings,
  chooseCaptureTime,
  formatOffset,
  localizeCaptureTime,
  parseCaptureTime,
  resolveCaptureTime,
  timeZoneAt,
  toISO6709,
  utcOffsetMinutes,
} from './capture-time';
import { probeSource } from './probe';

/** The three strings a conversion writes, without the instant/zone bookkeeping. */
const written = (c: ReturnType<typeof parseCaptureTime>) =>
  c && { exifDateTime: c.exifDateTime, exifOffset: c.exifOffset, quickTimeCreationDate: c.quickTimeCreationDate };

describe('parseCaptureTime', () => {
  it('keeps the offset of an Apple creationdate', () => {
    const c = parseCaptureTime('2025-01-01T11:06:46+0900')!;
    expect(written(c)).toEqual({
      exifDateTime: '2025:01:01 11:06:46',
      exifOffset: '+09:00',
      quickTimeCreationDate: '2025-01-01T11:06:46+0900',
    });
    expect(c.zone).toBe('source');
    expect(c.instant.toISOString()).toBe('2025-01-01T02:06:46.000Z');
  });
  it('reads offsets with a colon, negative and non-whole-hour ones, and an explicit +0000 as stated', () => {
    expect(parseCaptureTime('2024-07-01T08:00:00-03:30')).toMatchObject({ exifOffset: '-03:30', zone: 'source' });
    expect(parseCaptureTime('2024-07-01T08:00:00-03:30')!.instant.toISOString()).toBe('2024-07-01T11:30:00.000Z');
    expect(parseCaptureTime('2024-07-01T08:00:00+0545')).toMatchObject({ exifOffset: '+05:45', zone: 'source' });
    expect(parseCaptureTime('2024-07-01T08:00:00+0000')).toMatchObject({ exifOffset: '+00:00', zone: 'source' });
  });
  it('treats creation_time (Z), a bare time and RFC 3339 -00:00 as UTC with no known zone', () => {
    const c = parseCaptureTime('2025-01-01T02:11:23.000000Z')!;
    expect(written(c)).toEqual({
      exifDateTime: '2025:01:01 02:11:23',
      exifOffset: '+00:00',
      quickTimeCreationDate: '2025-01-01T02:11:23+0000',
    });
    expect(c.zone).toBe('utc');
    expect(c.instant.toISOString()).toBe('2025-01-01T02:11:23.000Z');
    expect(parseCaptureTime('2025-01-01 02:11:23')!.zone).toBe('utc');
    expect(parseCaptureTime('2025-01-01T02:11:23-00:00')!.zone).toBe('utc');
  });
  it('rejects garbage, impossible dates and the QuickTime zero date', () => {
    expect(parseCaptureTime('yesterday')).toBeUndefined();
    expect(parseCaptureTime('2025-02-30T10:00:00Z')).toBeUndefined();
    expect(parseCaptureTime('2025-01-01T25:00:00Z')).toBeUndefined();
    expect(parseCaptureTime('1904-01-01T00:00:00Z')).toBeUndefined();
    expect(parseCaptureTime('1970-01-01T00:00:00Z')).toBeUndefined();
    expect(parseCaptureTime('1971-01-01T00:00:00Z')).toBeDefined();
    expect(parseCaptureTime(undefined)).toBeUndefined();
  });
});

describe('time zone from the GPS position', () => {
  it('finds the IANA zone offline', () => {
    expect(timeZoneAt({ latitude: 40.68, longitude: -74.5 })).toBe('America/New_York');
    expect(timeZoneAt({ latitude: 51.5335, longitude: -0.1261 })).toBe('Europe/London');
    expect(timeZoneAt({ latitude: 37.7749, longitude: -122.4194 })).toBe('America/Los_Angeles');
    expect(timeZoneAt({ latitude: 91, longitude: 0 })).toBeUndefined();
  });

  it('computes the offset at the instant, summer time included', () => {
    expect(utcOffsetMinutes(new Date('2016-05-31T17:01:35Z'), 'America/New_York')).toBe(-240); // EDT
    expect(utcOffsetMinutes(new Date('2016-01-31T17:01:35Z'), 'America/New_York')).toBe(-300); // EST
    expect(utcOffsetMinutes(new Date('2024-02-09T20:23:48Z'), 'Europe/London')).toBe(0);
    expect(utcOffsetMinutes(new Date('2024-07-09T20:23:48Z'), 'Europe/London')).toBe(60);
    expect(utcOffsetMinutes(new Date('2024-01-15T00:00:00Z'), 'Australia/Sydney')).toBe(660); // southern summer
    expect(utcOffsetMinutes(new Date('2024-01-15T00:00:00Z'), 'Asia/Kathmandu')).toBe(345);
    expect(utcOffsetMinutes(new Date('2024-01-15T00:00:00Z'), 'Not/AZone')).toBeUndefined();
    // across the spring-forward instant in New York (2024-03-10 07:00Z)
    expect(utcOffsetMinutes(new Date('2024-03-10T06:59:59Z'), 'America/New_York')).toBe(-300);
    expect(utcOffsetMinutes(new Date('2024-03-10T07:00:00Z'), 'America/New_York')).toBe(-240);
  });

  it('formats offsets the Exif way', () => {
    expect(formatOffset(-240)).toBe('-04:00');
    expect(formatOffset(0)).toBe('+00:00');
    expect(formatOffset(345)).toBe('+05:45');
    expect(formatOffset(-570)).toBe('-09:30');
  });

  it('turns a UTC-only evening shot in California into local time the day before', () => {
    const c = resolveCaptureTime({ captureTime: '2024-01-13T05:38:00.000000Z', gps: { latitude: 37.7749, longitude: -122.4194 } })!;
    expect(written(c)).toEqual({
      exifDateTime: '2024:01:12 21:38:00',
      exifOffset: '-08:00',
      quickTimeCreationDate: '2024-01-12T21:38:00-0800',
    });
    expect(c).toMatchObject({ zone: 'gps', timeZone: 'America/Los_Angeles' });
    expect(c.instant.toISOString()).toBe('2024-01-13T05:38:00.000Z');
  });

  it('never overrides an offset the source states, and leaves UTC alone without a usable position', () => {
    const stated = parseCaptureTime('2023-05-09T12:41:46+0100')!;
    expect(localizeCaptureTime(stated, { latitude: 40.68, longitude: -74.5 })).toBe(stated);
    const utc = parseCaptureTime('2023-03-16T15:26:24.000000Z')!;
    expect(localizeCaptureTime(utc, undefined)).toBe(utc);
    expect(localizeCaptureTime(utc, { latitude: 123, longitude: 0 })).toBe(utc);
  });

  it('warns CAPTURE_TIME_UTC only for a UTC-only time without a position', () => {
    expect(captureTimeWarnings({ captureTime: '2023-03-16T15:26:24.000000Z' })).toEqual([
      { code: 'CAPTURE_TIME_UTC', message: expect.stringMatching(/UTC.*no time zone and no GPS position/) },
    ]);
    expect(captureTimeWarnings({ captureTime: '2023-03-16T15:26:24.000000Z', gps: { latitude: 51.5, longitude: -0.12 } })).toEqual([]);
    expect(captureTimeWarnings({ captureTime: '2023-05-09T12:41:46+0100' })).toEqual([]);
    expect(captureTimeWarnings({})).toEqual([]);
  });
});

describe('chooseCaptureTime', () => {
  it('prefers a candidate with an offset, then any parseable one, then the first as found', () => {
    expect(chooseCaptureTime(['2024-01-13T05:38:00Z', '2024-01-12T21:38:00-0800'])).toBe('2024-01-12T21:38:00-0800');
    expect(chooseCaptureTime(['2024', '2024-01-13T05:38:00Z'])).toBe('2024-01-13T05:38:00Z');
    expect(chooseCaptureTime(['someday'])).toBe('someday');
    expect(chooseCaptureTime([])).toBeUndefined();
  });
});

describe('capture time of real phone clips (probeSource → resolveCaptureTime)', () => {
  it.each([
    // Android/ffmpeg: UTC creation_time + New Jersey position → Eastern Daylight Time
    ['sample_rotate_and_reflect.mp4', '2016:05:31 13:01:35', '-04:00', '2016-05-31T13:01:35-0400', 'gps', 'America/New_York'],
    // Android 14 in London in February: local time is UTC, but it is a derived zone, not a guess
    ['hlg10-color-test.mp4', '2024:02:09 20:23:48', '+00:00', '2024-02-09T20:23:48+0000', 'gps', 'Europe/London'],
    // iPhone: creationdate states +0100 (BST); kept as is although creation_time says 11:48:30Z
    ['dolbyVision-hdr.MOV', '2023:05:09 12:41:46', '+01:00', '2023-05-09T12:41:46+0100', 'source', undefined],
    // Android without GPS: UTC, and convert warns
    ['portrait_4k60.mp4', '2023:03:16 15:26:24', '+00:00', '2023-03-16T15:26:24+0000', 'utc', undefined],
  ])('%s → %s %s', async (file, exifDateTime, exifOffset, quickTimeCreationDate, zone, timeZone) => {
    const source = await probeSource(realMedia(file));
    const c = resolveCaptureTime(source)!;
    expect(written(c)).toEqual({ exifDateTime, exifOffset, quickTimeCreationDate });
    expect(c.zone).toBe(zone);
    expect(c.timeZone).toBe(timeZone);
    expect(captureTimeWarnings(source).map((w) => w.code)).toEqual(zone === 'utc' ? ['CAPTURE_TIME_UTC'] : []);
  });
});

describe('toISO6709', () => {
  it('formats like Apple', () => {
    expect(toISO6709({ latitude: 39.999, longitude: 116.3477, altitude: 54.305 })).toBe('+39.9990+116.3477+054.305/');
    expect(toISO6709({ latitude: -33.8688, longitude: -70.5 })).toBe('-33.8688-070.5000/');
  });
});
