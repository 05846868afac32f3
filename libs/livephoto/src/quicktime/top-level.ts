import { LivePhotoError } from '@vid2live/errors';
import { boxHeaderProblem, isPrintableType } from '../bmff/header';
import { topLevelHeaders } from '../bmff/top-level';
import { Box, boxOfHeader, parseBoxes } from './boxes';
import { openRegularFile, readAt } from './regular-file';

/** A QuickTime/MP4 file's top-level layout: headers only, except `moov` (small, parsed) and `ftyp`. */

export interface TopLevelLayout {
  fileSize: number;
  /** top-level boxes in file order; `moov` is parsed into children, `ftyp` carries `data`, others are headers only */
  boxes: Box[];
}

/** Types a QuickTime/ISO-BMFF file can start with (AFC exports start with `wide`, old QuickTime with `mdat`). */
const FIRST_BOX_TYPES = new Set(['ftyp', 'styp', 'wide', 'free', 'skip', 'mdat', 'moov', 'pnot', 'uuid', 'junk', 'pdin', 'sidx', 'meta']);
/** Top-level boxes whose content is read into memory. Everything else (mdat, free, wide, …) stays on disk. */
const LOADED_TOP_LEVEL = new Set(['moov', 'ftyp']);
/**
 * A `moov` beyond this is not a plausible movie header; refuse instead of allocating it. Ten hours of 60 fps
 * video need about 40 MB of sample tables.
 */
export const MAX_MOOV_BYTES = 64 * 1024 * 1024;
/** Top-level boxes one file may have (a fragmented MP4 has two per fragment); more is INVALID_CONTAINER. */
export const MAX_TOP_LEVEL_BOXES = 200_000;

/**
 * Walk the top-level boxes of a QuickTime/MP4 file by reading only their headers (`bmff/top-level`), then load
 * and parse `moov`. Throws INPUT_TRUNCATED when a box claims to extend beyond the end of the file,
 * INVALID_CONTAINER when the bytes are not a box structure at all (or too many boxes, nested too deep, a
 * `moov` over MAX_MOOV_BYTES), SOURCE_NOT_FOUND for a FIFO, device or directory (see `openRegularFile`).
 */
export async function readTopLevelBoxes(path: string): Promise<TopLevelLayout> {
  const { handle, size: fileSize } = await openRegularFile(path);
  try {
    const boxes: Box[] = [];
    for await (const { at, header, head } of topLevelHeaders(handle, fileSize)) {
      if (!header) {
        // A few zero bytes of padding at the end are harmless; anything else is a cut-off header.
        if (head.every((b) => b === 0)) break;
        throw new LivePhotoError('INPUT_TRUNCATED', `box header at ${at} is cut off (file is ${fileSize} B)`, { path });
      }
      // The first box decides whether this is a box file at all (text or another container would
      // otherwise read as a huge "truncated" box).
      const implausible = boxes.length === 0 && !FIRST_BOX_TYPES.has(header.type);
      const problem = boxHeaderProblem(header, fileSize - at);
      if (implausible || !isPrintableType(header.type) || problem === 'undersized') {
        throw new LivePhotoError('INVALID_CONTAINER', `no valid box at offset ${at} of ${path}`, { path, offset: at });
      }
      if (problem === 'overruns') {
        throw new LivePhotoError(
          'INPUT_TRUNCATED',
          `'${header.type}' at ${at} claims ${header.size} B but the file ends after ${fileSize - at} B`,
          { path, offset: at, type: header.type },
        );
      }
      if (boxes.length >= MAX_TOP_LEVEL_BOXES) {
        throw new LivePhotoError('INVALID_CONTAINER', `${path} has more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`, { path, offset: at });
      }
      if (LOADED_TOP_LEVEL.has(header.type)) {
        if (header.size > MAX_MOOV_BYTES) {
          throw new LivePhotoError('INVALID_CONTAINER', `'${header.type}' of ${header.size} B is implausibly large`, { path });
        }
        const bytes = await readAt(handle, header.size, at);
        // The buffer belongs to this box alone: the tree may keep views of it instead of copies.
        const [box] = parseBoxes(bytes, 0, bytes.length, at, [], { copy: false });
        if (header.extendsToEnd) box.extendsToEnd = true;
        boxes.push(box);
      } else {
        boxes.push(boxOfHeader(header, at));
      }
    }
    return { fileSize, boxes };
  } finally {
    await handle.close();
  }
}
