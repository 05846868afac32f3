import * as fs from 'node:fs';
import * as path from 'node:path';
import { realMedia } from './fixtures';

/** Real camera/phone clips (`shared/fixtures/real-media/`, androidx/media, Apache-2.0; see NOTICE.md there). */
export { REAL_MEDIA_DIR, realMedia } from './fixtures';

/** A Google Pixel Motion Photo whose embedded MP4 was cut short upstream. */
export const PIXEL_MOTION_PHOTO_SHORTENED = realMedia('pixel-motion-photo-shortened.jpg');

/**
 * Copies the MP4 embedded at the end of a Motion Photo JPEG to `out`. The XMP Container directory gives its
 * length (`Item:Semantic="MotionPhoto"` … `Item:Length`); the `ftyp` box 4 bytes into it confirms the start.
 */
export function extractMotionPhotoVideo(jpeg: string, out: string): string {
  const bytes = fs.readFileSync(jpeg);
  const xmp = bytes.toString('latin1');
  const item = /Item:Semantic="MotionPhoto"[^>]*?Item:Length="(\d+)"|Item:Length="(\d+)"[^>]*?Item:Semantic="MotionPhoto"/s.exec(xmp);
  let start = item ? bytes.length - Number(item[1] ?? item[2]) : -1;
  if (start < 0 || bytes.toString('latin1', start + 4, start + 8) !== 'ftyp') {
    // no (or a wrong) directory: the last `ftyp` box marks the video
    start = bytes.lastIndexOf(Buffer.from('ftyp', 'latin1')) - 4;
  }
  if (start < 0) throw new Error(`${jpeg} has no embedded MP4`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, bytes.subarray(start));
  return out;
}
