import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Every error the API returns has this body; `code` is stable, `message` is for humans. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export type ApiErrorCode =
  | 'INVALID_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'INVALID_KEY'
  | 'STORAGE_SCOPE_DENIED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SERVICE_UNAVAILABLE'
  | 'QUEUE_UNAVAILABLE'
  | 'INTERNAL';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  static invalid(message: string, details?: unknown): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, 'INVALID_REQUEST', message, details);
  }

  static notFound(what: string): ApiError {
    return new ApiError(HttpStatus.NOT_FOUND, 'NOT_FOUND', `${what} not found`);
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }
}

const CODE_BY_STATUS: Record<number, ApiErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'SERVICE_UNAVAILABLE',
};

/** Seconds a client is told to wait (`Retry-After`) when Redis cannot be reached. */
export const QUEUE_RETRY_AFTER_SECONDS = 5;

export function queueUnavailable(): ApiError {
  return new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'QUEUE_UNAVAILABLE', 'the job queue (Redis) cannot be reached right now; try again shortly');
}

const REDIS_DOWN_MESSAGES = [
  "Stream isn't writeable", // enableOfflineQueue: false while disconnected
  'Connection is closed',
  'Command timed out', // commandTimeout: Redis reachable but not answering
  'Reached the max retries per request limit',
];
/** Redis replies that mean "not now" rather than "wrong request". */
const REDIS_BUSY_REPLY = /^(LOADING|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|BUSY)\b/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True for what ioredis / BullMQ throw when Redis is down, unreachable, hung, loading or out of memory. */
export function isRedisUnavailableError(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  const message = typeof e.message === 'string' ? e.message : '';
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (REDIS_DOWN_MESSAGES.some((m) => message.includes(m))) return true;
  if (e.name === 'ReplyError' && REDIS_BUSY_REPLY.test(message)) return true;
  return typeof e.code === 'string' && NETWORK_CODES.has(e.code) && /redis|connect/i.test(`${message} ${String((e as { syscall?: unknown }).syscall ?? '')}`);
}

/** Maps anything thrown (ours, Nest's, Fastify's body-parser errors) onto `{ error: { code, message } }`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  // Redis down: a quick 503 the client can retry (with its Idempotency-Key), never a 500 after a long wait.
  if (isRedisUnavailableError(err)) return queueUnavailable();
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    const message =
      typeof res === 'string' ? res : typeof (res as { message?: unknown }).message === 'string' ? (res as { message: string }).message : err.message;
    return new ApiError(status, CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST'), message);
  }
  // Fastify errors (invalid JSON, wrong content type, body too large) carry a 4xx statusCode.
  const statusCode = (err as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return new ApiError(statusCode, CODE_BY_STATUS[statusCode] ?? 'INVALID_REQUEST', (err as Error).message);
  }
  return new ApiError(HttpStatus.INTERNAL_SERVER_ERROR, 'INTERNAL', 'internal error');
}

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const apiError = toApiError(exception);
    if (apiError.code === 'QUEUE_UNAVAILABLE') {
      void reply.header('retry-after', String(QUEUE_RETRY_AFTER_SECONDS));
      if (!(exception instanceof ApiError)) this.log.warn(`answered 503 QUEUE_UNAVAILABLE: ${(exception as Error).message}`);
    } else if (apiError.status >= 500) {
      // Only the error itself: request headers (Authorization) are never logged.
      this.log.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    void reply.status(apiError.status).header('content-type', 'application/json; charset=utf-8').send(apiError.body());
  }
}
