import { LivePhotoError } from '@vid2live/errors';
import {
  box,
  BoxCursor,
  BoxHeader,
  fitsIn,
  fullBox,
  fullBoxHead,
  invalidHeif,
  readBoxes,
  u16be,
  u32be,
  uintBytes,
} from './boxes';

/**
 * A minimal HEIF (ISO 23008-12) model: the top-level boxes, `ftyp`, and the `meta` box's item structure
 * (`hdlr pitm iinf iloc iref iprp/ipco/ipma idat`, `grpl` ids). Boxes it does not model are carried as raw bytes.
 * `serializeHeif` lays the file out again and rewrites every `iloc` offset that moved.
 */

export interface FileType {
  majorBrand: string;
  minorVersion: number;
  compatibleBrands: string[];
}

export interface ItemInfoEntry {
  itemId: number;
  /** four-character item type (`hvc1`, `grid`, `Exif`, `mime`, …); undefined for infe v0/v1 */
  itemType?: string;
  name: string;
  contentType?: string;
  version: number;
  flags: number;
  /** the original bytes, re-emitted unchanged when present */
  raw?: Buffer;
}

export interface ItemExtent {
  index: number;
  offset: number;
  /** 0 = to the end of the data source */
  length: number;
}

export interface ItemLocation {
  itemId: number;
  /** 0 = file offset, 1 = offset into `idat`, 2 = offset into another item */
  constructionMethod: number;
  dataReferenceIndex: number;
  baseOffset: number;
  extents: ItemExtent[];
}

export interface ItemLocationBox {
  version: number;
  offsetSize: number;
  lengthSize: number;
  baseOffsetSize: number;
  indexSize: number;
  items: ItemLocation[];
}

export interface ItemReference {
  type: string;
  fromItemId: number;
  toItemIds: number[];
}

export interface PropertyAssociation {
  /** 1-based index into ipco */
  index: number;
  essential: boolean;
}

export interface ItemPropertyAssociationBox {
  version: number;
  flags: number;
  entries: Array<{ itemId: number; associations: PropertyAssociation[] }>;
}

export interface HeifMeta {
  version: number;
  flags: number;
  /** child box types in file order; modelled ones are re-encoded, the others come from `raw` */
  order: string[];
  raw: Map<string, Buffer[]>;
  handlerType?: string;
  primaryItem?: { version: number; itemId: number };
  itemInfo?: { version: number; flags: number; entries: ItemInfoEntry[] };
  itemLocation?: ItemLocationBox;
  itemReference?: { version: number; flags: number; references: ItemReference[] };
  /** ipco children, raw boxes; association index i refers to properties[i - 1] */
  properties?: Buffer[];
  associations?: ItemPropertyAssociationBox[];
  /** iprp children other than ipco/ipma */
  otherIprpChildren?: Buffer[];
  itemData?: Buffer;
  /** entity-group ids (grpl) share the item id space */
  groupIds: number[];
}

export interface HeifFile {
  source: Buffer;
  topLevel: BoxHeader[];
  fileType: FileType;
  meta: HeifMeta;
  /** data for new items, placed in one `mdat` appended at the end by `serializeHeif` (construction method 0) */
  appendedItemData: Map<number, Buffer>;
}

// ---------------------------------------------------------------------------------------------- parsing

/** Bounds on what an `iloc` may describe (see `parseHeif`). */
export interface HeifLimits {
  /** extents over all items; default 100 000 (a 48 MP grid has a few hundred) */
  maxExtents?: number;
  /**
   * bytes all extents may reference together, counting overlaps each time they occur; default 4 × the file
   * size (items tile the media data once in genuine files; a crafted `iloc` that points every extent at the
   * whole file would otherwise cost gigabytes to read)
   */
  maxReferencedBytes?: number;
}

export const MAX_ILOC_EXTENTS = 100_000;
/** Bytes `readItemData` returns at most unless told otherwise. */
export const MAX_ITEM_BYTES = 64 * 1024 * 1024;

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

// ---------------------------------------------------------------------------------------------- queries

