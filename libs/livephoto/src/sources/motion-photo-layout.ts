import { LivePhotoError } from '@vid2live/errors';
import { isXmpApp1, JpegMarker, listJpegSegments, readJpegHeader, XMP_APP1_IDENTIFIER } from '../exif/jpeg';
import { parseMotionPhotoXmp } from '../motion-photo/motion-photo-xmp';
import { isHeifStillHead } from '../heif/brands';
import { readHeifHead, readHeifItem } from '../heif/heif-reader';
import { openRegularFile, readAt } from '../quicktime/regular-file';

/**
 * Where the photo and the video are inside an Android Motion Photo JPEG, found with bounded reads only: the JPEG
 * header (≤ MAX_JPEG_HEADER_BYTES, never the image data), the last 8 bytes, a Samsung SEF directory (< 64 KiB) and
 * a few bytes at the video offset. Three layouts:
 *
 * - Google Motion Photo v1 (`GCamera:MotionPhoto="1"`, Container:Directory): the MotionPhoto item is the last
 *   `Item:Length` bytes of the file (media3's reading, spec §6.1).
 * - Google's deprecated MicroVideo (`GCamera:MicroVideo="1"`, `MicroVideoOffset` = bytes from the video's start
 *   to the end of the file).
 * - Samsung (`MotionPhoto_Data` block of the SEF trailer: `…SEFH dir` + `u32le len` + `SEFT` at the very end; each
 *   directory entry = `u16 0, u16 type, u32le offset back from SEFH, u32le size`, each block = `u16 0, u16 type,
 *   u32le nameLength, name, data`), with or without Google XMP. Its location wins over the XMP's, whose Samsung
 *   Length/Padding are not Google-conformant (spec §6.2); the XMP still gives the presentation timestamp.
 */
export interface MotionPhotoSourceLayout {
  /** `google-heic`: a HEIC whose video is the payload of a top-level `mpvd` box (spec §6.2; Samsung writes these too) */
  kind: 'google' | 'google-micro-video' | 'samsung' | 'google-heic';
  fileSize: number;
  /**
   * bytes [0, stillLength) are the photo: the primary JPEG and anything between it and the video (an Ultra HDR
   * gain map) — the Samsung trailer and the video are not part of it
   */
  stillLength: number;
  videoOffset: number;
  videoLength: number;
  /** the still's time in the video, µs; null when the file does not say (or says -1: "unspecified") */
  presentationTimestampUs: number | null;
}

/** Samsung SEF block type of the embedded video (ExifTool Samsung::Trailer 0x0a30, "MotionPhoto_Data"). */
export const SAMSUNG_MOTION_PHOTO_TYPE = 0x0a30;
export const SAMSUNG_MOTION_PHOTO_NAME = 'MotionPhoto_Data';
/** The SEF directory is small (12 bytes per entry); ExifTool refuses one of 64 KiB or more. */
const MAX_SEF_DIRECTORY_BYTES = 0x10000;
const MAX_SEF_NAME_BYTES = 1024;

const SEF_HEADER = Buffer.from('SEFH', 'latin1');
const SEF_FOOTER = Buffer.from('SEFT', 'latin1');

/**
 * The Motion Photo layout of `file`, or null when it is not a JPEG Motion Photo (not a JPEG, a plain JPEG, or
 * unreadable: the probe stage then reports it as it always did). A file that says it is a Motion Photo but whose
 * video is not where it says (a cut-short file) is INPUT_TRUNCATED.
 */
