/**
 * The HEIF file API in one import: the model (`model.ts`), parsing (`parse.ts`), item queries (`items.ts`),
 * encoding (`encode.ts`) and layout (`layout.ts`).
 */
export type {
  FileType,
  HeifFile,
  HeifLimits,
  HeifMeta,
  ItemExtent,
  ItemInfoEntry,
  ItemLocation,
  ItemLocationBox,
  ItemPropertyAssociationBox,
  ItemReference,
  PropertyAssociation,
} from './model';
export { MAX_ILOC_EXTENTS, MAX_ITEM_BYTES } from './model';
export { checkReferencedBytes, parseFileType, parseHeif, parseMeta } from './parse';
export { itemRanges, propertiesOf, readItemData, removeItems, usedItemIds } from './items';
export { encodeFileType, encodeMeta } from './encode';
export { serializeHeif } from './layout';
