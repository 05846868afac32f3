import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, promises as fsp, statSync } from 'node:fs';
import { LivePhotoError } from '@vid2live/errors';
import { findOnPath } from './binaries';

/**
 * The one place that runs `heif-enc` (libheif-examples, x265 inside) to turn a PNG/JPEG into an HEVC HEIC.
 * Found through HEIF_ENC_PATH, else PATH.
 */

export interface EncodeHeicOptions {
  /** x265 quality 0..100 (libheif: CRF = (100 - quality) / 2); DEFAULT_HEIC_QUALITY when absent */
  quality?: number;
  signal?: AbortSignal;
}

/**
 * Quality of the HEIC still. On six real frames (the iPhone clip, a dark concert, a 4K phone, a Pixel, a
 * rotated clip, an HDR10 clip) it makes the HEIC 67–80 % of the JPEG of the same frame (`-q:v 2`) at a better
 * SSIM against the lossless frame (+0.001 in BT.709 YUV, +0.003 or more in RGB); 58 halves that SSIM margin,
 * without HEIF_ENC_X265_PARAMS 58 loses on the 4K frame. The previous 90 (CRF 5) made HEICs 2–3.3× the JPEG.
 */
export const DEFAULT_HEIC_QUALITY = 60;
/**
 * x265 options of the still (libheif's defaults otherwise: preset slow, tune ssim, 4:2:0). A weaker adaptive
 * quantisation moves bits from dark flat areas (noise nobody sees) to detail: at the same quality it made the
 * concert frame 17 % smaller (95 % → 78 % of the JPEG) and the detailed frames 6–9 % larger and sharper, so the
 * HEIC beats the JPEG with a margin on both size and SSIM.
 */
export const HEIF_ENC_X265_PARAMS = ['x265:aq-strength=0.6'] as const;

/**
 * nclx colour heif-enc encodes with (BT.709 primaries, sRGB transfer, BT.601 matrix, full range): passed
 * explicitly because libheif 1.15 does not write a `colr` box for PNG input, and the HEIC post-processing adds one
 * that must describe the same conversion.
 */
export const HEIF_ENC_NCLX = { colourPrimaries: 1, transferCharacteristics: 13, matrixCoefficients: 6, fullRange: true } as const;

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
