import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { LivePhotoError } from '@vid2live/errors';
import { readLivePhotoMov, VID2LIVE_KEYS } from './quicktime';
import type { ConvertOptions } from './types';

/**
 * What a pair was made from. Resuming a batch must not trust a file name: a different video saved under a
 * name converted before, or the same video with other options, needs a new pair. The fingerprint covers
 * everything that decides the output, and the pair carries it in its MOV (`com.vid2live.fingerprint` in
 * `moov/meta`), so the check needs no state beside the outputs.
 */

/**
 * Bump when the engine writes a different pair for the same source and options (encoding, colour handling,
 * metadata layout): pairs from older engines then no longer match and a resumed batch redoes them.
 */
export const ENGINE_FORMAT_VERSION = 1;

/** MOV key holding the fingerprint. */
export const FINGERPRINT_KEY = VID2LIVE_KEYS.fingerprint;

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The conversion options that shape the output, with the engine's defaults filled in and keys sorted, so an
 * omitted option and its explicit default fingerprint alike. A new output-affecting option belongs here.
 */
export function canonicalConversionOptions(options: ConvertOptions = {}): string {
  const canonical = {
    codec: options.codec ?? 'h264',
    // not defaulted: an explicit length is a request the plan reports on (the automatic one is not)
    duration: options.duration ?? null,
    keyFrame: options.keyFrame ?? 'auto',
    motionPhoto: options.motionPhoto === true,
    start: options.start ?? null,
    still: options.still ?? 'jpeg',
  };
  return JSON.stringify(canonical);
}

/** SHA-256 of a local file's bytes, read in 1 MiB chunks (constant memory whatever the size). */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK_BYTES, signal })) hash.update(chunk as Buffer);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw new LivePhotoError('CANCELED', `canceled while hashing ${file}`);
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LivePhotoError('SOURCE_NOT_FOUND', `source ${file} cannot be read (${code})`, { file }, { cause: e });
  }
  return hash.digest('hex');
}

/**
 * `v<ENGINE_FORMAT_VERSION>:<sha256>` over the engine version, the canonical options and the SHA-256 of the
 * source's full bytes. Local files only (the CLI's sources).
 */
export async function conversionFingerprint(source: string, options: ConvertOptions = {}, signal?: AbortSignal): Promise<string> {
  const sourceDigest = await sha256File(source, signal);
  const digest = createHash('sha256')
    .update(`vid2live engine ${ENGINE_FORMAT_VERSION}\n`)
    .update(`options ${canonicalConversionOptions(options)}\n`)
    .update(`source sha256 ${sourceDigest}\n`)
    .digest('hex');
  return `v${ENGINE_FORMAT_VERSION}:${digest}`;
}

/** The fingerprint a pair's MOV records, or null (made by an older vid2live or another tool, or unreadable). */
export async function readPairFingerprint(moviePath: string): Promise<string | null> {
  try {
    const value = (await readLivePhotoMov(moviePath)).keys[FINGERPRINT_KEY];
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}
