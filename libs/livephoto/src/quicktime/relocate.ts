import { promises as fsp } from 'node:fs';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import type { Box } from './boxes';
import { withHeaderTimes, withTrackFlags } from './movie';
import { buildChunkOffsetBox, chunkOffsetBox, readChunkOffsets } from './sample-tables';
import { APPLE_TRACK_FLAGS } from './still-image-time-track';

/**
 * Moving a movie's media data to a new layout (what `injectLivePhotoMetadata` writes): the source spans copied
 * by offset, and each kept track's chunk offsets re-pointed at where its bytes now are.
 */

/** A span of source bytes copied to the output; chunk offsets inside it move by `newStart - oldStart`. */
export interface CopiedSpan {
  box: Box;
  /** a replacement header (size-0 boxes get an explicit size so appended boxes stay outside them) */
  newHeader?: Buffer;
  oldPayloadStart: number;
  newPayloadStart: number;
  payloadLength: number;
}

export function relocate(offset: number, spans: CopiedSpan[]): number {
  for (const s of spans) {
    if (offset >= s.oldPayloadStart && offset < s.oldPayloadStart + s.payloadLength) {
      return offset - s.oldPayloadStart + s.newPayloadStart;
    }
  }
  throw new LivePhotoError('INVALID_CONTAINER', `chunk offset ${offset} points outside the media data`);
}

export async function copyRange(src: fsp.FileHandle, dst: fsp.FileHandle, from: number, length: number, to: number, buf: Buffer, signal?: AbortSignal): Promise<void> {
  let done = 0;
  while (done < length) {
    throwIfAborted(signal);
    const want = Math.min(buf.length, length - done);
    const { bytesRead } = await src.read(buf, 0, want, from + done);
    if (bytesRead === 0) throw new LivePhotoError('INPUT_TRUNCATED', `source ended at ${from + done} while copying media data`);
    await writeAll(dst, buf.subarray(0, bytesRead), to + done);
    done += bytesRead;
  }
}

export async function writeAll(dst: fsp.FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await dst.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * A kept track with Apple's tkhd flags, its chunk offsets re-pointed at the output layout and, when given, its
 * tkhd/mdhd dated `headerTime`.
 */
export function relocatedTrack(trak: Box, spans: CopiedSpan[], headerTime: number | undefined): Box {
  const co = chunkOffsetBox(trak);
  const newOffsets = co ? readChunkOffsets(co).map((o) => relocate(o, spans)) : [];
  return mapTree(trak, (b) => {
    if (b.type === 'tkhd') return datedHeader(withTrackFlags(b, APPLE_TRACK_FLAGS), headerTime);
    if (b.type === 'mdhd') return datedHeader(b, headerTime);
    if (b === co) return buildChunkOffsetBox(newOffsets, co.type === 'co64' ? 'co64' : 'stco');
    return b;
  });
}

/** `tkhd`/`mdhd` with creation/modification time `headerTime`; other boxes (and no time) unchanged. */
export function datedHeader(b: Box, headerTime: number | undefined): Box {
  return headerTime !== undefined && (b.type === 'tkhd' || b.type === 'mdhd') ? withHeaderTimes(b, headerTime) : b;
}

/** Copy of `box` with `fn` applied to every descendant (not to `box` itself). */
export function mapTree(box: Box, fn: (b: Box) => Box): Box {
  if (!box.children) return box;
  return { ...box, children: box.children.map((c) => mapTree(fn(c), fn)) };
}
