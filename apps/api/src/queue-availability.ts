import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import type { Observable } from 'rxjs';
import { queueUnavailable } from './errors';
import { REDIS } from './tokens';

/**
 * Every `/v1` call needs Redis (records, idempotency keys, queues). While the API's connection is not `ready`
 * (Redis down, restarting, unreachable) such a call is answered `503 QUEUE_UNAVAILABLE` at once, after
 * authentication, instead of waiting for a reconnect that may never come in time. The connection itself fails
 * fast too (`enableOfflineQueue: false`, `commandTimeout`, see infra.module.ts), so a request that was already
 * running when Redis went away ends as the same 503 (ApiExceptionFilter). Health, docs and admin views are left
 * alone: /health/ready reports Redis itself.
 */
@Injectable()
export class QueueAvailabilityInterceptor implements NestInterceptor {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    if (req?.url?.startsWith('/v1/') && this.redis.status !== 'ready') throw queueUnavailable();
    return next.handle();
  }
}
