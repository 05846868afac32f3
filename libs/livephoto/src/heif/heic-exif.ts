import { HEIF_ENC_NCLX } from '@vid2live/media/heif-params';
import { LivePhotoError } from '@vid2live/errors';
import { parseExifTiff, ParsedExifTiff } from '../exif/tiff';
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile } from '../quicktime/regular-file';
import { box, fullBox, invalidHeif, u16be } from './boxes';
import { readHeifHead, readHeifItem } from './heif-reader';
import {
  FileType,
  HeifFile,
  HeifLimits,
  HeifMeta,
  parseHeif,
  propertiesOf,
  readItemData,
  removeItems,
  serializeHeif,
  usedItemIds,
} from './heif-file';

/**
 * The brands a genuine iPhone HEIC declares (live-photo-format.md §2.4); missing Apple brands make Photos flash
 * grey (pitfall P6). `tmap` is added only when the file really has a gain-map item.
 */
export const APPLE_HEIC_COMPATIBLE_BRANDS = ['mif1', 'MiHB', 'MiHA', 'heix', 'MiHE', 'MiPr', 'heic', 'miaf'] as const;

/**
 * nclx written when the primary image has no colour information. It must describe how the pixels were encoded,
 * so it is the one heif-enc is told to use (BT.709 primaries, sRGB transfer, BT.601 matrix, full range).
 */
export const DEFAULT_NCLX = HEIF_ENC_NCLX;

/** Properties that transform the image; descriptive ones (pixi, colr) must be associated before them. */
const TRANSFORMATIVE_PROPERTIES = new Set(['clap', 'irot', 'imir', 'iscl']);
/** Primary item types that are HEVC-coded, directly or through derived tiles/overlays. */
const HEVC_PRIMARY_TYPES = new Set(['hvc1', 'grid', 'iden', 'iovl']);

/** Exif item payload: u32 offset to the TIFF header (6, past "Exif\0\0"), "Exif\0\0", TIFF. */
export function exifItemPayload(tiff: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(6);
  return Buffer.concat([head, Buffer.from('Exif\0\0', 'latin1'), tiff]);
}

/**
 * Give a HEIC exactly one Exif item holding `tiff`, referenced `cdsc` → the primary item, and fix what iOS Photos
 * needs from a libheif-made file (pitfall P6): Apple brands in `ftyp`, a 3-channel `pixi` and an nclx `colr` on
 * the primary. The Exif data goes into a new `mdat` at the end; every `iloc` offset that moved is rewritten.
 */
export function addExifToHeic(heic: Buffer, tiff: Buffer): Buffer {
  const file = parseHeif(heic);
  const { meta } = file;
  const primaryId = meta.primaryItem?.itemId;
  if (primaryId === undefined || !meta.itemInfo || !meta.itemLocation) throw invalidHeif('missing pitm, iinf or iloc');
  const primaryType = meta.itemInfo.entries.find((e) => e.itemId === primaryId)?.itemType;
  if (!primaryType || !HEVC_PRIMARY_TYPES.has(primaryType)) {
    throw new LivePhotoError('INVALID_CONTAINER', `not a HEIC: the primary item is '${primaryType ?? 'unknown'}', not HEVC-coded`);
  }

  removeExifItems(meta);
  const exifId = Math.max(0, ...usedItemIds(meta)) + 1;
  meta.itemInfo.entries.push({ itemId: exifId, itemType: 'Exif', name: '', version: exifId > 0xffff ? 3 : 2, flags: 1 }); // hidden, as Apple writes it
  meta.itemLocation.items.push({ itemId: exifId, constructionMethod: 0, dataReferenceIndex: 0, baseOffset: 0, extents: [] });
  meta.itemReference ??= { version: 0, flags: 0, references: [] };
  meta.itemReference.references.push({ type: 'cdsc', fromItemId: exifId, toItemIds: [primaryId] });
  file.appendedItemData.set(exifId, exifItemPayload(tiff));

  file.fileType = appleFileType(file);
  fixPrimaryColourProperties(file, primaryId);
  return serializeHeif(file);
}

function removeExifItems(meta: HeifMeta): void {
  removeItems(meta, new Set(meta.itemInfo!.entries.filter((e) => e.itemType === 'Exif').map((e) => e.itemId)));
}

