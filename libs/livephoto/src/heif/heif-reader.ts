import { promises as fsp } from 'node:fs';
import { boxHeaderProblem } from '../bmff/header';
import { topLevelHeaders } from '../bmff/top-level';
import { readAt } from '../quicktime/regular-file';
import { BoxHeader, invalidHeif } from './boxes';
import { itemRanges } from './items';
import { FileType, HeifLimits, HeifMeta, MAX_ITEM_BYTES } from './model';
import { checkReferencedBytes, parseFileType, parseMeta } from './parse';

/**
 * Reading a HEIF by offset: the top-level headers through a small window, then `ftyp` and `meta` (bounded), and
 * items only when asked for, extent by extent. Media data is never loaded, so a multi-GB or sparse file costs
 * what its `meta` costs.
 */

/** A `meta` beyond this is no photo's (a 48 MP iPhone HEIC has ~10 kB). */
export const MAX_HEIF_META_BYTES = 16 * 1024 * 1024;
/** HEIC files have 3–5 top-level boxes; more than this is not a still. */
export const MAX_HEIF_TOP_LEVEL_BOXES = 10_000;
const MAX_FTYP_BYTES = 64 * 1024;

export interface HeifHead {
  fileSize: number;
  topLevel: BoxHeader[];
  fileType: FileType;
  meta: HeifMeta;
}

export async function readHeifHead(handle: fsp.FileHandle, fileSize: number, limits: HeifLimits = {}): Promise<HeifHead> {
  const topLevel: BoxHeader[] = [];
  for await (const { at: pos, header: h } of topLevelHeaders(handle, fileSize)) {
    if (!h) throw invalidHeif(`truncated box header at ${pos}`);
    if (boxHeaderProblem(h, fileSize - pos)) throw invalidHeif(`box '${h.type}' at ${pos} (size ${h.size}) overruns its parent`);
    if (topLevel.length === 0 && h.type !== 'ftyp') throw invalidHeif('the file does not start with an ftyp box');
    if (topLevel.length >= MAX_HEIF_TOP_LEVEL_BOXES) throw invalidHeif(`more than ${MAX_HEIF_TOP_LEVEL_BOXES} top-level boxes`);
    topLevel.push({ type: h.type, start: pos, headerSize: h.headerSize, size: h.size, end: pos + h.size, toEnd: h.extendsToEnd });
  }
  if (topLevel[0]?.type !== 'ftyp') throw invalidHeif('the file does not start with an ftyp box');
  const metas = topLevel.filter((b) => b.type === 'meta');
  if (metas.length !== 1) throw invalidHeif(`expected one top-level meta box, found ${metas.length}`);
  const ftypBox = topLevel[0];
  const metaBox = metas[0];
  if (ftypBox.size > MAX_FTYP_BYTES) throw invalidHeif(`ftyp of ${ftypBox.size} B is implausibly large`);
  if (metaBox.size > MAX_HEIF_META_BYTES) throw invalidHeif(`meta of ${metaBox.size} B is larger than ${MAX_HEIF_META_BYTES} B`);

  const ftypBytes = await readAt(handle, ftypBox.size, ftypBox.start);
  const metaBytes = await readAt(handle, metaBox.size, metaBox.start);
  const local = (b: BoxHeader): BoxHeader => ({ ...b, start: 0, end: b.size });
  const meta = parseMeta(metaBytes, local(metaBox), limits);
  checkReferencedBytes(meta, fileSize, limits);
  return { fileSize, topLevel, fileType: parseFileType(ftypBytes, local(ftypBox)), meta };
}

/** An item's bytes (construction method 0 from the file, 1 from `idat`), refused beyond `maxBytes` before reading. */
export async function readHeifItem(handle: fsp.FileHandle, head: HeifHead, itemId: number, maxBytes = MAX_ITEM_BYTES): Promise<Buffer> {
  const loc = head.meta.itemLocation?.items.find((i) => i.itemId === itemId);
  if (!loc) throw invalidHeif(`item ${itemId} has no iloc entry`);
  if (loc.dataReferenceIndex !== 0) throw invalidHeif(`item ${itemId} lives in an external file`);
  if (loc.constructionMethod === 1) {
    const idat = head.meta.itemData ?? Buffer.alloc(0);
    return Buffer.concat(itemRanges(loc, idat.length, maxBytes).map(([s, e]) => idat.subarray(s, e)));
  }
  if (loc.constructionMethod !== 0) throw invalidHeif(`item ${itemId} uses construction method ${loc.constructionMethod}, which is not supported`);
  const parts: Buffer[] = [];
  for (const [start, end] of itemRanges(loc, head.fileSize, maxBytes)) {
    const part = await readAt(handle, end - start, start);
    if (part.length !== end - start) throw invalidHeif(`item ${itemId} extent at ${start} lies beyond the end of the file`);
    parts.push(part);
  }
  return Buffer.concat(parts);
}
