import { Controller, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type Redis from 'ioredis';
import type { AppConfig } from '@vid2live/config';
import { webhookJobOptions } from '@vid2live/jobs';
import { WebhookDeliveries } from '@vid2live/jobs/webhook-deliveries';
import { ApiKeyGuard, Tenant } from './auth';
import { ApiError } from './errors';
import { Queues } from './infra.module';
import { ERROR_SCHEMA, QUEUE_UNAVAILABLE_RESPONSE, TENANT_KEY_REQUIRED_RESPONSE } from './openapi';
import { assertIdShape } from './records.store';
import { APP_CONFIG, REDIS } from './tokens';

@ApiTags('webhooks')
@ApiBearerAuth()
@ApiResponse({ status: 401, schema: ERROR_SCHEMA })
@ApiResponse(TENANT_KEY_REQUIRED_RESPONSE)
@ApiResponse(QUEUE_UNAVAILABLE_RESPONSE)
@UseGuards(ApiKeyGuard)
@Controller('v1/webhooks/deliveries')
export class WebhooksController {
  private readonly deliveries: WebhookDeliveries;

  constructor(
    @Inject(REDIS) redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queues: Queues,
  ) {
    this.deliveries = new WebhookDeliveries(redis, config.QUEUE_PREFIX, config.RECORD_TTL_SECONDS);
  }

  /**
   * Sends the event again with the same `webhook-id` (receivers dedupe on it) and a fresh timestamp and
   * signature: a new delivery job (its own job id, registered in the delivery record as pending) that may run
   * beside a retry of the original job; both update the record by compare-and-set, so neither loses the other's
   * attempt (WebhookDeliveries, libs/jobs).
   */
  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Deliver a webhook event again (same event id)' })
  @ApiResponse({ status: 202, schema: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string', enum: ['queued'] } } } })
  @ApiResponse({ status: 404, schema: ERROR_SCHEMA })
  async replay(@Tenant() tenant: string, @Param('id') id: string): Promise<{ id: string; status: 'queued' }> {
    assertIdShape(id, 'delivery');
    const delivery = await this.deliveries.get(id);
    if (!delivery || delivery.tenant !== tenant) throw ApiError.notFound('delivery');
    await this.deliveries.replay(this.queues.webhooks, webhookJobOptions(this.config), delivery);
    return { id: delivery.eventId, status: 'queued' };
  }
}