function appleFileType(file: HeifFile): FileType {
  const hasGainMap = file.meta.itemInfo!.entries.some((e) => e.itemType === 'tmap');
  const brands: string[] = [...APPLE_HEIC_COMPATIBLE_BRANDS];
  if (hasGainMap) brands.push('tmap');
  // Keep other brands the encoder declared, except a tmap claim without a gain map.
  for (const b of file.fileType.compatibleBrands) if (!brands.includes(b) && b !== 'tmap') brands.push(b);
  return { majorBrand: 'heic', minorVersion: 0, compatibleBrands: brands };
}

interface HevcFormat {
  monochrome: boolean;
  bitDepth: number;
}

/** Chroma format and luma bit depth from an hvcC box (ISO 14496-15 HEVCDecoderConfigurationRecord). */
function hevcFormat(hvcC: Buffer): HevcFormat | undefined {
  // 8-byte box header, then: version, profile byte, 4 compat flags, 6 constraint flags, level, 2 min seg, parallelism
  const at = 8 + 16;
  if (hvcC.length < at + 2) return undefined;
  return { monochrome: (hvcC[at] & 3) === 0, bitDepth: (hvcC[at + 1] & 7) + 8 };
}

/** The HEVC configuration that decides the primary's pixel format: its own, or its first tile's. */
function primaryHevcFormat(file: HeifFile, primaryId: number): HevcFormat | undefined {
  const own = propertiesOf(file.meta, primaryId).find((p) => p.type === 'hvcC');
  if (own) return hevcFormat(own.box);
  const tile = file.meta.itemReference?.references.find((r) => r.type === 'dimg' && r.fromItemId === primaryId)?.toItemIds[0];
  if (tile === undefined) return undefined;
  const tileConfig = propertiesOf(file.meta, tile).find((p) => p.type === 'hvcC');
  return tileConfig ? hevcFormat(tileConfig.box) : undefined;
}

function fixPrimaryColourProperties(file: HeifFile, primaryId: number): void {
  const { meta } = file;
  if (!meta.properties || !meta.associations) return; // no iprp: nothing a viewer could use either
  const format = primaryHevcFormat(file, primaryId);
  const current = propertiesOf(meta, primaryId);
  let entry = meta.associations.flatMap((a) => a.entries).find((e) => e.itemId === primaryId);
  if (!entry) {
    entry = { itemId: primaryId, associations: [] };
    if (meta.associations.length === 0) meta.associations.push({ version: 0, flags: 0, entries: [] });
    meta.associations[0].entries.push(entry);
  }
  const addDescriptive = (property: Buffer) => {
    meta.properties!.push(property);
    const at = entry!.associations.findIndex((a) => TRANSFORMATIVE_PROPERTIES.has(propertyType(meta, a.index)));
    const association = { index: meta.properties!.length, essential: false };
    if (at === -1) entry!.associations.push(association);
    else entry!.associations.splice(at, 0, association);
  };

  // A colour image declared with 1 channel (or none) shows grey in the iOS viewer.
  const pixi = current.find((p) => p.type === 'pixi');
  const channels = pixi && pixi.box.length > 12 ? pixi.box[12] : 0;
  if (format && !format.monochrome && channels !== 3) {
    if (pixi) entry.associations = entry.associations.filter((a) => a.index !== pixi.index);
    addDescriptive(fullBox('pixi', 0, 0, Buffer.from([3, format.bitDepth, format.bitDepth, format.bitDepth])));
  }
  if (!current.some((p) => p.type === 'colr')) {
    const { colourPrimaries, transferCharacteristics, matrixCoefficients, fullRange } = DEFAULT_NCLX;
    addDescriptive(
      box('colr', Buffer.from('nclx', 'latin1'), u16be(colourPrimaries), u16be(transferCharacteristics), u16be(matrixCoefficients), Buffer.from([fullRange ? 0x80 : 0])),
    );
  }
}

function propertyType(meta: HeifMeta, index: number): string {
  return meta.properties?.[index - 1]?.toString('latin1', 4, 8) ?? '';
}

// ---------------------------------------------------------------------------------------------- reading

