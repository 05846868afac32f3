import { Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { BatchesController } from './batches.controller';
import { BatchesService } from './batches.service';
import { ConversionsController } from './conversions.controller';
import { ConversionsService } from './conversions.service';
import { ApiExceptionFilter } from './errors';
import { HealthController } from './health.controller';
import { Idempotency } from './idempotency';
import { InfraModule } from './infra.module';
import { MetricsController, MetricsService } from './metrics.controller';
import { QueueAvailabilityInterceptor } from './queue-availability';
import { RecordStore } from './records.store';
import { StoragePolicy } from './storage-policy';
import { StudioService } from './studio/studio.service';
import { TargetPolicy } from './target-policy';
import { WebhooksController } from './webhooks.controller';

@Module({
  imports: [InfraModule],
  controllers: [ConversionsController, BatchesController, WebhooksController, HealthController, MetricsController],
  providers: [
    { provide: APP_FILTER, useClass: ApiExceptionFilter },
    { provide: APP_INTERCEPTOR, useClass: QueueAvailabilityInterceptor },
    RecordStore,
    TargetPolicy,
    StoragePolicy,
    Idempotency,
    ConversionsService,
    BatchesService,
    MetricsService,
    StudioService,
  ],
})
export class AppModule {}
