import { invalidHeif } from './boxes';
import { HeifFile, HeifMeta, ItemLocation, MAX_ITEM_BYTES } from './model';

/** Questions about a parsed HEIF: the item id space, an item's bytes and extents, its properties. */

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
 * Removes items from the structure: their info, location, references (from and to them) and property
 * associations. Their bytes stay where they are, unreferenced (moving media data is not worth the risk).
 */
export function removeItems(meta: HeifMeta, ids: ReadonlySet<number>): void {
  if (ids.size === 0) return;
  if (meta.itemInfo) meta.itemInfo.entries = meta.itemInfo.entries.filter((e) => !ids.has(e.itemId));
  if (meta.itemLocation) meta.itemLocation.items = meta.itemLocation.items.filter((i) => !ids.has(i.itemId));
  if (meta.itemReference) {
    meta.itemReference.references = meta.itemReference.references
      .filter((r) => !ids.has(r.fromItemId))
      .map((r) => ({ ...r, toItemIds: r.toItemIds.filter((id) => !ids.has(id)) }))
      .filter((r) => r.toItemIds.length > 0);
  }
  for (const a of meta.associations ?? []) a.entries = a.entries.filter((e) => !ids.has(e.itemId));
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
