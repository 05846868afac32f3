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
  'INVALID_OPTIONS',
  'INVALID_CONTAINER',
  'CANCELED',
]);

export class LivePhotoError extends Error {
  override readonly name = 'LivePhotoError';
  constructor(
    readonly code: LivePhotoErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message ?? LIVE_PHOTO_ERROR_CODES[code], options);
  }

  /** True when the same input may succeed on another try (tooling or I/O trouble, not the input). */
  get retryable(): boolean {
    return !FINAL_ERROR_CODES.has(this.code);
  }

  toJSON(): { code: LivePhotoErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isLivePhotoError(e: unknown): e is LivePhotoError {
  return e instanceof LivePhotoError;
}

/** Throws CANCELED when the signal has fired; call between stages and inside long loops. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new LivePhotoError('CANCELED');
}
