import { conversionRetryDelay } from './index';

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