export async function detectMotionPhotoSource(file: string): Promise<MotionPhotoSourceLayout | null> {
  let opened;
  try {
    opened = await openRegularFile(file);
  } catch {
    return null;
  }
  const { handle, size } = opened;
  try {
    const soi = await readAt(handle, 12, 0);
    if (isHeifStillHead(soi)) {
      return await heicLayout(handle, size, file);
    }
    if (soi.length < 2 || soi[0] !== 0xff || soi[1] !== JpegMarker.SOI) return null;

    let xmp: string | undefined;
    try {
      const header = await readJpegHeader(handle, size);
      const segment = listJpegSegments(header).find((s) => isXmpApp1(header, s));
      if (segment) xmp = header.toString('utf8', segment.payloadOffset + XMP_APP1_IDENTIFIER.length, segment.payloadOffset + segment.payloadLength);
    } catch {
      // A JPEG whose header cannot be walked is no Motion Photo we can take apart; a Samsung trailer may still say so.
    }
    const google = xmp === undefined ? undefined : googleLayout(xmp, size);
    const samsung = await samsungLayout(handle, size);

    let layout: MotionPhotoSourceLayout | null = null;
    if (samsung) {
      layout = { kind: 'samsung', fileSize: size, ...samsung, presentationTimestampUs: google?.presentationTimestampUs ?? null };
    } else if (google?.videoLength !== undefined) {
      const videoOffset = size - google.videoLength;
      layout = {
        kind: google.kind,
        fileSize: size,
        stillLength: videoOffset,
        videoOffset,
        videoLength: google.videoLength,
        presentationTimestampUs: google.presentationTimestampUs,
      };
    } else if (google?.claimed) {
      throw new LivePhotoError('INPUT_TRUNCATED', `${file} says it is a Motion Photo, but ${google.problem}`, { file, reason: 'motion-photo-layout' });
    }
    if (!layout) return null;
    if (layout.stillLength < 4 || layout.videoLength < 8) {
      throw new LivePhotoError('INPUT_TRUNCATED', `${file}: the Motion Photo's video (${layout.videoLength} B at ${layout.videoOffset}) does not fit the ${size}-byte file`, {
        file,
        reason: 'motion-photo-layout',
      });
    }
    const box = await readAt(handle, 8, layout.videoOffset);
    if (box.length < 8 || box.toString('latin1', 4, 8) !== 'ftyp') {
      throw new LivePhotoError('INPUT_TRUNCATED', `${file}: no MP4 (ftyp box) where its Motion Photo video should start (byte ${layout.videoOffset}); the file is cut short or damaged`, {
        file,
        reason: 'motion-photo-layout',
        videoOffset: layout.videoOffset,
      });
    }
    return layout;
  } finally {
    await handle.close();
  }
}

/** Image extensions a folder walk checks for an embedded video (cheaply: the JPEG header and the last 8 bytes, a HEIC's box headers). */
export const MOTION_PHOTO_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.heic', '.heif']);

/** the XMP packet of a HEIC Motion Photo is a few kB */
const MAX_HEIC_XMP_BYTES = 1024 * 1024;

/**
 * A HEIC Motion Photo: the video is the payload of a top-level `mpvd` box (after every box the still needs); the
 * presentation timestamp comes from the XMP `mime` item when there is one. null for a plain HEIC (no `mpvd`).
 */
async function heicLayout(handle: Awaited<ReturnType<typeof openRegularFile>>['handle'], size: number, file: string): Promise<MotionPhotoSourceLayout | null> {
  let head;
  try {
    head = await readHeifHead(handle, size);
  } catch {
    return null; // not a HEIC we can read: the probe reports it as the still image it is
  }
  const mpvd = head.topLevel.filter((b) => b.type === 'mpvd');
  if (mpvd.length === 0) return null;
  const box = mpvd[mpvd.length - 1];
  let presentationTimestampUs: number | null = null;
  const xmpItem = head.meta.itemInfo?.entries.find((e) => e.itemType === 'mime' && e.contentType === 'application/rdf+xml');
  if (xmpItem) {
    try {
      const xmp = parseMotionPhotoXmp((await readHeifItem(handle, head, xmpItem.itemId, MAX_HEIC_XMP_BYTES)).toString('utf8'));
      presentationTimestampUs = xmp.presentationTimestampUs !== null && xmp.presentationTimestampUs >= 0 ? xmp.presentationTimestampUs : null;
    } catch {
      // an unreadable XMP item: the still is placed at the middle of the video
    }
  }
  // the still is every other top-level box; `mpvd` must come after the image data (nothing of the still follows it)
  if (head.topLevel.some((b) => b.start > box.start)) {
    throw new LivePhotoError('INPUT_UNSUPPORTED', `${file}: its mpvd box is not the last box of the file`, { file });
  }
  const videoOffset = box.start + box.headerSize;
  const ftyp = await readAt(handle, 8, videoOffset);
  if (ftyp.length < 8 || ftyp.toString('latin1', 4, 8) !== 'ftyp') {
    throw new LivePhotoError('INPUT_TRUNCATED', `${file}: its mpvd box holds no MP4 (no ftyp box at byte ${videoOffset}); the file is cut short or damaged`, {
      file,
      reason: 'motion-photo-layout',
      videoOffset,
    });
  }
  return { kind: 'google-heic', fileSize: size, stillLength: box.start, videoOffset, videoLength: box.end - videoOffset, presentationTimestampUs };
}

/**
 * True when `file` is a JPEG Motion Photo, complete or not (one that claims a video it does not hold counts: it
 * is converted to fail with its own code rather than be skipped as a photo).
 */
export async function isMotionPhotoFile(file: string): Promise<boolean> {
  try {
    return (await detectMotionPhotoSource(file)) !== null;
  } catch (e) {
    return e instanceof LivePhotoError;
  }
}

interface GoogleLayout {
  kind: 'google' | 'google-micro-video';
  /** the XMP claims a Motion Photo (flag = 1) */
  claimed: boolean;
  videoLength?: number;
  presentationTimestampUs: number | null;
  problem: string;
}

