import {
  CONVERSION_ATTEMPTS,
  CONVERSION_BACKOFF_TYPE,
  DEFAULT_OUTAGE_BACKOFF,
  batchExpandJobOptions,
  conversionJobOptions,
  conversionRetryDelay,
  isLastAttempt,
} from './index';

describe('conversionRetryDelay', () => {
  it('waits minutes for an unreachable source or storage, seconds for other transient faults', () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4].map((n) => conversionRetryDelay(n, 'SOURCE_UNAVAILABLE', mid))).toEqual([15_000, 30_000, 60_000, 120_000]);
    expect(conversionRetryDelay(4, 'STORAGE_UNAVAILABLE', mid)).toBe(120_000);
    expect(conversionRetryDelay(10, 'SOURCE_UNAVAILABLE', mid)).toBe(300_000); // capped
    expect([1, 2, 3, 4].map((n) => conversionRetryDelay(n, 'FFMPEG_FAILED', mid))).toEqual([2_000, 4_000, 8_000, 16_000]);
    expect(conversionRetryDelay(1, undefined, mid)).toBe(2_000);
  });

  it('spreads throttled jobs by ±10 %', () => {
    expect(conversionRetryDelay(1, 'SOURCE_UNAVAILABLE', () => 0)).toBe(13_500);
    expect(conversionRetryDelay(1, 'SOURCE_UNAVAILABLE', () => 1)).toBe(16_500);
  });
});

describe('conversion retry budget', () => {
  const mid = () => 0.5;

  it('waits out a few minutes of outage: ten attempts spanning ~28 min by default', () => {
    expect(conversionJobOptions.attempts).toBe(CONVERSION_ATTEMPTS);
    expect(batchExpandJobOptions.attempts).toBe(CONVERSION_ATTEMPTS);
    expect(batchExpandJobOptions.backoff).toMatchObject({ type: CONVERSION_BACKOFF_TYPE });
    const waits = Array.from({ length: CONVERSION_ATTEMPTS - 1 }, (_, i) => conversionRetryDelay(i + 1, 'STORAGE_UNAVAILABLE', mid));
    expect(waits).toEqual([15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000, 300_000]);
    expect(waits.reduce((a, b) => a + b, 0) / 60_000).toBeGreaterThan(25);
  });

  it('gives an outage every attempt of the job, other transient faults five', () => {
    expect(isLastAttempt(3, 10, 'SOURCE_UNAVAILABLE')).toBe(false);
    expect(isLastAttempt(8, 10, 'STORAGE_UNAVAILABLE')).toBe(false);
    expect(isLastAttempt(9, 10, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect(isLastAttempt(3, 10, 'FFMPEG_FAILED')).toBe(false);
    expect(isLastAttempt(4, 10, 'FFMPEG_FAILED')).toBe(true);
    expect(isLastAttempt(4, 10, undefined)).toBe(true);
    // jobs enqueued before the budget grew (attempts: 5) keep their own limit
    expect(isLastAttempt(4, 5, 'SOURCE_UNAVAILABLE')).toBe(true);
    expect(isLastAttempt(0, 1, 'SOURCE_UNAVAILABLE')).toBe(true);
  });

  it('takes a shorter outage backoff from config (tests), never below what is configured', () => {
    const fast = { baseMs: 500, maxMs: 2_000 };
    expect([1, 2, 3, 4].map((n) => conversionRetryDelay(n, 'SOURCE_UNAVAILABLE', mid, fast))).toEqual([500, 1_000, 2_000, 2_000]);
    expect(conversionRetryDelay(1, 'FFMPEG_FAILED', mid, fast)).toBe(2_000);
    expect(DEFAULT_OUTAGE_BACKOFF).toEqual({ baseMs: 15_000, maxMs: 300_000 });
  });
});
