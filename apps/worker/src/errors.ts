import { scrubSecrets } from '@vid2live/config/redact';
import { isLivePhotoError } from '@vid2live/errors';

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

/**
 * What a processor throws for BullMQ to retry: BullMQ stores its message and stack in Redis (`failedReason`,
 * `stacktrace`) and bull-board shows them, so both are scrubbed (`message` is the already-scrubbed text; the stack
 * is rewritten with the scrubber). `code` and `retryable` are kept for whoever classifies it again.
 */
export function scrubbedError(original: unknown, message: string, secrets: Iterable<string> = []): Error {
  const known = [...secrets];
  const o = (original ?? {}) as { name?: unknown; stack?: unknown; code?: unknown; retryable?: unknown };
  const err = new Error(scrubSecrets(message, known)) as Error & { code?: unknown; retryable?: unknown };
  if (typeof o.name === 'string') err.name = o.name;
  if (typeof o.stack === 'string') {
    const frames = o.stack.split('\n').filter((l) => /^\s+at /.test(l));
    err.stack = scrubSecrets([`${err.name}: ${err.message}`, ...frames].join('\n'), known);
  }
  if (o.code !== undefined) err.code = o.code;
  if (o.retryable !== undefined) err.retryable = o.retryable;
  return err;
}
