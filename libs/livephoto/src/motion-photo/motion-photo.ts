import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { openRegularFile } from '../quicktime/regular-file';
import {
  appSegment,
  findJpegEnd,
  isExtendedXmpApp1,
  isXmpApp1,
  jpegMarkerAt,
  JpegMarker,
  readJpegHeader,
  rebuildJpegHeader,
  XMP_APP1_IDENTIFIER,
} from '../exif/jpeg';
import { buildMotionPhotoXmp, parseMotionPhotoXmp } from './motion-photo-xmp';

/** ExifTool only extracts a `video/mp4` trailer whose first box is `ftyp` with one of these major brands. */
export const MOTION_PHOTO_VIDEO_BRANDS = ['isom', 'mp42'] as const;

export interface WriteMotionPhotoInput {
  /** the still, already carrying its Exif APP1 */
  jpeg: Buffer;
  /** an MP4 (`ftyp` isom/mp42) re-mux of the clip; streamed, never loaded whole */
  mp4Path: string;
  outputPath: string;
  /** still time in µs of the video, or -1 for unspecified */
  presentationTimestampUs: number;
  signal?: AbortSignal;
}

export interface MotionPhotoLayout {
  /** file offset where the MP4 starts (= JPEG length) */
  videoOffset: number;
  videoLength: number;
  fileSize: number;
}

/**
 * Write a Google Motion Photo v1 JPEG (live-photo-format.md §6.1): the still with the Motion Photo XMP APP1 right
 * after its Exif APP1, immediately followed by the MP4 bytes. Written to a temporary file and renamed, so a reader
 * never sees a half-written photo.
 */
