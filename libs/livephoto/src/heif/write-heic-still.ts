import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { encodeHeic } from '@vid2live/media/heif-enc';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { addExifToHeic } from './heic-exif';

export interface WriteHeicStillOptions {
  /** heif-enc quality 0..100 (default DEFAULT_HEIC_QUALITY of media/src/heif-enc.ts) */
  quality?: number;
  signal?: AbortSignal;
  /** the heif-enc run (the engine's MediaTools port passes its own); libs/media's encodeHeic when absent */
  encodeHeic?: (input: string, output: string, options: { quality?: number; signal?: AbortSignal }) => Promise<void>;
}

/**
 * Encode a PNG (or JPEG) still to HEIC with heif-enc, give it our Exif (Apple MakerNote with the content
 * identifier) and the iOS fixes of `addExifToHeic`, and publish it atomically (temporary file + rename).
 */
export async function writeHeicStill(inputPath: string, outputPath: string, tiff: Buffer, options: WriteHeicStillOptions = {}): Promise<void> {
  const { quality, signal, encodeHeic: encode = encodeHeic } = options;
  throwIfAborted(signal);
  const stem = path.join(path.dirname(outputPath), `.${path.basename(outputPath)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const encoded = `${stem}.enc.heic`;
  const finished = `${stem}.tmp`;
  try {
    await encode(inputPath, encoded, { quality, signal });
    throwIfAborted(signal);
    const heic = addExifToHeic(await fsp.readFile(encoded), tiff);
    await fsp.writeFile(finished, heic);
    throwIfAborted(signal);
    await fsp.rename(finished, outputPath);
  } catch (e) {
    await fsp.rm(finished, { force: true });
    if (e instanceof LivePhotoError) throw e;
    throw new LivePhotoError('OUTPUT_WRITE_FAILED', `writing the HEIC still ${outputPath} failed: ${(e as Error).message}`, undefined, { cause: e });
  } finally {
    await fsp.rm(encoded, { force: true });
  }
}
