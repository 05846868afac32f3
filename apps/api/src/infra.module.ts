import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { FlowProducer, Queue } from 'bullmq';
import type Redis from 'ioredis';
import { configSecrets, loadConfig, type AppConfig } from '@vid2live/config';
import { QUEUES } from '@vid2live/jobs';
import { createRedis, watchRedisErrors } from '@vid2live/jobs/redis';
import type { SubmitTarget } from '@vid2live/jobs/submit';
import { AdminKeyGuard, ApiKeyAuth, ApiKeyGuard } from './auth';
import { StorageGateway } from './storage.gateway';
import { APP_CONFIG, REDIS } from './tokens';

/**
 * The producer side of the queues. The API only adds jobs and reads counts; it never runs a processor.
 * One ioredis connection is shared by the record store and every Queue (producers may share; only
 * workers need their own blocking connections). It fails fast while Redis is down (see the REDIS provider).
 */
@Injectable()
export class Queues implements OnApplicationShutdown {
  readonly conversions: Queue;
  readonly batches: Queue;
  readonly webhooks: Queue;
  /** the studio's preview jobs (analysis, frames) */
  readonly studio: Queue;
  readonly flows: FlowProducer;
  /** where libs/jobs' submit functions write records and add jobs (the one submit path) */
  readonly submitTarget: SubmitTarget;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(REDIS) private readonly redis: Redis) {
    const opts = { connection: redis, prefix: config.QUEUE_PREFIX };
    this.conversions = new Queue(QUEUES.conversions, opts);
    this.batches = new Queue(QUEUES.batches, opts);
    this.webhooks = new Queue(QUEUES.webhooks, opts);
    this.studio = new Queue(QUEUES.studio, opts);
    this.flows = new FlowProducer(opts);
    this.submitTarget = {
      redis,
      prefix: config.QUEUE_PREFIX,
      ttlSeconds: config.RECORD_TTL_SECONDS,
      conversions: this.conversions,
      batches: this.batches,
      flows: this.flows,
    };
    // Without a listener BullMQ falls back to console.error(err): the whole ioredis error, AUTH arguments included.
    const log = new Logger('queues');
    const secrets = configSecrets(config);
    for (const q of this.all()) watchRedisErrors(q, (m) => log.warn(m), `queue ${q.name}`, secrets);
    watchRedisErrors(this.flows, (m) => log.warn(m), 'flows', secrets);
  }

  all(): Queue[] {
    return [this.conversions, this.batches, this.webhooks, this.studio];
  }

  /** Queues first, then the connection they share (BullMQ leaves a shared connection open). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.all().map((q) => q.close()), this.flows.close()]);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A Redis command of the API that has no answer after this long is failed (→ 503 QUEUE_UNAVAILABLE). */
export const API_REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** How long the API waits at start for its Redis connection before it listens anyway. */
export const API_REDIS_STARTUP_WAIT_MS = 5_000;

function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    redis.once('ready', done);
  });
}

@Global()
@Module({
  providers: [
    // main.ts validates first and exits on a bad value; this re-read is then known to succeed.
    { provide: APP_CONFIG, useFactory: (): AppConfig => loadConfig('api') },
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<Redis> => {
        const log = new Logger('redis');
        // ioredis reconnects by itself; without a listener an unreachable Redis would crash the process. The
        // listener logs a scrubbed line and blanks the AUTH arguments ioredis attaches to the error.
        // Fail fast while Redis is away (the API answers 503 QUEUE_UNAVAILABLE, the client retries): no offline
        // queue (a command while disconnected is refused at once), an in-flight command given up after one
        // reconnect attempt, and a hung Redis (socket open, no answer) cut off after API_REDIS_COMMAND_TIMEOUT_MS.
        const redis = createRedis(
          config.REDIS_URL,
          { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: API_REDIS_COMMAND_TIMEOUT_MS },
          (m) => log.warn(m),
          'redis',
          configSecrets(config),
        );
        // Without an offline queue the first requests after start would be refused while the connection is still
        // being made: give it a moment before the API listens. A Redis that is down at start does not block it
        // (requests then get 503 until it answers).
        await waitUntilReady(redis, API_REDIS_STARTUP_WAIT_MS);
        return redis;
      },
    },
    Queues,
    StorageGateway,
    ApiKeyAuth,
    ApiKeyGuard,
    AdminKeyGuard,
  ],
  exports: [APP_CONFIG, REDIS, Queues, StorageGateway, ApiKeyAuth, ApiKeyGuard, AdminKeyGuard],
})
export class InfraModule {}
