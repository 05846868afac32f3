import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { isLivePhotoError, LivePhotoError } from '@vid2live/errors';
import { checkContainerIntegrity } from '../quicktime/integrity';

/** The probe stage's look at a source's first bytes, before ffprobe: a box file? a HEIF/AVIF image? cut short? */

/**
 * The first bytes of a source served by the worker's loopback range proxy (never an external URL: isRemoteSource
 * accepts only that proxy). An empty buffer when it cannot say; ffprobe's own read reports the real error.
 */
export function peekRemoteHead(url: string, signal?: AbortSignal, length = 8): Promise<Buffer> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: { Range: `bytes=0-${length - 1}` }, timeout: 10_000, signal }, (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        res.resume();
        resolve(Buffer.alloc(0));
        return;
      }
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (got >= length) res.destroy();
      });
      res.on('close', () => resolve(Buffer.concat(chunks).subarray(0, length)));
      res.on('error', () => resolve(Buffer.concat(chunks).subarray(0, length)));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(Buffer.alloc(0)));
  });
}

export const FIRST_BOX_TYPES = new Set(['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot', 'uuid']);

/** Enough of the file's start for an `ftyp` box with a dozen compatible brands. */
export const FTYP_PEEK_BYTES = 64;

export async function readHead(file: string, length: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(length);
    const { bytesRead } = await fh.read(head, 0, length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** HEIF (HEIC) and AVIF still-image brands: image items, no movie. `msf1` is a HEIF image sequence (bursts). */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'mif1', 'mif2', 'msf1', 'avif']);
/** Major brands of movies: a video that merely lists `mif1` among its compatible brands stays a video. */
const VIDEO_MAJOR_RE = /^(isom|iso\d|mp4\d|mp71|qt {2}|M4V |M4VP|avc1|3g[p2s].|dash|f4v |MSNV|XAVC|mqt |crx )$/;

/**
 * The image brand of an ISO-BMFF file's `ftyp` when it is a HEIF/AVIF still (major brand an image brand, or an
 * image brand among the compatible ones under a major brand that is not a movie's), else undefined.
 */
export function heifImageBrand(head: Buffer): string | undefined {
  if (head.length < 16 || head.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  const size = Math.min(head.readUInt32BE(0), head.length);
  const major = head.toString('latin1', 8, 12);
  if (IMAGE_BRANDS.has(major)) return major;
  if (VIDEO_MAJOR_RE.test(major)) return undefined;
  for (let at = 16; at + 4 <= size; at += 4) {
    const brand = head.toString('latin1', at, at + 4);
    if (IMAGE_BRANDS.has(brand)) return brand;
  }
  return undefined;
}

export function assertNotHeifImage(sourcePath: string, head: Buffer): void {
  const brand = heifImageBrand(head);
  if (!brand) return;
  const kind = brand.startsWith('avi') ? 'AVIF' : 'HEIF/HEIC';
  throw new LivePhotoError('INPUT_IS_IMAGE', `${sourcePath} is a still image (${kind}, brand '${brand}'), not a video`, {
    file: sourcePath,
    brand,
  });
}

/**
 * A MOV/MP4 cut short (faststart files keep a readable moov, so ffprobe alone does not notice) shows up as a
 * top-level box reaching past the end of the file, or, when the box sizes were fixed up after the cut (the
 * video inside a shortened Motion Photo), as sample tables pointing past it: the quicktime module finds both. Only its
 * INPUT_TRUNCATED verdict counts here; any other complaint about the structure is left to ffprobe, which
 * plays many imperfect files.
 */
export async function checkNotTruncated(file: string): Promise<void> {
  try {
    await checkContainerIntegrity(file);
  } catch (e) {
    if (isLivePhotoError(e) && e.code === 'INPUT_TRUNCATED') {
      throw new LivePhotoError('INPUT_TRUNCATED', `${file} is truncated: ${e.message}`, { ...e.details, file }, { cause: e });
    }
  }
}

