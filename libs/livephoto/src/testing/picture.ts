import { execFileSync } from 'node:child_process';
import { resolveMediaBinaries } from '@vid2live/media/binaries';

/**
 * Test-only picture measurements: decode a frame with ffmpeg to 8-bit RGB and measure it the way the real-footage
 * tests need (mean chroma, mean luma, mean luma error), all on BT.709 Y′CbCr computed from R′G′B′.
 */
export interface RgbPicture {
  width: number;
  height: number;
  /** R′G′B′ 0..255, interleaved */
  data: Uint8Array;
}

/**
 * Frame of `file` as RGB at `width`×`height`. `filters` run before the scale (e.g. `scale=in_color_matrix=…`
 * to say how a source must be read); `seek` picks the frame by time; `inputArgs` go before `-i`.
 */
export function decodeRgb(
  file: string,
  width: number,
  height: number,
  opts: { seek?: number; filters?: string; inputArgs?: string[] } = {},
): RgbPicture {
  const vf = [opts.filters, `scale=${width}:${height}:flags=area`, 'format=rgb24'].filter(Boolean).join(',');
  const out = execFileSync(
    resolveMediaBinaries().ffmpeg.path,
    [
      '-hide_banner', '-v', 'error',
      ...(opts.inputArgs ?? []),
      ...(opts.seek !== undefined ? ['-ss', opts.seek.toFixed(3)] : []),
      '-i', file, '-frames:v', '1', '-vf', vf, '-f', 'rawvideo', 'pipe:1',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  if (out.length !== width * height * 3) throw new Error(`decoded ${out.length} bytes from ${file}, expected ${width * height * 3}`);
  return { width, height, data: new Uint8Array(out) };
}

function ycc(p: RgbPicture): { y: Float64Array; c: Float64Array } {
  const n = p.width * p.height;
  const y = new Float64Array(n);
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = p.data[3 * i];
    const g = p.data[3 * i + 1];
    const b = p.data[3 * i + 2];
    const luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    y[i] = luma;
    c[i] = Math.hypot((b - luma) / 1.8556, (r - luma) / 1.5748);
  }
  return { y, c };
}

const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

/** Mean chroma magnitude (0 = grey) of a picture. */
export function meanChroma(p: RgbPicture): number {
  return mean(ycc(p).c);
}

/** Mean luma Y′ (0..255). */
export function meanLuma(p: RgbPicture): number {
  return mean(ycc(p).y);
}

/** Mean |ΔY′| between two pictures of the same size (0..255). */
export function meanLumaError(a: RgbPicture, b: RgbPicture): number {
  const ya = ycc(a).y;
  const yb = ycc(b).y;
  let sum = 0;
  for (let i = 0; i < ya.length; i++) sum += Math.abs(ya[i] - yb[i]);
  return sum / ya.length;
}

/** PSNR (dB) of two RGB pictures of the same size. */
export function rgbPsnr(a: RgbPicture, b: RgbPicture): number {
  let se = 0;
  for (let i = 0; i < a.data.length; i++) se += (a.data[i] - b.data[i]) ** 2;
  const mse = se / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
