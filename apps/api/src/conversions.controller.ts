import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard, Tenant } from './auth';
import type { ConversionView } from '@vid2live/jobs/records';
import { ConversionsService } from './conversions.service';
import { ERROR_SCHEMA, CONVERSION_VIEW_SCHEMA, QUEUE_UNAVAILABLE_RESPONSE, TENANT_KEY_REQUIRED_RESPONSE, STORAGE_SCOPE_RESPONSE, SUBMIT_UNAVAILABLE_RESPONSE } from './openapi';
import { createConversionSchema, jsonSchemaOf, parseBody, parseIdempotencyKey } from './schemas';

@ApiTags('conversions')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or unknown API key', schema: ERROR_SCHEMA })
@ApiResponse(TENANT_KEY_REQUIRED_RESPONSE)
@ApiResponse(QUEUE_UNAVAILABLE_RESPONSE)
@UseGuards(ApiKeyGuard)
@Controller('v1/conversions')
export class ConversionsController {
  constructor(private readonly conversions: ConversionsService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue one video → Live Photo conversion' })
  @ApiBody({ schema: jsonSchemaOf(createConversionSchema) })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'same key + same tenant → the same conversion (kept 24 h)' })
  @ApiResponse({ status: 202, schema: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string', enum: ['queued'] } } } })
  @ApiResponse({ status: 400, description: '`INVALID_REQUEST` (invalid body) or `INVALID_KEY` (an unusable key or prefix)', schema: ERROR_SCHEMA })
  @ApiResponse(STORAGE_SCOPE_RESPONSE)
  @ApiResponse(SUBMIT_UNAVAILABLE_RESPONSE)
  create(
    @Tenant() tenant: string,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<{ id: string; status: 'queued' }> {
    const key = parseIdempotencyKey(idempotencyKey);
    return this.conversions.create(tenant, parseBody(createConversionSchema, body), key);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Status, progress and (when completed) the output pair with presigned URLs' })
  @ApiResponse({ status: 200, schema: CONVERSION_VIEW_SCHEMA })
  @ApiResponse({ status: 404, schema: ERROR_SCHEMA })
  get(@Tenant() tenant: string, @Param('id') id: string): Promise<ConversionView> {
    return this.conversions.get(tenant, id);
  }

  @Delete(':id')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel: a queued conversion never runs, an active one has its ffmpeg killed' })
  @ApiResponse({ status: 202, schema: CONVERSION_VIEW_SCHEMA })
  @ApiResponse({ status: 404, schema: ERROR_SCHEMA })
  @ApiResponse({ status: 409, description: 'the conversion has already ended', schema: ERROR_SCHEMA })
  cancel(@Tenant() tenant: string, @Param('id') id: string): Promise<ConversionView> {
    return this.conversions.cancel(tenant, id);
  }
}
