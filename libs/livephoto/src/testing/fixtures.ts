import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The genuine iPhone pair lives in `../shared/fixtures/iphone-live-photo/` beside the repository
 * (CI clones the repo with `shared/` next to it). Walk up from here until we find it.
 */
function findSharedDir(name = 'iphone-live-photo'): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'shared', 'fixtures', name);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`shared/fixtures/${name} not found beside the repository`);
    }
    dir = parent;
  }
}

export const IPHONE_FIXTURE_DIR = findSharedDir();
export const IPHONE_HEIC = path.join(IPHONE_FIXTURE_DIR, 'IMG_3853.HEIC');
export const IPHONE_MOV = path.join(IPHONE_FIXTURE_DIR, 'IMG_3853.MOV');
export const IPHONE_CONTENT_IDENTIFIER = '71DCA213-5710-4A6C-BC6D-CE6306AEB8D8';
/** 540/600 s */
export const IPHONE_STILL_TIME = 0.9;

/** Real phone and camera clips from androidx/media (`shared/fixtures/real-media/`, see NOTICE.md there). */
export const REAL_MEDIA_DIR = findSharedDir('real-media');
export const realMedia = (file: string): string => path.join(REAL_MEDIA_DIR, file);
