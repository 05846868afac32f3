import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Metric objects shared by the api (which serves /metrics) and the worker (which records stage timings and
 * deliveries). One registry per process; import these objects, never create a second metric of the same name.
 */
export const metricsRegistry = new Registry();

let defaultsStarted = false;
/** Process metrics (CPU, memory, event loop lag); call once at start-up. */
export function collectProcessMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  collectDefaultMetrics({ register: metricsRegistry, prefix: 'vid2live_' });
}

export const stageDuration = new Histogram({
  name: 'vid2live_stage_duration_seconds',
  help: 'Duration of each conversion stage (probe, plan, render, pair, motion-photo, upload)',
  labelNames: ['stage'] as const,
  // From a 50 ms plan to a many-minute render of a large source.
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
  registers: [metricsRegistry],
});

export const conversionsTotal = new Counter({
  name: 'vid2live_conversions_total',
  help: 'Conversions that ended, by result (completed, failed, canceled) and error code',
  labelNames: ['result', 'code'] as const,
  registers: [metricsRegistry],
});

export const webhookDeliveriesTotal = new Counter({
  name: 'vid2live_webhook_deliveries_total',
  help: 'Webhook delivery attempts by result (delivered, retry, failed, refused)',
  labelNames: ['result'] as const,
  registers: [metricsRegistry],
});
