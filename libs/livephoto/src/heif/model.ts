import type { BoxHeader } from './boxes';

/**
 * A minimal HEIF (ISO 23008-12) model: the top-level boxes, `ftyp`, and the `meta` box's item structure
 * (`hdlr pitm iinf iloc iref iprp/ipco/ipma idat`, `grpl` ids). Boxes it does not model are carried as raw bytes.
 * Parsed by `parse.ts`, queried by `items.ts`, encoded by `encode.ts`, laid out again by `layout.ts`.
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
