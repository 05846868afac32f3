import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { configSecrets, type AppConfig } from '@vid2live/config';
import { redisKeys } from '@vid2live/jobs';
import { createRedis } from '@vid2live/jobs/redis';
import { RunningConversions } from './running-conversions';
import { APP_CONFIG } from './tokens';

/**
 * Every worker subscribes to the cancel channel; the one running the conversion aborts it (ffmpeg gets SIGKILL via
 * the engine's AbortSignal), the others ignore the message.
 */
@Injectable()
export class CancelListener {
  private readonly log = new Logger('cancel');
  private subscriber?: Redis;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly running: RunningConversions,
  ) {}

  async start(): Promise<void> {
    const channel = redisKeys.cancelChannel(this.config.QUEUE_PREFIX);
    const sub = createRedis(
      this.config.REDIS_URL,
      { maxRetriesPerRequest: null, lazyConnect: true },
      (m) => this.log.warn(m),
      'redis subscriber',
      configSecrets(this.config),
    );
    sub.on('message', (ch: string, id: string) => {
      if (ch !== channel) return;
      if (this.running.abort(id.trim(), 'cancel')) this.log.log(`cancel requested for ${id}: aborting`);
    });
    await sub.connect();
    // ioredis re-subscribes by itself after a reconnect.
    await sub.subscribe(channel);
    this.subscriber = sub;
  }

  async stop(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
