import { Inject, Injectable, Logger } from '@nestjs/common';
import { FlowProducer, Queue } from 'bullmq';
import type Redis from 'ioredis';
import { configSecrets, type AppConfig } from '@vid2live/config';
import { QUEUES } from '@vid2live/jobs';
import { watchRedisErrors } from '@vid2live/jobs/redis';
import { APP_CONFIG, REDIS } from './tokens';

/** Producer side inside the worker: batch expansion adds children, terminal states add webhook deliveries. */
@Injectable()
export class WorkerQueues {
  readonly conversions: Queue;
  readonly batches: Queue;
  readonly webhooks: Queue;
  readonly flows: FlowProducer;
  readonly prefix: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(REDIS) redis: Redis) {
    this.prefix = config.QUEUE_PREFIX;
    const opts = { connection: redis, prefix: config.QUEUE_PREFIX };
    this.conversions = new Queue(QUEUES.conversions, opts);
    this.batches = new Queue(QUEUES.batches, opts);
    this.webhooks = new Queue(QUEUES.webhooks, opts);
    this.flows = new FlowProducer(opts);
    // Without a listener BullMQ falls back to console.error(err): the whole ioredis error, AUTH arguments included.
    const log = new Logger('queues');
    const secrets = configSecrets(config);
    for (const q of [this.conversions, this.batches, this.webhooks]) watchRedisErrors(q, (m) => log.warn(m), `queue ${q.name}`, secrets);
    watchRedisErrors(this.flows, (m) => log.warn(m), 'flows', secrets);
  }

  /** Called by the worker host after the workers have stopped (processors may still add jobs until then). */
  async close(): Promise<void> {
    await Promise.allSettled([this.conversions.close(), this.batches.close(), this.webhooks.close(), this.flows.close()]);
  }
}
