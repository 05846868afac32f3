import { box, BoxHeader, fitsIn, invalidHeif } from './boxes';
import { encodeFileType, encodeMeta } from './encode';
import { HeifFile } from './model';

/**
 * Lay the file out again: the new `ftyp` and `meta` in place of the old ones, every other top-level box copied
 * unchanged, and one `mdat` with `appendedItemData` at the end. Because `ftyp`/`meta` change size, every `iloc`
 * extent that points into the file (construction method 0) is moved by the shift of the box it points into;
 * field widths grow when a new offset no longer fits.
 */
export function serializeHeif(file: HeifFile): Buffer {
  const { meta, source } = file;
  const loc = meta.itemLocation;
  if (!loc) throw invalidHeif('no iloc box');
  const original = new Map(loc.items.map((i) => [i.itemId, { baseOffset: i.baseOffset, extents: i.extents.map((e) => ({ ...e })) }]));
  const appendedIds = [...file.appendedItemData.keys()];
  if (appendedIds.length && loc.lengthSize === 0) loc.lengthSize = 4; // length 0 would mean "to the end of the file"
  for (const id of appendedIds) {
    const item = loc.items.find((i) => i.itemId === id);
    if (!item) throw invalidHeif(`appended item ${id} has no iloc entry`);
    // One extent from the start, so the first layout pass already has the final entry size.
    item.extents = [{ index: 0, offset: 0, length: file.appendedItemData.get(id)!.length }];
  }

  for (let attempt = 0; attempt < 4; attempt++) {
    const ftyp = encodeFileType(file.fileType);
    const metaBytes = encodeMeta(meta); // its size depends only on field widths, not on the offsets written
    const pieces: Buffer[] = [];
    const newStart = new Map<BoxHeader, number>();
    let pos = 0;
    for (const b of file.topLevel) {
      newStart.set(b, pos);
      let bytes: Buffer;
      if (b.type === 'ftyp' && b === file.topLevel[0]) bytes = ftyp;
      else if (b.type === 'meta') bytes = metaBytes;
      else if (b.toEnd && appendedIds.length) bytes = withExplicitSize(source.subarray(b.start, b.end), b);
      else bytes = source.subarray(b.start, b.end);
      pieces.push(bytes);
      pos += bytes.length;
    }
    const movable = (b: BoxHeader) => !(b === file.topLevel[0] || b.type === 'meta');
    const shift = (offset: number, itemId: number): number => {
      const b = file.topLevel.find((t) => offset >= t.start && (offset < t.end || (offset === t.end && t === file.topLevel[file.topLevel.length - 1])));
      if (!b || !movable(b)) throw invalidHeif(`item ${itemId} points at file offset ${offset}, inside ftyp/meta or outside any box`);
      return newStart.get(b)! + (offset - b.start);
    };

    // New items go into one mdat at the end.
    const appendedParts = appendedIds.map((id) => file.appendedItemData.get(id)!);
    const mdat = appendedIds.length ? box('mdat', ...appendedParts) : Buffer.alloc(0);
    let dataPos = pos + (mdat.length - appendedParts.reduce((n, p) => n + p.length, 0));

    let fits = true;
    for (const item of loc.items) {
      const appendedData = file.appendedItemData.get(item.itemId);
      if (appendedData) {
        item.constructionMethod = 0;
        item.dataReferenceIndex = 0;
        item.baseOffset = 0;
        item.extents = [{ index: 0, offset: dataPos, length: appendedData.length }];
        dataPos += appendedData.length;
      } else if (item.constructionMethod === 0 && item.dataReferenceIndex === 0 && item.extents.length) {
        const was = original.get(item.itemId)!;
        const moved = was.extents.map((e) => shift(was.baseOffset + e.offset, item.itemId));
        const delta = moved[0] - (was.baseOffset + was.extents[0].offset);
        const uniform = moved.every((m, i) => m - (was.baseOffset + was.extents[i].offset) === delta);
        if (loc.baseOffsetSize > 0 && uniform) {
          // Keep relative extents as they were and move the base (what a writer that used base_offset meant).
          item.baseOffset = was.baseOffset + delta;
          item.extents = was.extents.map((e) => ({ ...e }));
        } else {
          item.baseOffset = 0;
          item.extents = was.extents.map((e, i) => ({ ...e, offset: moved[i] - item.baseOffset }));
        }
      }
      if (!fitsIn(item.baseOffset, loc.baseOffsetSize)) {
        loc.baseOffsetSize = item.baseOffset > 0xffffffff ? 8 : 4;
        fits = false;
      }
      for (const e of item.extents) {
        if (!fitsIn(e.offset, loc.offsetSize)) {
          loc.offsetSize = e.offset > 0xffffffff ? 8 : 4;
          fits = false;
        }
        if (!fitsIn(e.length, loc.lengthSize)) {
          loc.lengthSize = e.length > 0xffffffff ? 8 : 4;
          fits = false;
        }
      }
    }
    if (!fits) continue; // widths changed: meta changes size, lay out again
    const finalMeta = encodeMeta(meta);
    if (finalMeta.length !== metaBytes.length) throw new Error('HEIF meta size changed between layout passes');
    return Buffer.concat(pieces.map((p, i) => (file.topLevel[i].type === 'meta' ? finalMeta : p)).concat(mdat));
  }
  throw invalidHeif('could not lay out iloc offsets');
}

/** A size-0 ("to end of file") box must get its real size once something is appended after it. */
function withExplicitSize(bytes: Buffer, b: BoxHeader): Buffer {
  if (b.size > 0xffffffff) throw invalidHeif(`box '${b.type}' extends to the end of a file larger than 4 GiB`);
  const copy = Buffer.from(bytes);
  copy.writeUInt32BE(b.size, 0);
  return copy;
}
