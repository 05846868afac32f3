import { LivePhotoError } from '@vid2live/errors';

/**
 * Storage faults that are not "the source is missing". `retryable` tells the worker whether BullMQ should try again
 * (S3 5xx, throttling, network) or give up (access denied, bad request).
 */
export type StorageErrorCode = 'STORAGE_UNAVAILABLE' | 'STORAGE_ACCESS_DENIED' | 'STORAGE_FAILED';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: StorageErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

/** True for the SDK's (or a local file's) "no such object/bucket". */
export function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    NOT_FOUND_NAMES.has(err?.name ?? '') || err?.$metadata?.httpStatusCode === 404 || err?.code === 'ENOENT'
  );
}

/**
 * Maps an SDK/filesystem error to the project's typed errors: missing → final `SOURCE_NOT_FOUND`
 * (when reading a source), 5xx/throttling/network → retryable, 4xx → final.
 */
export function mapStorageError(e: unknown, what: string, opts: { readingSource?: boolean } = {}): Error {
  if (e instanceof StorageError || e instanceof LivePhotoError) return e;
  const err = e as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  if (isNotFound(e)) {
    if (opts.readingSource) {
      return new LivePhotoError('SOURCE_NOT_FOUND', `${what}: not found`, undefined, { cause: e });
    }
    return new StorageError('STORAGE_FAILED', `${what}: not found`, false, { cause: e });
  }
  const status = err?.$metadata?.httpStatusCode;
  if (status === 403 || err?.name === 'AccessDenied') {
    return new StorageError('STORAGE_ACCESS_DENIED', `${what}: access denied`, false, { cause: e });
  }
  const network = NETWORK_CODES.has(err?.code ?? '') || err?.name === 'TimeoutError' || err?.name === 'AbortError';
  if (network || (status !== undefined && (status >= 500 || status === 429)) || status === undefined) {
    // No HTTP status at all means the request never got an answer: treat as transient.
    return new StorageError('STORAGE_UNAVAILABLE', `${what}: ${err?.name ?? err?.code ?? 'error'} ${err?.message ?? ''}`.trim(), true, {
      cause: e,
    });
  }
  return new StorageError('STORAGE_FAILED', `${what}: HTTP ${status} ${err?.name ?? ''}`.trim(), false, { cause: e });
}
