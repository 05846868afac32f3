import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { configSecrets, type AppConfig } from '@vid2live/config';
import { createRedis } from '@vid2live/jobs/redis';
import { storageFromConfig, type ObjectStorage } from '@vid2live/storage';
import { BatchProcessor } from './batch.processor';
import { CancelListener } from './cancel-listener';
import { ConversionProcessor } from './conversion.processor';
import { RecordStore } from './record-store';
import { RunningConversions } from './running-conversions';
import { StudioProcessor } from './studio.processor';
import { WorkerQueues } from './queues';
import { APP_CONFIG, REDIS, STORAGE } from './tokens';
import { WebhookEvents } from './webhook-events';
import { WebhookProcessor } from './webhook.processor';
import { WorkerHost } from './worker-host';

/** Closes what the providers opened, after WorkerHost.shutdown() has stopped the workers. */
@Injectable()
class ConnectionsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE) private readonly storage: ObjectStorage,
    private readonly host: WorkerHost,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.host.shutdown();
    await this.storage.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Module({})
export class WorkerModule {
  /** `storage` lets a test or the embedded mode pass another adapter (LocalStorage); S3 from config otherwise. */
  static forRoot(config: AppConfig, opts: { storage?: ObjectStorage } = {}): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        {
          provide: REDIS,
          useFactory: (): Redis => {
            // ioredis reconnects by itself; without a listener an unreachable Redis would crash the process. The
            // listener logs a scrubbed line and blanks the AUTH arguments ioredis attaches to the error.
            const log = new Logger('redis');
            return createRedis(config.REDIS_URL, { maxRetriesPerRequest: 3 }, (m) => log.warn(m), 'redis', configSecrets(config));
          },
        },
        { provide: STORAGE, useFactory: (): ObjectStorage => opts.storage ?? storageFromConfig(config) },
        RecordStore,
        RunningConversions,
        WorkerQueues,
        WebhookEvents,
        ConversionProcessor,
        BatchProcessor,
        WebhookProcessor,
        StudioProcessor,
        CancelListener,
        WorkerHost,
        ConnectionsCloser,
      ],
      exports: [WorkerHost, RunningConversions, STORAGE, REDIS],
    };
  }
}
