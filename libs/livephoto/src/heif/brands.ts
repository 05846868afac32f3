/** `ftyp` major brands of a HEIF still (HEIC and its image-collection forms), as a file's first 12 bytes show them. */
export const HEIF_STILL_BRANDS: ReadonlySet<string> = new Set(['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1']);

/** True when `head` (≥ 12 bytes from offset 0) starts a HEIF still: an `ftyp` box with one of those brands. */
export function isHeifStillHead(head: Buffer): boolean {
  return head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp' && HEIF_STILL_BRANDS.has(head.toString('latin1', 8, 12));
}
