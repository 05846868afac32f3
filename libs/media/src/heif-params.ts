/** What heif-enc is asked for (quality, x265 options, colour), without running it (heif-enc.ts runs it). */

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
