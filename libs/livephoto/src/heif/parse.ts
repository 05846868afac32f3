import { LivePhotoError } from '@vid2live/errors';
import { BoxCursor, BoxHeader, fullBoxHead, invalidHeif, readBoxes } from './boxes';
import {
  FileType,
  HeifFile,
  HeifLimits,
  HeifMeta,
  ItemExtent,
  ItemInfoEntry,
  ItemLocationBox,
  ItemPropertyAssociationBox,
  ItemReference,
  MAX_ILOC_EXTENTS,
  PropertyAssociation,
} from './model';

/** Parsing HEIF bytes into the model (`model.ts`), bounded by `HeifLimits`. */

export function parseHeif(buf: Buffer, limits: HeifLimits = {}): HeifFile {
  const topLevel = readBoxes(buf, 0, buf.length);
  if (topLevel[0]?.type !== 'ftyp') throw invalidHeif('the file does not start with an ftyp box');
  const metas = topLevel.filter((b) => b.type === 'meta');
  if (metas.length !== 1) throw invalidHeif(`expected one top-level meta box, found ${metas.length}`);
  const meta = parseMeta(buf, metas[0], limits);
  checkReferencedBytes(meta, buf.length, limits);
  return { source: buf, topLevel, fileType: parseFileType(buf, topLevel[0]), meta, appendedItemData: new Map() };
}

/**
 * Refuse an `iloc` whose extents together reference more than `limits.maxReferencedBytes` (default 4 × the
 * file size): computed from the table alone, before any item is read.
 */
export function checkReferencedBytes(meta: HeifMeta, fileSize: number, limits: HeifLimits = {}): void {
  const max = limits.maxReferencedBytes ?? Math.max(4 * fileSize, 1024 * 1024);
  const idat = meta.itemData?.length ?? 0;
  let total = 0;
  for (const item of meta.itemLocation?.items ?? []) {
    const sourceSize = item.constructionMethod === 1 ? idat : fileSize;
    for (const e of item.extents) {
      const start = item.baseOffset + e.offset;
      total += e.length === 0 ? Math.max(0, sourceSize - start) : e.length;
      if (total > max) {
        throw new LivePhotoError('INVALID_CONTAINER', `HEIF: iloc extents reference more than ${max} B (the file is ${fileSize} B)`, {
          maxReferencedBytes: max,
          fileSize,
        });
      }
    }
  }
}

export function parseFileType(buf: Buffer, h: BoxHeader): FileType {
  const c = new BoxCursor(buf, h.start + h.headerSize, h.end, 'ftyp');
  const majorBrand = c.fourcc();
  const minorVersion = c.u32();
  const compatibleBrands: string[] = [];
  while (c.remaining >= 4) compatibleBrands.push(c.fourcc());
  return { majorBrand, minorVersion, compatibleBrands };
}

/** The `meta` box whose header is `h`; positions are within `buf` (the whole file, or the meta box alone). */
export function parseMeta(buf: Buffer, h: BoxHeader, limits: HeifLimits = {}): HeifMeta {
  const { version, flags, bodyStart } = fullBoxHead(buf, h);
  const meta: HeifMeta = { version, flags, order: [], raw: new Map(), groupIds: [] };
  for (const child of readBoxes(buf, bodyStart, h.end)) {
    meta.order.push(child.type);
    const raw = buf.subarray(child.start, child.end);
    meta.raw.set(child.type, [...(meta.raw.get(child.type) ?? []), raw]);
    switch (child.type) {
      case 'hdlr': {
        const { bodyStart: at } = fullBoxHead(buf, child);
        meta.handlerType = new BoxCursor(buf, at + 4, child.end, 'hdlr').fourcc();
        break;
      }
      case 'pitm': {
        const head = fullBoxHead(buf, child);
        const c = new BoxCursor(buf, head.bodyStart, child.end, 'pitm');
        meta.primaryItem = { version: head.version, itemId: head.version === 0 ? c.u16() : c.u32() };
        break;
      }
      case 'iinf':
        meta.itemInfo = parseItemInfo(buf, child);
        break;
      case 'iloc':
        meta.itemLocation = parseItemLocation(buf, child, limits.maxExtents ?? MAX_ILOC_EXTENTS);
        break;
      case 'iref':
        meta.itemReference = parseItemReference(buf, child);
        break;
      case 'iprp':
        parseItemProperties(buf, child, meta);
        break;
      case 'idat':
        meta.itemData = Buffer.from(buf.subarray(child.start + child.headerSize, child.end));
        break;
      case 'grpl':
        for (const group of readBoxes(buf, child.start + child.headerSize, child.end)) {
          const { bodyStart: at } = fullBoxHead(buf, group);
          meta.groupIds.push(new BoxCursor(buf, at, group.end, group.type).u32());
        }
        break;
    }
  }
  return meta;
}

