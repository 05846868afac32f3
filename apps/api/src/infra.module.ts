import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { FlowProducer, Queue } from 'bullmq';
import Redis from 'ioredis';
import { loadConfig, type AppConfig } from '../../../libs/config/src';
import { QUEUES } from '../../../libs/jobs/src';
import { ApiKeyAuth, ApiKeyGuard } from './auth';
import { StorageGateway } from './storage.gateway';
import { APP_CONFIG, REDIS } from './tokens';

/**
 * The producer side of the queues. The API only adds jobs and reads counts; it never runs a processor.
 * One ioredis connection is shared by the record store and every Queue (producers may share; only
 * workers need their own blocking connections).
 */
@Injectable()
export class Queues implements OnApplicationShutdown {
  readonly conversions: Queue;
  readonly batches: Queue;
  readonly webhooks: Queue;
  readonly flows: FlowProducer;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(REDIS) private readonly redis: Redis) {
    const opts = { connection: redis, prefix: config.QUEUE_PREFIX };
    this.conversions = new Queue(QUEUES.conversions, opts);
    this.batches = new Queue(QUEUES.batches, opts);
    this.webhooks = new Queue(QUEUES.webhooks, opts);
    this.flows = new FlowProducer(opts);
  }

  all(): Queue[] {
    return [this.conversions, this.batches, this.webhooks];
  }

  /** Queues first, then the connection they share (BullMQ leaves a shared connection open). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.all().map((q) => q.close()), this.flows.close()]);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [
    // main.ts validates first and exits on a bad value; this re-read is then known to succeed.
    { provide: APP_CONFIG, useFactory: (): AppConfig => loadConfig('api') },
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Redis => {
        const log = new Logger('redis');
        const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, connectTimeout: 5_000 });
        // ioredis reconnects by itself; without a listener an unreachable Redis would crash the process.
        redis.on('error', (e: Error) => log.warn(`redis: ${e.message}`));
        return redis;
      },
    },
    Queues,
    StorageGateway,
    ApiKeyAuth,
    ApiKeyGuard,
  ],
  exports: [APP_CONFIG, REDIS, Queues, StorageGateway, ApiKeyAuth, ApiKeyGuard],
})
export class InfraModule {}
