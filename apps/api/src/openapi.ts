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
