import { parseCaptureTime, toISO6709 } from './capture-time';

describe('parseCaptureTime', () => {
  it('keeps the offset of an Apple creationdate', () => {
    expect(parseCaptureTime('2025-01-01T11:06:46+0900')).toEqual({
      exifDateTime: '2025:01:01 11:06:46',
      exifOffset: '+09:00',
      quickTimeCreationDate: '2025-01-01T11:06:46+0900',
    });
  });
  it('treats creation_time (Z) as UTC', () => {
    expect(parseCaptureTime('2025-01-01T02:11:23.000000Z')).toEqual({
      exifDateTime: '2025:01:01 02:11:23',
      exifOffset: '+00:00',
      quickTimeCreationDate: '2025-01-01T02:11:23+0000',
    });
  });
  it('rejects garbage and the QuickTime zero date', () => {
    expect(parseCaptureTime('yesterday')).toBeUndefined();
    expect(parseCaptureTime('1904-01-01T00:00:00Z')).toBeUndefined();
    expect(parseCaptureTime('1970-01-01T00:00:00Z')).toBeUndefined();
    expect(parseCaptureTime('1971-01-01T00:00:00Z')).toBeDefined();
    expect(parseCaptureTime(undefined)).toBeUndefined();
  });
});

describe('toISO6709', () => {
  it('formats like Apple', () => {
    expect(toISO6709({ latitude: 39.999, longitude: 116.3477, altitude: 54.305 })).toBe('+39.9990+116.3477+054.305/');
    expect(toISO6709({ latitude: -33.8688, longitude: -70.5 })).toBe('-33.8688-070.5000/');
  });
});
