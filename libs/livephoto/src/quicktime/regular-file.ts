import { constants as fsConstants, promises as fsp, Stats } from 'node:fs';
import { LivePhotoError } from '@vid2live/errors';

/**
 * Opening inputs safely. A FIFO would block `open()` (and then every read) until a writer shows up, a character
 * device such as `/dev/zero` never ends, and a directory has no bytes: parsers only ever read regular files, and
 * they learn the size up front so every read is bounded by it.
 */

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(path: string, st: Stats): LivePhotoError {
  return new LivePhotoError('SOURCE_NOT_FOUND', `${path} is not a regular file (${kindOf(st)})`, { path, reason: 'not-a-regular-file' });
}

export interface RegularFile {
  handle: fsp.FileHandle;
  /** size when opened; reads never go beyond it */
  size: number;
}

/**
 * Open `path` for reading when it is a regular file; SOURCE_NOT_FOUND (details.reason `not-a-regular-file`)
 * otherwise. Opened with O_NONBLOCK so a FIFO swapped in after the `stat` cannot hang the open.
 */
export async function openRegularFile(path: string): Promise<RegularFile> {
  const st = await fsp.stat(path);
  if (!st.isFile()) throw notRegular(path, st);
  const handle = await fsp.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw notRegular(path, opened);
    return { handle, size: opened.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Up to `length` bytes at `position` (fewer only at the end of the file). */
export async function readAt(handle: fsp.FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}