export interface HeicExif {
  /** the first Exif item's TIFF, parsed; null when there is no Exif item */
  tiff: ParsedExifTiff | null;
  brands: FileType;
  primaryItemId: number | null;
  exifItemId: number | null;
  exifItemCount: number;
  /** items the Exif item describes (`iref cdsc` from it) */
  cdscTargets: number[];
  /** primary item's `pixi` channel count (null when it has none) */
  primaryPixiChannels: number | null;
  /** primary item's `colr` colour types, e.g. ['nclx'] or ['prof', 'nclx'] */
  primaryColourTypes: string[];
}

/** An Exif item holds a few kB (a thumbnail at most); more is not an Exif block. */
export const MAX_EXIF_ITEM_BYTES = 4 * 1024 * 1024;

export function readHeicExif(heic: Buffer, limits: HeifLimits = {}): HeicExif {
  const file = parseHeif(heic, limits);
  return describeHeicExif(file.meta, file.fileType, (id) => readItemData(file, id, MAX_EXIF_ITEM_BYTES));
}

/**
 * `readHeicExif` for a file on disk, read by offset (`readHeifHead`): only `ftyp`, `meta` and the Exif item's
 * extents are loaded, whatever the size of the file. The file must be regular (see `openRegularFile`).
 */
export async function readHeicExifFromFile(path: string, limits: HeifLimits = {}): Promise<HeicExif> {
  const { handle, size } = await openRegularFile(path);
  try {
    return await readHeicExifFromHandle(handle, size, limits);
  } finally {
    await handle.close();
  }
}

/** `readHeicExifFromFile` on an open regular file of `size` bytes. */
export async function readHeicExifFromHandle(handle: FileHandle, size: number, limits: HeifLimits = {}): Promise<HeicExif> {
  const head = await readHeifHead(handle, size, limits);
  const exifItemId = head.meta.itemInfo?.entries.find((e) => e.itemType === 'Exif')?.itemId;
  const payload = exifItemId === undefined ? undefined : await readHeifItem(handle, head, exifItemId, MAX_EXIF_ITEM_BYTES);
  return describeHeicExif(head.meta, head.fileType, () => payload!);
}

function describeHeicExif(meta: HeifMeta, brands: FileType, exifPayload: (itemId: number) => Buffer): HeicExif {
  const exifItems = meta.itemInfo?.entries.filter((e) => e.itemType === 'Exif') ?? [];
  const exifItemId = exifItems[0]?.itemId ?? null;
  const primaryItemId = meta.primaryItem?.itemId ?? null;
  let tiff: ParsedExifTiff | null = null;
  if (exifItemId !== null) {
    const payload = exifPayload(exifItemId);
    if (payload.length < 4) throw invalidHeif(`Exif item ${exifItemId} is shorter than its header`);
    tiff = parseExifTiff(payload.subarray(4 + payload.readUInt32BE(0)));
  }
  const primaryProps = primaryItemId === null ? [] : propertiesOf(meta, primaryItemId);
  const pixi = primaryProps.find((p) => p.type === 'pixi');
  return {
    tiff,
    brands,
    primaryItemId,
    exifItemId,
    exifItemCount: exifItems.length,
    cdscTargets:
      exifItemId === null
        ? []
        : (meta.itemReference?.references ?? []).filter((r) => r.type === 'cdsc' && r.fromItemId === exifItemId).flatMap((r) => r.toItemIds),
    primaryPixiChannels: pixi && pixi.box.length > 12 ? pixi.box[12] : null,
    primaryColourTypes: primaryProps.filter((p) => p.type === 'colr').map((p) => p.box.toString('latin1', 8, 12)),
  };
}

/** The raw TIFF block of a HEIC's (first) Exif item, after its u32 header offset; null when it has none. */
export function heicExifTiffBytes(heic: Buffer, limits: HeifLimits = {}): Buffer | null {
  const file = parseHeif(heic, limits);
  const id = file.meta.itemInfo?.entries.find((e) => e.itemType === 'Exif')?.itemId;
  if (id === undefined) return null;
  const payload = readItemData(file, id, MAX_EXIF_ITEM_BYTES);
  if (payload.length < 4) return null;
  const start = 4 + payload.readUInt32BE(0);
  return start < payload.length ? Buffer.from(payload.subarray(start)) : null;
}