/** Every id in the item/entity id space (items, references, locations, associations, entity groups). */
export function usedItemIds(meta: HeifMeta): number[] {
  const ids = new Set<number>(meta.groupIds);
  meta.itemInfo?.entries.forEach((e) => ids.add(e.itemId));
  meta.itemLocation?.items.forEach((i) => ids.add(i.itemId));
  meta.itemReference?.references.forEach((r) => [r.fromItemId, ...r.toItemIds].forEach((id) => ids.add(id)));
  meta.associations?.forEach((a) => a.entries.forEach((e) => ids.add(e.itemId)));
  if (meta.primaryItem) ids.add(meta.primaryItem.itemId);
  return [...ids];
}

/**
 * The bytes of an item, as `iloc` locates them in the original file (construction methods 0 and 1). Refuses
 * (INVALID_CONTAINER) an item of more than `maxBytes` before allocating anything.
 */
export function readItemData(file: HeifFile, itemId: number, maxBytes = MAX_ITEM_BYTES): Buffer {
  const appended = file.appendedItemData.get(itemId);
  if (appended) return appended;
  const loc = file.meta.itemLocation?.items.find((i) => i.itemId === itemId);
  if (!loc) throw invalidHeif(`item ${itemId} has no iloc entry`);
  if (loc.dataReferenceIndex !== 0) throw invalidHeif(`item ${itemId} lives in an external file`);
  let source: Buffer;
  if (loc.constructionMethod === 0) source = file.source;
  else if (loc.constructionMethod === 1) source = file.meta.itemData ?? Buffer.alloc(0);
  else throw invalidHeif(`item ${itemId} uses construction method ${loc.constructionMethod}, which is not supported`);
  const ranges = itemRanges(loc, source.length, maxBytes);
  return Buffer.concat(ranges.map(([start, end]) => source.subarray(start, end)));
}

/**
 * The [start, end) ranges of an item's extents in a data source of `sourceSize` bytes, checked to lie inside
 * it and to add up to at most `maxBytes` (INVALID_CONTAINER otherwise), before anything is read.
 */
export function itemRanges(loc: ItemLocation, sourceSize: number, maxBytes: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let total = 0;
  for (const e of loc.extents) {
    const start = loc.baseOffset + e.offset;
    const end = e.length === 0 ? sourceSize : start + e.length;
    if (start > end || end > sourceSize) throw invalidHeif(`item ${loc.itemId} extent ${start}+${e.length} lies outside its data`);
    total += end - start;
    if (total > maxBytes) throw invalidHeif(`item ${loc.itemId} is larger than ${maxBytes} B`);
    ranges.push([start, end]);
  }
  return ranges;
}

/** Box type of every property associated with `itemId`, in association order. */
export function propertiesOf(meta: HeifMeta, itemId: number): Array<{ index: number; box: Buffer; type: string; essential: boolean }> {
  const entry = meta.associations?.flatMap((a) => a.entries).find((e) => e.itemId === itemId);
  return (entry?.associations ?? []).map(({ index, essential }) => {
    const b = meta.properties?.[index - 1];
    if (!b) throw invalidHeif(`item ${itemId} refers to missing property ${index}`);
    return { index, box: b, type: b.toString('latin1', 4, 8), essential };
  });
}

// ---------------------------------------------------------------------------------------------- writing

export function encodeFileType(t: FileType): Buffer {
  return box('ftyp', Buffer.from(t.majorBrand, 'latin1'), u32be(t.minorVersion), ...t.compatibleBrands.map((b) => Buffer.from(b, 'latin1')));
}

function encodeItemInfo(info: NonNullable<HeifMeta['itemInfo']>): Buffer {
  const version = info.entries.length > 0xffff ? 1 : info.version;
  const entries = info.entries.map((e) => {
    if (e.raw) return e.raw;
    const v = e.itemId > 0xffff ? 3 : Math.max(2, e.version);
    const parts = [v === 2 ? u16be(e.itemId) : u32be(e.itemId), u16be(0), Buffer.from(e.itemType ?? 'unkn', 'latin1'), Buffer.from(`${e.name}\0`, 'utf8')];
    if (e.itemType === 'mime') parts.push(Buffer.from(`${e.contentType ?? ''}\0`, 'utf8'));
    return fullBox('infe', v, e.flags, ...parts);
  });
  return fullBox('iinf', version, info.flags, version === 0 ? u16be(entries.length) : u32be(entries.length), ...entries);
}

