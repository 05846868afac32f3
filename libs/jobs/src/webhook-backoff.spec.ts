import { loadConfig } from '@vid2live/config';
import { webhookEventId, webhookRetryDelay } from './index';

describe('webhook retry schedule', () => {
  it('doubles from the base and stops at the cap', () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4].map((n) => webhookRetryDelay(n, 5_000, 3_600_000, mid))).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(webhookRetryDelay(30, 5_000, 3_600_000, mid)).toBe(3_600_000);
  });

  it('keeps jitter within ±10 %', () => {
    expect(webhookRetryDelay(3, 1_000, 60_000, () => 0)).toBe(3_600);
    expect(webhookRetryDelay(3, 1_000, 60_000, () => 1)).toBe(4_400);
  });

  it('spans about a day with the default configuration', () => {
    const cfg = loadConfig('cli', {});
    let total = 0;
    for (let n = 1; n < cfg.WEBHOOK_MAX_ATTEMPTS; n++) total += webhookRetryDelay(n, cfg.WEBHOOK_BACKOFF_MS, cfg.WEBHOOK_BACKOFF_MAX_MS, () => 0.5);
    expect(total / 3_600_000).toBeGreaterThan(20);
    expect(total / 3_600_000).toBeLessThan(30);
  });

  it('derives a stable event id per subject and event type', () => {
    expect(webhookEventId('cnv_abc', 'conversion.completed')).toBe('msg_cnv_abc.completed');
    expect(webhookEventId('bat_x', 'batch.completed')).toBe('msg_bat_x.completed');
  });
});
