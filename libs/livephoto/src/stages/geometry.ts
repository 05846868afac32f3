/**
 * Geometry: how the coded picture becomes the upright picture a viewer shows.
 *
 * - The display matrix may rotate *and* mirror (front cameras, some editors). ffmpeg 5.1's autorotate only
 *   rotates, so the render turns autorotate off and applies these filters itself (the same choice ffmpeg ≥ 6
 *   makes: a transpose that flips when the matrix has a negative determinant).
 * - Non-square pixels (anamorphic, DV, some phones' "cinematic" modes) are applied: the output has square pixels
 *   at the display aspect ratio.
 */

export interface Orientation {
  /** clockwise rotation of the upright picture, in degrees */
  rotation: 0 | 90 | 180 | 270;
  /** true when the display matrix mirrors the picture */
  mirrored: boolean;
  /** ffmpeg filters (transpose/hflip/vflip) that turn the coded frame upright; empty when it already is */
  filters: string[];
}

/** The nine numbers of ffprobe's `displaymatrix` text ("00000000:  0  65536  0\n…"), row-major. */
export function parseDisplayMatrix(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*[0-9a-f]{8}:\s*(-?\d+)\s+(-?\d+)\s+(-?\d+)\s*$/i.exec(line);
    if (m) values.push(Number(m[1]), Number(m[2]), Number(m[3]));
  }
  return values.length === 9 ? values : undefined;
}

/**
 * Orientation from the display matrix [a b u; c d v; x y w] (16.16 fixed point, QuickTime / ffmpeg layout).
 * Rotation as av_display_rotation_get computes it; the flip follows ffmpeg ≥ 6's autorotate.
 */
export function orientationOfMatrix(m: number[] | undefined, fallbackClockwise: 0 | 90 | 180 | 270 = 0): Orientation {
  if (!m || m.length !== 9) return fromRotation(fallbackClockwise);
  const [a, b, , c, d] = m;
  const scale0 = Math.hypot(a, c);
  const scale1 = Math.hypot(b, d);
  if (scale0 === 0 || scale1 === 0) return fromRotation(fallbackClockwise);
  const ccw = -(Math.atan2(b / scale1, a / scale0) * 180) / Math.PI; // av_display_rotation_get
  const clockwise = ((((Math.round(-ccw / 90) * 90) % 360) + 360) % 360) as 0 | 90 | 180 | 270;
  const mirrored = a * d - b * c < 0;
  if (!mirrored) return fromRotation(clockwise);
  switch (clockwise) {
    case 90:
      return { rotation: 90, mirrored, filters: [c > 0 ? 'transpose=cclock_flip' : 'transpose=clock'] };
    case 270:
      return { rotation: 270, mirrored, filters: [c < 0 ? 'transpose=clock_flip' : 'transpose=cclock'] };
    case 180:
      return { rotation: 180, mirrored, filters: [...(a < 0 ? ['hflip'] : []), ...(d < 0 ? ['vflip'] : [])] };
    default:
      return { rotation: 0, mirrored, filters: d < 0 ? ['vflip'] : a < 0 ? ['hflip'] : [] };
  }
}

function fromRotation(clockwise: 0 | 90 | 180 | 270): Orientation {
  const filters =
    clockwise === 90 ? ['transpose=clock'] : clockwise === 270 ? ['transpose=cclock'] : clockwise === 180 ? ['hflip', 'vflip'] : [];
  return { rotation: clockwise, mirrored: false, filters };
}

/** "64:27" → 2.370…; "0:1", "N/A", missing → 1 */
export function parseSampleAspectRatio(sar: string | undefined): number {
  if (!sar) return 1;
  const [n, d] = sar.split(':').map(Number);
  if (!(n > 0) || !(d > 0)) return 1;
  const r = n / d;
  // Beyond 4:1 either way the tag is garbage, not a lens.
  return r >= 0.25 && r <= 4 ? r : 1;
}

/**
 * Upright display size: coded size with the sample aspect ratio applied (stretching the width, as players do),
 * then swapped for a quarter turn.
 */
export function displaySize(
  width: number,
  height: number,
  sampleAspectRatio: number,
  rotation: 0 | 90 | 180 | 270,
): { displayWidth: number; displayHeight: number } {
  const w = Math.max(1, Math.round(width * sampleAspectRatio));
  const quarterTurn = rotation === 90 || rotation === 270;
  return { displayWidth: quarterTurn ? height : w, displayHeight: quarterTurn ? w : height };
}
