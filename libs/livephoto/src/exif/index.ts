export * from './apple-maker-note';
export * from './tiff';
export * from './jpeg';
export {
  TiffType,
  type TiffByteOrder,
  type TiffEntry,
  type TiffValue,
} from './tiff-ifd';
