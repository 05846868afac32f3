import { LivePhotoError } from '@vid2live/errors';
import { WALLPAPER_PROFILE, type CropRect } from '../types';

/**
 * The wallpaper's 9:16 framing of an upright W×H picture: the user's `crop` (checked), else the 9:16 window (full
 * height) placed around the motion of the clip when one side clearly holds more of it, else centred.
 * `columnMotion` is the analysis' mean absolute frame difference per column over the clip (left to right as ffmpeg
 * shows the frame: rotated, not mirrored — reversed here for a mirroring display matrix).
 */
export interface WallpaperFraming {
  crop: CropRect;
  /** what decided it, for the result's reasons */
  reason: string;
}

/** the window around the motion must hold this much more of it than the centred one to be taken */
export const MOTION_CROP_ADVANTAGE = 1.15;

export function wallpaperFraming(
  source: { displayWidth: number; displayHeight: number; mirrored?: boolean },
  crop?: CropRect,
  columnMotion?: number[],
): WallpaperFraming {
  const W = source.displayWidth;
  const H = source.displayHeight;
  const aspect = WALLPAPER_PROFILE.width / WALLPAPER_PROFILE.height;
  if (crop) {
    const { x, y, width, height } = crop;
    const ok = [x, y, width, height].every((v) => typeof v === 'number' && Number.isFinite(v)) && x >= 0 && y >= 0 && width >= 2 && height >= 2;
    if (!ok || x + width > W + 0.5 || y + height > H + 0.5) {
      throw new LivePhotoError('INVALID_OPTIONS', `crop ${width}x${height}+${x}+${y} is not inside the ${W}×${H} picture`, { crop, width: W, height: H });
    }
    if (Math.abs(width / height - aspect) / aspect > 0.01) {
      throw new LivePhotoError('INVALID_OPTIONS', `crop ${width}x${height} is not 9:16 (the wallpaper is ${WALLPAPER_PROFILE.width}×${WALLPAPER_PROFILE.height})`, { crop });
    }
    return { crop: { x, y, width, height }, reason: `framing: your crop ${fmt(width)}×${fmt(height)}+${fmt(x)}+${fmt(y)}` };
  }
  const width = Math.min(W, H * aspect);
  const height = width / aspect;
  const centred: CropRect = { x: (W - width) / 2, y: (H - height) / 2, width, height };
  const n = columnMotion?.length ?? 0;
  if (!columnMotion || n < 2 || width >= W - 1) return { crop: centred, reason: 'framing: a centred 9:16 crop' };
  const cols = source.mirrored ? [...columnMotion].reverse() : columnMotion;
  const win = Math.min(n, Math.max(1, Math.round((n * width) / W)));
  const prefix = [0];
  for (const c of cols) prefix.push(prefix[prefix.length - 1] + c);
  const sumAt = (s: number) => prefix[s + win] - prefix[s];
  const total = prefix[n];
  const centreStart = Math.round((n - win) / 2);
  let most = sumAt(centreStart);
  for (let s = 0; s + win <= n; s++) most = Math.max(most, sumAt(s));
  // every window holding that much (a subject narrower than the crop fits in several): the middle one centres it
  const ties: number[] = [];
  for (let s = 0; s + win <= n; s++) if (sumAt(s) >= most - 1e-9 * Math.max(1, most)) ties.push(s);
  const best = ties.includes(centreStart) ? centreStart : ties[Math.floor((ties.length - 1) / 2)];
  const share = (s: number) => (total > 0 ? sumAt(s) / total : 0);
  // a still clip, or motion spread evenly: the centre is as good as anywhere and does not jump between clips
  if (total / n < 0.05 || sumAt(best) < MOTION_CROP_ADVANTAGE * sumAt(centreStart)) {
    return { crop: centred, reason: `framing: a centred 9:16 crop (it holds ${pct(share(centreStart))} of the motion; no side holds clearly more)` };
  }
  // centred on where the motion is inside that window (its centroid), kept inside the picture
  let weight = 0;
  let moment = 0;
  for (let i = best; i < best + win; i++) {
    weight += cols[i];
    moment += cols[i] * (i + 0.5);
  }
  const centre = ((weight > 0 ? moment / weight : best + win / 2) / n) * W;
  const x = Math.min(W - width, Math.max(0, centre - width / 2));
  return {
    crop: { x, y: centred.y, width, height },
    reason: `framing: the 9:16 crop at x = ${fmt(x)} around the motion (${pct(share(best))} of it, vs ${pct(share(centreStart))} centred)`,
  };
}

const fmt = (v: number) => String(Math.round(v));
const pct = (v: number) => `${Math.round(v * 100)} %`;
