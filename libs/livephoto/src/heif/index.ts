export { addExifToHeic, readHeicExif, readHeicExifFromFile, readHeicExifFromHandle, exifItemPayload, APPLE_HEIC_COMPATIBLE_BRANDS, DEFAULT_NCLX, type HeicExif } from './heic-exif';
export {
  parseHeif,
  serializeHeif,
  readItemData,
  propertiesOf,
  encodeMeta,
  encodeFileType,
  type HeifFile,
  type HeifLimits,
  type HeifMeta,
  type FileType,
  type ItemInfoEntry,
  type ItemLocation,
  type ItemLocationBox,
  type ItemExtent,
  type ItemReference,
} from './heif-file';
export { readBoxes, type BoxHeader } from './boxes';
export { readHeifHead, readHeifItem, type HeifHead } from './heif-reader';
export { writeHeicStill, type WriteHeicStillOptions } from './write-heic-still';
