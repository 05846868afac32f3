import { scrubSecrets } from '@vid2live/config/redact';
import { LivePhotoError } from '@vid2live/errors';
import { StorageError } from '@vid2live/storage/errors';
import { TargetForbiddenError, TargetResolveError } from '@vid2live/webhooks/target-guard';

/**
 * How a failed read of a source becomes a typed error. One mapping for every way a source is read (S3 SDK,
 * pinned HTTP): missing → SOURCE_NOT_FOUND, refused → SOURCE_ACCESS_DENIED (both final), throttled / 5xx /
 * network / timeout → SOURCE_UNAVAILABLE (retryable, with the worker's longer backoff). Every message names the
 * source by `describeSource` (no query string, no user-info) and goes through the project's one scrubber.
 */

/** `https://host/path` without user-info or query (a presigned query is a bearer credential). */
export function describeUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return scrubSecrets(String(url));
  }
}

export function sourceError(
  code: 'SOURCE_NOT_FOUND' | 'SOURCE_ACCESS_DENIED' | 'SOURCE_UNAVAILABLE' | 'SOURCE_EMPTY' | 'SOURCE_TOO_LARGE' | 'INPUT_NOT_MEDIA',
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): LivePhotoError {
  return new LivePhotoError(code, scrubSecrets(message), details, cause === undefined ? undefined : { cause });
}

/** An HTTP status other than 2xx/3xx from the source's server. */
export function httpStatusError(status: number, name: string): LivePhotoError {
  const details = { httpStatus: status };
  if (status === 404 || status === 410) return sourceError('SOURCE_NOT_FOUND', `${name}: HTTP ${status}, the source does not exist`, details);
  if (status === 401 || status === 403) return sourceError('SOURCE_ACCESS_DENIED', `${name}: HTTP ${status}, access to the source was refused`, details);
  if (status >= 500 || status === 429 || status === 408 || status === 425) {
    return sourceError('SOURCE_UNAVAILABLE', `${name}: HTTP ${status}, the source's server cannot answer right now`, details);
  }
  return sourceError('SOURCE_NOT_FOUND', `${name}: HTTP ${status}, the source cannot be fetched`, details);
}

const TLS_TRUST_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID)/;

/** Anything thrown while reading a source → its typed error (already-typed errors pass through, scrubbed). */
export function toSourceError(e: unknown, name: string): Error {
  if (e instanceof LivePhotoError) {
    if (e.message === scrubSecrets(e.message)) return e;
    return new LivePhotoError(e.code, scrubSecrets(e.message), e.details, { cause: e.cause });
  }
  if (e instanceof TargetForbiddenError) return e;
  if (e instanceof TargetResolveError) return sourceError('SOURCE_UNAVAILABLE', `${name}: ${e.message}`, undefined, e);
  if (e instanceof StorageError) {
    if (e.code === 'STORAGE_ACCESS_DENIED') return sourceError('SOURCE_ACCESS_DENIED', e.message, undefined, e);
    if (e.retryable) return sourceError('SOURCE_UNAVAILABLE', e.message, undefined, e);
    return sourceError('SOURCE_NOT_FOUND', e.message, undefined, e);
  }
  const err = e as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  if (TLS_TRUST_CODES.test(code)) {
    return sourceError('SOURCE_ACCESS_DENIED', `${name}: the server's TLS certificate is not trusted (${code})`, undefined, e);
  }
  const what = code || (typeof err?.name === 'string' ? err.name : 'error');
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return sourceError('SOURCE_UNAVAILABLE', `${name}: ${what} ${message}`.trim(), undefined, e);
}