export async function writeMotionPhoto(input: WriteMotionPhotoInput): Promise<MotionPhotoLayout> {
  const { jpeg, mp4Path, outputPath, presentationTimestampUs, signal } = input;
  throwIfAborted(signal);
  if (!Number.isSafeInteger(presentationTimestampUs) || presentationTimestampUs < -1) {
    throw new LivePhotoError('INVALID_OPTIONS', `presentationTimestampUs must be an integer ≥ -1, got ${presentationTimestampUs}`);
  }
  const videoLength = await motionPhotoVideoLength(mp4Path);

  const xmp = Buffer.concat([XMP_APP1_IDENTIFIER, Buffer.from(buildMotionPhotoXmp({ videoLength, presentationTimestampUs }), 'utf8')]);
  // Anything after EOI (an older trailer) would break "video starts at fileSize − Length" with Padding 0.
  const image = jpeg.subarray(0, findJpegEnd(jpeg));
  // Drop any previous XMP (and its extended chunks, which are tied to the old packet's GUID).
  const still = rebuildJpegHeader(image, { afterExif: [appSegment(JpegMarker.APP1, xmp)] }, (s) => isXmpApp1(image, s) || isExtendedXmpApp1(image, s));

  const tmp = path.join(path.dirname(outputPath), `.${path.basename(outputPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fsp.writeFile(tmp, still);
    await pipeline(createReadStream(mp4Path), createWriteStream(tmp, { flags: 'a' }), { signal });
    const fileSize = (await fsp.stat(tmp)).size;
    if (fileSize !== still.length + videoLength) {
      throw new LivePhotoError('OUTPUT_WRITE_FAILED', `${mp4Path} changed size while it was being appended`);
    }
    await fsp.rename(tmp, outputPath);
    return { videoOffset: still.length, videoLength, fileSize };
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    if (signal?.aborted) throw new LivePhotoError('CANCELED', undefined, undefined, { cause: e });
    if (e instanceof LivePhotoError) throw e;
    throw new LivePhotoError('OUTPUT_WRITE_FAILED', `writing the Motion Photo ${outputPath} failed: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/**
 * The byte length of the MP4 a Motion Photo (JPEG or HEIC) will carry, after checking it is one: `ftyp` with brand
 * isom/mp42 — a QuickTime file labelled video/mp4 is skipped by ExifTool and confuses players (pitfall P10).
 */
export async function motionPhotoVideoLength(mp4Path: string): Promise<number> {
  const videoLength = (await fsp.stat(mp4Path)).size;
  const brand = await readFtypBrand(mp4Path, 0);
  if (brand === null || !(MOTION_PHOTO_VIDEO_BRANDS as readonly string[]).includes(brand)) {
    throw new LivePhotoError(
      'INVALID_CONTAINER',
      `${mp4Path} is not an MP4 with ftyp brand isom/mp42 (found ${brand === null ? 'no ftyp' : `"${brand}"`})`,
    );
  }
  return videoLength;
}

const IMAGE_EXTENSION = /\.(jpe?g|heic|avif)$/i;

/** `IMG_0001` → `IMG_0001.MP.jpg`: the spec's file-name pattern `…MP.jpg`, which some readers require. */
export function motionPhotoFileName(baseName: string): string {
  const stem = baseName.replace(IMAGE_EXTENSION, '');
  if (stem === '' || /^\s/.test(stem) || /[/\\]/.test(stem)) {
    throw new LivePhotoError('INVALID_OPTIONS', `"${baseName}" cannot be a Motion Photo file name (no path separators, no leading space)`);
  }
  return `${stem}.MP.jpg`;
}

export interface MotionPhotoInfo {
  isMotionPhoto: boolean;
  version: number | null;
  presentationTimestampUs: number | null;
  videoOffset: number | null;
  videoLength: number | null;
  videoMime: string | null;
  /** ftyp major brand of the appended video */
  videoBrand: string | null;
  problems: string[];
}

/**
 * Inspect a Motion Photo JPEG the way media3/ExifTool would: XMP attribute form and prefixes, the MotionPhoto item,
 * an `ftyp` (isom/mp42) at fileSize − Length, and the JPEG's EOI right before the video. Reads only the header
 * segments and a few bytes around the video offset.
 */
export async function readMotionPhoto(file: string): Promise<MotionPhotoInfo> {
  const info: MotionPhotoInfo = {
    isMotionPhoto: false,
    version: null,
    presentationTimestampUs: null,
    videoOffset: null,
    videoLength: null,
    videoMime: null,
    videoBrand: null,
    problems: [],
  };
  const { handle, size: fileSize } = await openRegularFile(file);
  try {
    const xmpPackets = await readXmpPackets(handle, fileSize);
    if (xmpPackets.length === 0) {
      info.problems.push('no XMP APP1 segment');
      return info;
    }
    if (xmpPackets.length > 1) info.problems.push(`${xmpPackets.length} XMP APP1 segments; readers take only one`);
    const xmp = parseMotionPhotoXmp(xmpPackets[0]);
    info.problems.push(...xmp.problems);
    info.version = xmp.version;
    info.presentationTimestampUs = xmp.presentationTimestampUs;

    const video = xmp.items.find((i) => i.semantic === 'MotionPhoto');
    if (!video) {
      info.problems.push('no Container:Item with Semantic "MotionPhoto"');
      return info;
    }
    const primary = xmp.items.find((i) => i.semantic === 'Primary');
    info.videoMime = video.mime ?? null;
    if (video.length === undefined || video.length <= 0 || video.length > fileSize) {
      info.problems.push(`MotionPhoto Item:Length ${video.length ?? 'is missing'} does not fit the file (${fileSize} bytes)`);
      return info;
    }
    info.videoLength = video.length;
    info.videoOffset = fileSize - video.length;
    if (video.mime !== 'video/mp4' && video.mime !== 'video/quicktime') {
      info.problems.push(`MotionPhoto Item:Mime is ${JSON.stringify(video.mime ?? null)}, expected video/mp4`);
    }

    info.videoBrand = await readFtypBrand(handle, info.videoOffset);
    if (info.videoBrand === null) {
      info.problems.push(`no ftyp box at fileSize − Length (${info.videoOffset})`);
    } else if (video.mime === 'video/mp4' && !(MOTION_PHOTO_VIDEO_BRANDS as readonly string[]).includes(info.videoBrand)) {
      info.problems.push(`the video is labelled video/mp4 but its ftyp brand is "${info.videoBrand}" (ExifTool expects isom/mp42)`);
    }

    // Primary Padding bytes separate the JPEG's EOI from the video.
    const padding = primary?.padding ?? 0;
    const eoiAt = info.videoOffset - padding - 2;
    const eoi = Buffer.alloc(2);
    if (eoiAt < 2 || (await handle.read(eoi, 0, 2, eoiAt)).bytesRead !== 2 || eoi[0] !== 0xff || eoi[1] !== JpegMarker.EOI) {
      info.problems.push(`the JPEG does not end (EOI) ${padding} bytes before the video offset`);
    }
    info.isMotionPhoto = xmp.motionPhotoFlag && info.videoBrand !== null;
    return info;
  } finally {
    await handle.close();
  }
}

type Handle = Awaited<ReturnType<typeof fsp.open>>;

/**
 * Standard-XMP APP1 packets from the JPEG header. The header is read by offset in chunks and bounded
 * (`readJpegHeader`): the video after the image, however large, is never read.
 */
async function readXmpPackets(handle: Handle, fileSize: number): Promise<string[]> {
  const header = await readJpegHeader(handle, fileSize);
  const packets: string[] = [];
  let pos = 2;
  while (pos + 4 <= header.length) {
    const step = jpegMarkerAt(header, pos);
    if (step.kind === 'not-a-marker') throw new LivePhotoError('INVALID_CONTAINER', `JPEG marker expected at byte ${pos}`);
    if (step.kind === 'cut-off') break;
    const { marker, offset, segment } = step;
    if (marker === JpegMarker.SOS || marker === JpegMarker.EOI) break;
    if (step.problem === 'no-length' || !segment) break;
    if (step.problem === 'bad-length' || offset + segment.length > fileSize) {
      throw new LivePhotoError('INVALID_CONTAINER', `JPEG segment at ${offset} overruns the file`);
    }
    if (step.problem === 'overruns') break;
    if (isXmpApp1(header, segment) && segment.payloadLength > XMP_APP1_IDENTIFIER.length) {
      packets.push(header.toString('utf8', segment.payloadOffset + XMP_APP1_IDENTIFIER.length, segment.payloadOffset + segment.payloadLength));
    }
    pos = offset + segment.length;
  }
  return packets;
}

/** Major brand of an `ftyp` box at `offset`, or null when there is none. */
async function readFtypBrand(source: string | Handle, offset: number): Promise<string | null> {
  const head = Buffer.alloc(12);
  const handle = typeof source === 'string' ? await fsp.open(source, 'r') : source;
  try {
    const { bytesRead } = await handle.read(head, 0, 12, offset);
    if (bytesRead < 12 || head.toString('latin1', 4, 8) !== 'ftyp' || head.readUInt32BE(0) < 16) return null;
    return head.toString('latin1', 8, 12);
  } finally {
    if (typeof source === 'string') await handle.close();
  }
}
