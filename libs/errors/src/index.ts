/**
 * Errors are values with codes. The CLI prints them, the worker decides retryable vs final from the code,
 * and the API returns them as `{ error: { code, message } }`.
 */
export const LIVE_PHOTO_ERROR_CODES = {
  // Input problems: final, never retried.
  SOURCE_NOT_FOUND: 'the source file does not exist or cannot be read',
  SOURCE_EMPTY: 'the source file is empty (0 bytes)',
  SOURCE_ACCESS_DENIED: 'the source exists but reading it was refused (HTTP 401/403, S3 AccessDenied)',
  SOURCE_TOO_LARGE: 'the source is larger than this service reads (SOURCE_URL_MAX_BYTES)',
  INPUT_NOT_MEDIA: 'the source is not an audio/video container ffprobe can read (text, subtitles and playlists are refused)',
  INPUT_IS_IMAGE: 'the source is a still image, not a video',
  INPUT_NO_VIDEO: 'the source has no video stream (audio only?)',
  INPUT_TRUNCATED: 'the source file is truncated or its container is damaged',
  INPUT_ZERO_DURATION: 'the source video has no frames / zero duration',
  INPUT_UNSUPPORTED: 'the source is a video vid2live cannot convert faithfully (e.g. Dolby Vision without a compatible base layer)',
  CLIP_TOO_SHORT: 'the source is too short to make a Live Photo from',
  PAIR_MISMATCH: 'the still and the movie carry different content identifiers: they are not one Live Photo',
  PAIR_INCOMPLETE: 'a Live Photo pair needs one still and one movie of the same name in the same folder: this key has no other half, or its name has more than one',
  INVALID_OPTIONS: 'the conversion options are invalid',
  INVALID_CONTAINER: 'a file is not a well-formed QuickTime/JPEG/HEIF container',
  // Environment / processing problems: retried with backoff.
  SOURCE_UNAVAILABLE: 'the source could not be read right now (HTTP 5xx/429, S3 SlowDown, network error or timeout)',
  FFMPEG_NOT_FOUND: 'no ffmpeg/ffprobe binary was found',
  FFMPEG_FAILED: 'ffmpeg failed while decoding or encoding',
  HEIF_ENCODER_NOT_FOUND: 'heif-enc (libheif-examples) is not installed; HEIC stills are unavailable',
  HEIF_ENCODE_FAILED: 'heif-enc failed to encode the still',
  METADATA_WRITE_FAILED: 'writing the Live Photo metadata failed',
  OUTPUT_WRITE_FAILED: 'an output file could not be written',
  CANCELED: 'the conversion was canceled',
  // Neither: a fault of vid2live itself (the message names it); reported as such, never dressed up as the input's or the disk's.
  INTERNAL_ERROR: 'vid2live failed unexpectedly (a bug, not the input): please report it with this message',
} as const;

export type LivePhotoErrorCode = keyof typeof LIVE_PHOTO_ERROR_CODES;

/** Codes that describe the input itself: retrying the same input cannot succeed. */
export const FINAL_ERROR_CODES: ReadonlySet<LivePhotoErrorCode> = new Set<LivePhotoErrorCode>([
  'SOURCE_NOT_FOUND',
  'SOURCE_EMPTY',
  'SOURCE_ACCESS_DENIED',
  'SOURCE_TOO_LARGE',
  'INPUT_NOT_MEDIA',
  'INPUT_IS_IMAGE',
  'INPUT_NO_VIDEO',
  'INPUT_TRUNCATED',
  'INPUT_ZERO_DURATION',
  'INPUT_UNSUPPORTED',
  'CLIP_TOO_SHORT',
  'PAIR_MISMATCH',
  'PAIR_INCOMPLETE',
  'INVALID_OPTIONS',
  'INVALID_CONTAINER',
  'CANCELED',
]);

export class LivePhotoError extends Error {
  override readonly name = 'LivePhotoError';
  /** set when this instance decides for itself (OUTPUT_WRITE_FAILED: a full disk may free up, a read-only one not) */
  private readonly retryableOverride?: boolean;
  constructor(
    readonly code: LivePhotoErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message ?? LIVE_PHOTO_ERROR_CODES[code], options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.retryable !== undefined) this.retryableOverride = options.retryable;
  }

  /** True when the same input may succeed on another try (tooling or I/O trouble, not the input). */
  get retryable(): boolean {
    return this.retryableOverride ?? !FINAL_ERROR_CODES.has(this.code);
  }

  toJSON(): { code: LivePhotoErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isLivePhotoError(e: unknown): e is LivePhotoError {
  return e instanceof LivePhotoError;
}

/**
 * A write that failed because of where it writes, not what: OUTPUT_WRITE_FAILED naming the reason. A full disk or
 * quota may free up (retryable); a read-only file system or a permission problem will not (final).
 */
const WRITE_ERRNOS: Record<string, { reason: string; retryable: boolean }> = {
  ENOSPC: { reason: 'no space left on device', retryable: true },
  EDQUOT: { reason: 'disk quota exceeded', retryable: true },
  EROFS: { reason: 'read-only file system', retryable: false },
  EACCES: { reason: 'permission denied', retryable: false },
  EPERM: { reason: 'operation not permitted', retryable: false },
};
/** The same reasons as ffmpeg/heif-enc print them (they write the files themselves). */
const WRITE_MESSAGES: Array<[RegExp, string]> = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/Read-only file system/i, 'EROFS'],
];

/** The errno code of `e` or of an error in its `cause` chain (≤ 5 deep); else what a tool's message says. */
export function writeErrnoOf(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code in WRITE_ERRNOS) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  const text = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return WRITE_MESSAGES.find(([re]) => re.test(text))?.[1];
}

/**
 * OUTPUT_WRITE_FAILED for a write that failed with ENOSPC/EDQUOT (retryable) or EROFS/EACCES/EPERM (final), with
 * `what` and the reason in the message (`details.errno`); undefined for any other error. Input errors are never
 * rewritten (an unreadable source stays SOURCE_NOT_FOUND).
 */
export function outputWriteError(e: unknown, what: string): LivePhotoError | undefined {
  if (isLivePhotoError(e) && (FINAL_ERROR_CODES.has(e.code) || e.code === 'OUTPUT_WRITE_FAILED')) return undefined;
  const errno = writeErrnoOf(e);
  if (!errno) return undefined;
  const { reason, retryable } = WRITE_ERRNOS[errno];
  return new LivePhotoError('OUTPUT_WRITE_FAILED', `${what}: ${reason} (${errno})`, { errno }, { cause: e, retryable });
}

/** Throws CANCELED when the signal has fired; call between stages and inside long loops. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new LivePhotoError('CANCELED');
}