const attribute = (xml: string, name: string): string | undefined => {
  const m = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(xml);
  return m ? (m[1] ?? m[2]) : undefined;
};
const integer = (s: string | undefined): number | null => (s !== undefined && /^\s*-?\d+\s*$/.test(s) ? Number(s) : null);
const timestamp = (s: string | undefined): number | null => {
  const n = integer(s);
  return n === null || n < 0 || !Number.isSafeInteger(n) ? null : n;
};

function googleLayout(xml: string, fileSize: number): GoogleLayout | undefined {
  const parsed = parseMotionPhotoXmp(xml);
  if (parsed.motionPhotoFlag) {
    const video = parsed.items.find((i) => i.semantic === 'MotionPhoto');
    const fits = video?.length !== undefined && video.length > 0 && video.length < fileSize;
    return {
      kind: 'google',
      claimed: true,
      ...(fits ? { videoLength: video.length } : {}),
      presentationTimestampUs: timestamp(String(parsed.presentationTimestampUs ?? '')),
      problem: video ? `its MotionPhoto item length (${video.length ?? 'none'}) does not fit the ${fileSize}-byte file` : 'its XMP lists no MotionPhoto item',
    };
  }
  // The deprecated MicroVideo form (older Pixels and many Android cameras still write it).
  const prefix = attribute(xml, 'GCamera:MicroVideo') !== undefined ? 'GCamera' : attribute(xml, 'Camera:MicroVideo') !== undefined ? 'Camera' : undefined;
  if (prefix && attribute(xml, `${prefix}:MicroVideo`)?.trim() === '1') {
    const offset = integer(attribute(xml, `${prefix}:MicroVideoOffset`));
    const fits = offset !== null && offset > 0 && offset < fileSize;
    return {
      kind: 'google-micro-video',
      claimed: true,
      ...(fits ? { videoLength: offset } : {}),
      presentationTimestampUs: timestamp(attribute(xml, `${prefix}:MicroVideoPresentationTimestampUs`)),
      problem: `its MicroVideoOffset (${offset ?? 'missing'}) does not fit the ${fileSize}-byte file`,
    };
  }
  // Samsung's own files may carry the timestamp with no usable flag; keep it for the trailer's video.
  const pts = timestamp(attribute(xml, 'GCamera:MotionPhotoPresentationTimestampUs'));
  return pts === null ? undefined : { kind: 'google', claimed: false, presentationTimestampUs: pts, problem: '' };
}

type Handle = Awaited<ReturnType<typeof openRegularFile>>['handle'];

/** The `MotionPhoto_Data` block of a Samsung SEF trailer, or undefined when the file has none. */
async function samsungLayout(handle: Handle, fileSize: number): Promise<Pick<MotionPhotoSourceLayout, 'stillLength' | 'videoOffset' | 'videoLength'> | undefined> {
  if (fileSize < 8 + 12) return undefined;
  const tail = await readAt(handle, 8, fileSize - 8);
  if (tail.length !== 8 || !tail.subarray(4).equals(SEF_FOOTER)) return undefined;
  const dirLength = tail.readUInt32LE(0);
  if (dirLength < 12 || dirLength >= MAX_SEF_DIRECTORY_BYTES || dirLength + 8 > fileSize) return undefined;
  const dirPos = fileSize - 8 - dirLength;
  const dir = await readAt(handle, dirLength, dirPos);
  if (dir.length !== dirLength || !dir.subarray(0, 4).equals(SEF_HEADER)) return undefined;
  const count = dir.readUInt32LE(8);
  if (12 + 12 * count > dirLength) return undefined;
  let trailerStart = dirPos;
  let video: { offset: number; length: number } | undefined;
  for (let i = 0; i < count; i++) {
    const at = 12 + 12 * i;
    const type = dir.readUInt16LE(at + 2);
    const back = dir.readUInt32LE(at + 4);
    const size = dir.readUInt32LE(at + 8);
    if (back > dirPos || size > back || size < 8) return undefined;
    const blockAt = dirPos - back;
    trailerStart = Math.min(trailerStart, blockAt);
    if (video) continue;
    const head = await readAt(handle, 8, blockAt);
    if (head.length !== 8) return undefined;
    const nameLength = head.readUInt32LE(4);
    if (nameLength > MAX_SEF_NAME_BYTES || 8 + nameLength > size) continue;
    const name = (await readAt(handle, nameLength, blockAt + 8)).toString('latin1');
    if (type === SAMSUNG_MOTION_PHOTO_TYPE || name === SAMSUNG_MOTION_PHOTO_NAME) {
      video = { offset: blockAt + 8 + nameLength, length: size - 8 - nameLength };
    }
  }
  if (!video) return undefined;
  return { stillLength: trailerStart, videoOffset: video.offset, videoLength: video.length };
}
