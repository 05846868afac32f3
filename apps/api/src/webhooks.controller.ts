import { Controller, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../libs/config/src';
import { redisKeys, webhookJobOptions, type WebhookDeliveryJobData, type WebhookDeliveryRecord } from '../../../libs/jobs/src';
import { JOB_NAMES } from '../../../libs/jobs/src/records';
import { ApiKeyGuard, Tenant } from './auth';
import { ApiError } from './errors';
import { Queues } from './infra.module';
import { ERROR_SCHEMA } from './openapi';
import { assertIdShape } from './records.store';
import { APP_CONFIG, REDIS } from './tokens';

@ApiTags('webhooks')
@ApiBearerAuth()
@ApiResponse({ status: 401, schema: ERROR_SCHEMA })
@UseGuards(ApiKeyGuard)
@Controller('v1/webhooks/deliveries')
export class WebhooksController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queues: Queues,
  ) {}

  /**
   * Sends the event again with the same `webhook-id` (receivers dedupe on it) and a fresh timestamp and
   * signature. A new BullMQ job id per replay: the original job may still sit in the completed/failed set.
   */
  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Deliver a webhook event again (same event id)' })
  @ApiResponse({ status: 202, schema: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string', enum: ['queued'] } } } })
  @ApiResponse({ status: 404, schema: ERROR_SCHEMA })
  async replay(@Tenant() tenant: string, @Param('id') id: string): Promise<{ id: string; status: 'queued' }> {
    assertIdShape(id, 'delivery');
    const raw = await this.redis.get(redisKeys.webhookDelivery(this.config.QUEUE_PREFIX, id));
    const delivery = raw ? (JSON.parse(raw) as WebhookDeliveryRecord) : undefined;
    if (!delivery || delivery.tenant !== tenant) throw ApiError.notFound('delivery');
    const data: WebhookDeliveryJobData = {
      eventId: delivery.eventId,
      tenant: delivery.tenant,
      url: delivery.url,
      type: delivery.type,
      timestamp: delivery.timestamp,
      data: delivery.data,
    };
    await this.queues.webhooks.add(JOB_NAMES.deliver, data, {
      ...webhookJobOptions(this.config),
      jobId: `${delivery.eventId}.replay.${Date.now()}`,
    });
    return { id: delivery.eventId, status: 'queued' };
  }
}