function encodeItemLocation(loc: ItemLocationBox): Buffer {
  const { version } = loc;
  const parts: Buffer[] = [
    Buffer.from([(loc.offsetSize << 4) | loc.lengthSize, (loc.baseOffsetSize << 4) | (version === 0 ? 0 : loc.indexSize)]),
    version < 2 ? u16be(loc.items.length) : u32be(loc.items.length),
  ];
  for (const item of loc.items) {
    parts.push(version < 2 ? u16be(item.itemId) : u32be(item.itemId));
    if (version > 0) parts.push(u16be(item.constructionMethod & 15));
    parts.push(u16be(item.dataReferenceIndex), uintBytes(item.baseOffset, loc.baseOffsetSize), u16be(item.extents.length));
    for (const e of item.extents) {
      if (version > 0 && loc.indexSize > 0) parts.push(uintBytes(e.index, loc.indexSize));
      parts.push(uintBytes(e.offset, loc.offsetSize), uintBytes(e.length, loc.lengthSize));
    }
  }
  return fullBox('iloc', version, 0, ...parts);
}

function encodeItemReference(iref: NonNullable<HeifMeta['itemReference']>): Buffer {
  const wide = iref.version === 1;
  const id = (v: number) => (wide ? u32be(v) : u16be(v));
  return fullBox(
    'iref',
    iref.version,
    iref.flags,
    ...iref.references.map((r) => box(r.type, id(r.fromItemId), u16be(r.toItemIds.length), ...r.toItemIds.map(id))),
  );
}

function encodeAssociations(a: ItemPropertyAssociationBox): Buffer {
  const parts: Buffer[] = [u32be(a.entries.length)];
  for (const e of [...a.entries].sort((x, y) => x.itemId - y.itemId)) {
    parts.push(a.version < 1 ? u16be(e.itemId) : u32be(e.itemId), Buffer.from([e.associations.length]));
    for (const p of e.associations) {
      parts.push(a.flags & 1 ? u16be((p.essential ? 0x8000 : 0) | p.index) : Buffer.from([(p.essential ? 0x80 : 0) | p.index]));
    }
  }
  return fullBox('ipma', a.version, a.flags, ...parts);
}

/** Pick versions and field widths that can hold the current ids and indices. */
function widenForContent(meta: HeifMeta): void {
  const maxId = Math.max(0, ...usedItemIds(meta));
  if (meta.itemLocation && maxId > 0xffff) meta.itemLocation.version = 2;
  if (meta.itemReference && maxId > 0xffff) meta.itemReference.version = 1;
  if (meta.primaryItem && meta.primaryItem.itemId > 0xffff) meta.primaryItem.version = 1;
  for (const a of meta.associations ?? []) {
    if (maxId > 0xffff) a.version = Math.max(1, a.version);
    if ((meta.properties?.length ?? 0) > 127) a.flags |= 1;
  }
}

export function encodeMeta(meta: HeifMeta): Buffer {
  widenForContent(meta);
  const order = [...meta.order];
  // A new iref goes right after iinf (any position is legal; this is where libheif and Apple put it).
  if (meta.itemReference && !order.includes('iref')) order.splice(order.indexOf('iinf') + 1, 0, 'iref');
  const seen = new Map<string, number>();
  const children = order.map((type) => {
    const nth = seen.get(type) ?? 0;
    seen.set(type, nth + 1);
    switch (type) {
      case 'pitm':
        return fullBox('pitm', meta.primaryItem!.version, 0, meta.primaryItem!.version === 0 ? u16be(meta.primaryItem!.itemId) : u32be(meta.primaryItem!.itemId));
      case 'iinf':
        return encodeItemInfo(meta.itemInfo!);
      case 'iloc':
        return encodeItemLocation(meta.itemLocation!);
      case 'iref':
        return meta.itemReference!.references.length ? encodeItemReference(meta.itemReference!) : Buffer.alloc(0);
      case 'iprp':
        return box('iprp', box('ipco', ...(meta.properties ?? [])), ...(meta.associations ?? []).map(encodeAssociations), ...(meta.otherIprpChildren ?? []));
      case 'idat':
        return box('idat', meta.itemData ?? Buffer.alloc(0));
      default:
        return meta.raw.get(type)![nth];
    }
  });
  return fullBox('meta', meta.version, meta.flags, ...children);
}

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
