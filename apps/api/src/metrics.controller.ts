import { Controller, Get, Header, Inject, Injectable, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type Redis from 'ioredis';
import { Gauge } from 'prom-client';
import type { AppConfig } from '@vid2live/config';
import { collectProcessMetrics, metricsRegistry } from '@vid2live/jobs/metrics';
import { fleetRegistry } from '@vid2live/jobs/metrics-relay';
import { AdminKeyGuard } from './auth';
import { Queues } from './infra.module';
import { APP_CONFIG, REDIS } from './tokens';

const STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;

/**
 * The shared registry (stage durations, conversions, webhook deliveries, process metrics) merged with what the
 * workers relay through Redis, plus queue depth read from Redis on every scrape, so every api replica reports the
 * same, current figure. `prioritized` is its own state because those jobs are not in the wait list (KEDA's redis
 * list scaler does not see them).
 */
@Injectable()
export class MetricsService {
  constructor(
    queues: Queues,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    collectProcessMetrics();
    // The registry is module-level: a second app instance in one process must not register the gauge twice.
    metricsRegistry.removeSingleMetric('vid2live_queue_jobs');
    new Gauge({
      name: 'vid2live_queue_jobs',
      help: 'BullMQ jobs per queue and state, read at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [metricsRegistry],
      async collect() {
        const all = await Promise.all(queues.all().map(async (q) => [q.name, await q.getJobCounts(...STATES)] as const));
        for (const [queue, counts] of all) {
          for (const state of STATES) this.set({ queue, state }, counts[state] ?? 0);
        }
      },
    });
  }

  async scrape(): Promise<string> {
    return (await fleetRegistry(this.redis, this.config.QUEUE_PREFIX)).metrics();
  }
}

@ApiExcludeController()
// Job counts and fleet timings span every tenant: scraped with an admin key (ADMIN_API_KEYS; Prometheus:
// `authorization: { credentials: <key> }`); a tenant key is 403. Only the health probes stay open.
@UseGuards(AdminKeyGuard)
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('content-type', metricsRegistry.contentType)
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
