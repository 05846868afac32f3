import type { promises as fsp } from 'node:fs';
import { readAt } from '../quicktime/regular-file';
import { decodeBoxHeader, DecodedBoxHeader } from './header';

/** Headers are read through a window of this size, so a run of tiny boxes costs one read per window. */
const HEADER_WINDOW_BYTES = 64 * 1024;

export interface TopLevelHeader {
  /** file offset of the header */
  at: number;
  /** null when the header is cut off (or its largesize exceeds 2^53): the walk ends after this entry */
  header: DecodedBoxHeader | null;
  /** the (up to 16) header bytes read at `at` */
  head: Buffer;
}

/**
 * The top-level box headers of a file of `fileSize` bytes, in order, reading only headers (through a small
 * window): media data is never loaded. The caller validates each header (and throws or stops); the walk moves
 * on by `header.size` and ends at the end of the file, after a cut-off header, or at a header smaller than
 * itself (which a caller must have refused). Shared by the QuickTime and HEIF file readers.
 */
export async function* topLevelHeaders(handle: fsp.FileHandle, fileSize: number): AsyncGenerator<TopLevelHeader, void, void> {
  let window: Buffer = Buffer.alloc(0);
  let windowStart = 0;
  let at = 0;
  while (at < fileSize) {
    const want = Math.min(16, fileSize - at);
    if (at < windowStart || at + want > windowStart + window.length) {
      window = await readAt(handle, Math.min(HEADER_WINDOW_BYTES, fileSize - at), at);
      windowStart = at;
    }
    const head = window.subarray(at - windowStart, at - windowStart + want);
    const header = decodeBoxHeader(head, 0, head.length, fileSize - at);
    yield { at, header, head };
    if (!header || header.size < header.headerSize) return;
    at += header.size;
  }
}
