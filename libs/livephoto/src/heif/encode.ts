import { box, fullBox, u16be, u32be, uintBytes } from './boxes';
import { usedItemIds } from './items';
import { FileType, HeifMeta, ItemLocationBox, ItemPropertyAssociationBox } from './model';

/** Encoding the model's `ftyp` and `meta` (with the field widths and versions their content needs). */

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
