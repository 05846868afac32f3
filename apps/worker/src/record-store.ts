import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import { RecordStore as JobRecordStore } from '@vid2live/jobs/record-store';
import { APP_CONFIG, REDIS } from './tokens';

export { ENDED, OutputNameExhaustedError, RecordConflictError } from '@vid2live/jobs/record-store';

/** The shared record store (libs/jobs), injectable into the worker's processors. */
@Injectable()
export class RecordStore extends JobRecordStore {
  constructor(@Inject(REDIS) redis: Redis, @Inject(APP_CONFIG) config: Pick<AppConfig, 'QUEUE_PREFIX' | 'RECORD_TTL_SECONDS'>) {
    super(redis, config);
  }
}