function parseItemInfo(buf: Buffer, h: BoxHeader): NonNullable<HeifMeta['itemInfo']> {
  const { version, flags, bodyStart } = fullBoxHead(buf, h);
  const countSize = version === 0 ? 2 : 4;
  const entries: ItemInfoEntry[] = [];
  for (const e of readBoxes(buf, bodyStart + countSize, h.end)) {
    if (e.type !== 'infe') continue;
    const head = fullBoxHead(buf, e);
    const c = new BoxCursor(buf, head.bodyStart, e.end, 'infe');
    const raw = Buffer.from(buf.subarray(e.start, e.end));
    if (head.version < 2) {
      const itemId = c.u16();
      c.u16(); // protection index
      entries.push({ itemId, name: c.cstring(), contentType: c.remaining ? c.cstring() : undefined, version: head.version, flags: head.flags, raw });
      continue;
    }
    const itemId = head.version === 2 ? c.u16() : c.u32();
    c.u16(); // protection index
    const itemType = c.fourcc();
    const name = c.cstring();
    const contentType = itemType === 'mime' && c.remaining ? c.cstring() : undefined;
    entries.push({ itemId, itemType, name, contentType, version: head.version, flags: head.flags, raw });
  }
  return { version, flags, entries };
}

function parseItemLocation(buf: Buffer, h: BoxHeader, maxExtents: number): ItemLocationBox {
  const { version, bodyStart } = fullBoxHead(buf, h);
  if (version > 2) throw invalidHeif(`iloc version ${version} is not supported`);
  const c = new BoxCursor(buf, bodyStart, h.end, 'iloc');
  const a = c.u8();
  const b = c.u8();
  const loc: ItemLocationBox = {
    version,
    offsetSize: a >> 4,
    lengthSize: a & 15,
    baseOffsetSize: b >> 4,
    indexSize: version === 0 ? 0 : b & 15,
    items: [],
  };
  const count = version < 2 ? c.u16() : c.u32();
  let extentTotal = 0;
  for (let i = 0; i < count; i++) {
    const itemId = version < 2 ? c.u16() : c.u32();
    const constructionMethod = version === 0 ? 0 : c.u16() & 15;
    const dataReferenceIndex = c.u16();
    const baseOffset = c.uint(loc.baseOffsetSize);
    const extentCount = c.u16();
    extentTotal += extentCount;
    // Extents may take no bytes at all (field sizes 0), so the box size alone does not bound them.
    if (extentTotal > maxExtents) throw invalidHeif(`iloc lists more than ${maxExtents} extents`);
    const extents: ItemExtent[] = [];
    for (let e = 0; e < extentCount; e++) {
      const index = loc.indexSize > 0 ? c.uint(loc.indexSize) : 0;
      extents.push({ index, offset: c.uint(loc.offsetSize), length: c.uint(loc.lengthSize) });
    }
    loc.items.push({ itemId, constructionMethod, dataReferenceIndex, baseOffset, extents });
  }
  return loc;
}

function parseItemReference(buf: Buffer, h: BoxHeader): NonNullable<HeifMeta['itemReference']> {
  const { version, flags, bodyStart } = fullBoxHead(buf, h);
  const references: ItemReference[] = [];
  for (const r of readBoxes(buf, bodyStart, h.end)) {
    const c = new BoxCursor(buf, r.start + r.headerSize, r.end, `iref/${r.type}`);
    const id = () => (version === 0 ? c.u16() : c.u32());
    const fromItemId = id();
    const n = c.u16();
    references.push({ type: r.type, fromItemId, toItemIds: Array.from({ length: n }, id) });
  }
  return { version, flags, references };
}

function parseItemProperties(buf: Buffer, h: BoxHeader, meta: HeifMeta): void {
  meta.associations = [];
  meta.otherIprpChildren = [];
  for (const child of readBoxes(buf, h.start + h.headerSize, h.end)) {
    if (child.type === 'ipco') {
      meta.properties = readBoxes(buf, child.start + child.headerSize, child.end).map((p) => Buffer.from(buf.subarray(p.start, p.end)));
    } else if (child.type === 'ipma') {
      const { version, flags, bodyStart } = fullBoxHead(buf, child);
      const c = new BoxCursor(buf, bodyStart, child.end, 'ipma');
      const count = c.u32();
      const entries: ItemPropertyAssociationBox['entries'] = [];
      for (let i = 0; i < count; i++) {
        const itemId = version < 1 ? c.u16() : c.u32();
        const n = c.u8();
        const associations: PropertyAssociation[] = [];
        for (let k = 0; k < n; k++) {
          if (flags & 1) {
            const v = c.u16();
            associations.push({ essential: (v & 0x8000) !== 0, index: v & 0x7fff });
          } else {
            const v = c.u8();
            associations.push({ essential: (v & 0x80) !== 0, index: v & 0x7f });
          }
        }
        entries.push({ itemId, associations });
      }
      meta.associations.push({ version, flags, entries });
    } else {
      meta.otherIprpChildren.push(Buffer.from(buf.subarray(child.start, child.end)));
    }
  }
}
