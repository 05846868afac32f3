import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, promises as fsp, statSync } from 'node:fs';
import { LivePhotoError } from '@vid2live/errors';
import { findOnPath } from './binaries';
import { DEFAULT_HEIC_QUALITY, HEIF_ENC_NCLX, HEIF_ENC_X265_PARAMS, type EncodeHeicOptions } from './heif-params';

/**
 * The one place that runs `heif-enc` (libheif-examples, x265 inside) to turn a PNG/JPEG into an HEVC HEIC.
 * Found through HEIF_ENC_PATH, else PATH.
 */

export { DEFAULT_HEIC_QUALITY, HEIF_ENC_NCLX, HEIF_ENC_X265_PARAMS, type EncodeHeicOptions } from './heif-params';

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of heif-enc, or HEIF_ENCODER_NOT_FOUND. */
export function findHeifEnc(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.HEIF_ENC_PATH;
  if (configured) {
    // A setting that points nowhere is a configuration mistake: say so instead of falling back to PATH.
    if (isExecutableFile(configured)) return configured;
    throw new LivePhotoError('HEIF_ENCODER_NOT_FOUND', `HEIF_ENC_PATH=${configured} is not an executable file`, { HEIF_ENC_PATH: configured });
  }
  const onPath = findOnPath('heif-enc', env.PATH ?? '');
  if (onPath) return onPath;
  throw new LivePhotoError(
    'HEIF_ENCODER_NOT_FOUND',
    'heif-enc was not found on PATH; install libheif-examples (apt-get install libheif-examples) or set HEIF_ENC_PATH',
  );
}

/** Encode a PNG or JPEG into a single-image HEIC at `outputPath` (no alpha, no thumbnail). */
export async function encodeHeic(inputPath: string, outputPath: string, options: EncodeHeicOptions = {}): Promise<void> {
  const { quality = DEFAULT_HEIC_QUALITY, signal } = options;
  if (!Number.isInteger(quality) || quality < 0 || quality > 100) {
    throw new LivePhotoError('INVALID_OPTIONS', `HEIC quality must be an integer 0..100, got ${quality}`);
  }
  if (signal?.aborted) throw new LivePhotoError('CANCELED');
  const bin = findHeifEnc();
  const args = [
    '--quality', String(quality),
    ...HEIF_ENC_X265_PARAMS.flatMap((p) => ['-p', p]),
    '--no-alpha',
    '--colour_primaries', String(HEIF_ENC_NCLX.colourPrimaries),
    '--transfer_characteristic', String(HEIF_ENC_NCLX.transferCharacteristics),
    '--matrix_coefficients', String(HEIF_ENC_NCLX.matrixCoefficients),
    '--full_range_flag', HEIF_ENC_NCLX.fullRange ? '1' : '0',
    '--output', outputPath,
    inputPath,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000); // keep the tail: the error is at the end
    });
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new LivePhotoError('HEIF_ENCODE_FAILED', `could not run ${bin}: ${e.message}`, undefined, { cause: e }));
    });
    child.on('close', (code, killedBy) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(new LivePhotoError('CANCELED'));
      if (code === 0) return resolve();
      reject(
        new LivePhotoError('HEIF_ENCODE_FAILED', `heif-enc exited with ${code ?? killedBy}: ${stderr.trim() || '(no output)'}`, {
          input: inputPath,
          exitCode: code,
        }),
      );
    });
  }).catch(async (e) => {
    await fsp.rm(outputPath, { force: true }); // no half-written HEIC left behind
    throw e;
  });
  // Surface a silent failure here rather than as a confusing HEIF parse error later.
  const size = await fsp.stat(outputPath).then((s) => s.size, () => 0);
  if (size === 0) throw new LivePhotoError('HEIF_ENCODE_FAILED', `heif-enc produced no output for ${inputPath}`);
}
