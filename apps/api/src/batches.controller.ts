import { Body, Controller, Get, Headers, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard, Tenant } from './auth';
import { BatchesService, type BatchView } from './batches.service';
import { BATCH_VIEW_SCHEMA, ERROR_SCHEMA, QUEUE_UNAVAILABLE_RESPONSE, TENANT_KEY_REQUIRED_RESPONSE, STORAGE_SCOPE_RESPONSE, SUBMIT_UNAVAILABLE_RESPONSE } from './openapi';
import { createBatchSchema, jsonSchemaOf, parseBody, parseIdempotencyKey } from './schemas';

@ApiTags('batches')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or unknown API key', schema: ERROR_SCHEMA })
@ApiResponse(TENANT_KEY_REQUIRED_RESPONSE)
@ApiResponse(QUEUE_UNAVAILABLE_RESPONSE)
@UseGuards(ApiKeyGuard)
@Controller('v1/batches')
export class BatchesController {
  constructor(private readonly batches: BatchesService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Convert every key under a prefix (listed page by page) or a list of sources' })
  @ApiBody({ schema: jsonSchemaOf(createBatchSchema) })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'same key + same tenant → the same batch (kept 24 h)' })
  @ApiResponse({
    status: 202,
    description: '`total` is present for an items batch; a prefix batch learns it while listing',
    schema: { type: 'object', properties: { id: { type: 'string' }, total: { type: 'integer' } } },
  })
  @ApiResponse({ status: 400, description: '`INVALID_REQUEST` (invalid body) or `INVALID_KEY` (an unusable key or prefix)', schema: ERROR_SCHEMA })
  @ApiResponse(STORAGE_SCOPE_RESPONSE)
  @ApiResponse(SUBMIT_UNAVAILABLE_RESPONSE)
  create(
    @Tenant() tenant: string,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<{ id: string; total?: number }> {
    const key = parseIdempotencyKey(idempotencyKey);
    return this.batches.create(tenant, parseBody(createBatchSchema, body), key);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Batch status and counts per conversion status' })
  @ApiResponse({ status: 200, schema: BATCH_VIEW_SCHEMA })
  @ApiResponse({ status: 404, schema: ERROR_SCHEMA })
  get(@Tenant() tenant: string, @Param('id') id: string): Promise<BatchView> {
    return this.batches.get(tenant, id);
  }
}
