import type Redis from 'ioredis';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { metricsRegistry } from './metrics';

/**
 * Workers serve no HTTP, yet their stage timings and webhook deliveries belong in the api's /metrics. Each worker
 * publishes its registry (prom-client's JSON form) to Redis under a key that expires unless refreshed; the api
 * merges every live worker's copy with its own at scrape time, the way prom-client aggregates a node cluster
 * (counters and histograms summed per label set). A worker that stops drops out after its key expires, which
 * Prometheus reads as a counter reset, as it would for a restarted process.
 */
export const metricsRelayKey = (prefix: string, instance: string) => `${prefix}:metrics:${instance}`;

export interface MetricsRelay {
  /** Publishes one last time (the final counts stay visible until the key expires) and stops. */
  stop(): Promise<void>;
}

/** For the worker: call once at start with a unique instance id (e.g. host name + pid). */
export function startMetricsRelay(
  redis: Redis,
  prefix: string,
  instance: string,
  { intervalMs = 10_000, registry = metricsRegistry }: { intervalMs?: number; registry?: Registry } = {},
): MetricsRelay {
  const key = metricsRelayKey(prefix, instance);
  // Three missed refreshes and the copy is gone: a dead worker does not linger in the sums.
  const publish = async () => redis.set(key, JSON.stringify(await registry.getMetricsAsJSON()), 'PX', intervalMs * 3);
  const timer = setInterval(() => void publish().catch(() => undefined), intervalMs);
  timer.unref();
  void publish().catch(() => undefined);
  return {
    async stop() {
      clearInterval(timer);
      await publish().catch(() => undefined);
    },
  };
}

/** For the api: its own registry merged with every worker's published copy. */
export async function fleetRegistry(redis: Redis, prefix: string, own: Registry = metricsRegistry): Promise<Registry> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', metricsRelayKey(prefix, '*'), 'COUNT', 500);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  const copies = keys.length ? await redis.mget(keys) : [];
  const workers = copies.filter((c): c is string => c !== null).map((c) => JSON.parse(c) as object[]);
  return AggregatorRegistry.aggregate([await own.getMetricsAsJSON(), ...workers]);
}
