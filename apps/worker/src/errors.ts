import { isLivePhotoError } from '../../../libs/livephoto/src/errors';

export interface ErrorInfo {
  code: string;
  message: string;
  /** false: the input is at fault, BullMQ must not retry (UnrecoverableError) */
  retryable: boolean;
}

/**
 * One place that decides retryable vs final. Engine errors carry the decision (`LivePhotoError.retryable`);
 * storage, target-guard and delivery errors carry `code` + `retryable`; anything else is a bug or a blip we have
 * not classified, so it is retried (and fails with code INTERNAL on the last attempt).
 */
export function classifyError(e: unknown): ErrorInfo {
  if (isLivePhotoError(e)) return { code: e.code, message: e.message, retryable: e.retryable };
  const err = e as { code?: unknown; retryable?: unknown; message?: unknown };
  if (err && typeof err.code === 'string' && typeof err.retryable === 'boolean' && /^[A-Z][A-Z0-9_]+$/.test(err.code)) {
    return { code: err.code, message: String(err.message ?? err.code), retryable: err.retryable };
  }
  // ioredis / socket errors: transient.
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), retryable: true };
}
