import type { ApiResponseOptions } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

/** Response schemas for the OpenAPI document (request bodies come from the zod schemas themselves). */
export const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
};

const OBJECT_VIEW: SchemaObject = {
  type: 'object',
  properties: { bucket: { type: 'string' }, key: { type: 'string' }, url: { type: 'string', description: 'presigned GET' } },
};

const STATUS: SchemaObject = { type: 'string', enum: ['queued', 'active', 'completed', 'failed', 'canceled'] };

export const CONVERSION_VIEW_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['id', 'status', 'progress', 'createdAt', 'finishedAt'],
  properties: {
    id: { type: 'string' },
    status: STATUS,
    progress: { type: 'object', properties: { stage: { type: 'string' }, percent: { type: 'number' } } },
    result: {
      type: 'object',
      properties: {
        contentIdentifier: { type: 'string' },
        stillTime: { type: 'number', description: 'seconds from the start of the MOV' },
        still: OBJECT_VIEW,
        video: OBJECT_VIEW,
        motionPhoto: OBJECT_VIEW,
        pvt: OBJECT_VIEW,
        warnings: { type: 'array', items: { type: 'object' } },
      },
    },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    createdAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time', nullable: true },
  },
};

const COUNT: SchemaObject = { type: 'integer', minimum: 0 };

export const BATCH_VIEW_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['id', 'status', 'total', 'counts', 'createdAt', 'finishedAt'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'active', 'completed'] },
    total: { type: 'integer', nullable: true, description: 'null while a prefix is still being listed' },
    counts: {
      type: 'object',
      properties: { queued: COUNT, active: COUNT, completed: COUNT, failed: COUNT, canceled: COUNT },
    },
    failures: {
      type: 'array',
      description: 'up to 100 failed conversions (newest first), only when there are some',
      items: { type: 'object', properties: { id: { type: 'string' }, source: { type: 'object' }, error: { type: 'object' } } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time', nullable: true },
  },
};

/** Every `/v1` call: an admin key (ADMIN_API_KEYS) is not a tenant key (ApiKeyGuard). */
export const TENANT_KEY_REQUIRED_RESPONSE: ApiResponseOptions = {
  status: 403,
  description: '`FORBIDDEN`: an admin key has no tenant; `/v1` needs a tenant key from API_KEYS',
  schema: ERROR_SCHEMA,
};

/** A submit (conversion or batch): the above, or a key / prefix outside the tenant's TENANT_STORAGE scope. */
export const STORAGE_SCOPE_RESPONSE: ApiResponseOptions = {
  status: 403,
  description:
    "`STORAGE_SCOPE_DENIED`: a source key or prefix is outside the tenant's `read` scopes, or the output prefix " +
    "outside its `write` scopes (`details` lists each path); `FORBIDDEN`: an admin key has no tenant",
  schema: ERROR_SCHEMA,
};

const RETRY_AFTER = { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer' } } };

/** Every `/v1` call needs Redis: while it cannot be reached the answer is this (QueueAvailabilityInterceptor). */
export const QUEUE_UNAVAILABLE_RESPONSE: ApiResponseOptions = {
  status: 503,
  description: '`QUEUE_UNAVAILABLE`: the job queue (Redis) cannot be reached; retry after `Retry-After` seconds',
  headers: RETRY_AFTER,
  schema: ERROR_SCHEMA,
};

/** A submit: Redis away (retry with the same `Idempotency-Key`), or a URL's host could not be checked (DNS). */
export const SUBMIT_UNAVAILABLE_RESPONSE: ApiResponseOptions = {
  status: 503,
  description:
    '`QUEUE_UNAVAILABLE` (with `Retry-After`): the job queue (Redis) cannot be reached; retry later with the same ' +
    '`Idempotency-Key`. `SERVICE_UNAVAILABLE`: a source or webhook URL could not be checked right now (DNS)',
  headers: RETRY_AFTER,
  schema: ERROR_SCHEMA,
};

const CHECK: SchemaObject = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, ms: { type: 'number' }, detail: { type: 'string' } },
};

/** `GET /health/ready`, 200 and 503 alike. */
export const READINESS_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    checks: { type: 'object', properties: { redis: CHECK, s3: CHECK, ffmpeg: CHECK } },
  },
};
