import * as fs from 'node:fs/promises';
import { isRemoteSource } from '@vid2live/media/source-url';
import { rejectedDemuxer } from '@vid2live/media/demuxers';
import { LivePhotoError, throwIfAborted } from '@vid2live/errors';
import { mediaToolsOf } from '../ports/default-media-tools';
import { SourceInfo, StageContext } from '../types';
import { notMedia, num, sourceInfoFromFfprobe } from './ffprobe-info';
import { assertNotHeifImage, checkNotTruncated, FIRST_BOX_TYPES, FTYP_PEEK_BYTES, peekRemoteHead, readHead } from './source-head';

/*
 * The probe stage in three files: this one runs it (the file's existence, ffprobe through the MediaTools port, and
 * what ffprobe's failure means); source-head.ts looks at the first bytes (box file? HEIF image? cut short?);
 * ffprobe-info.ts turns ffprobe's JSON into SourceInfo (track choice, geometry, colour, capture time, GPS).
 */
export { heifImageBrand } from './source-head';
export { bitDepthOf, chooseMainVideoStream, parseIso6709, parseRate, rotationOf, sourceInfoFromFfprobe } from './ffprobe-info';

/**
 * probe: what is this file? Reads the container with ffprobe and turns every kind of bad input into its own
 * error code (SOURCE_NOT_FOUND, SOURCE_EMPTY, INPUT_NOT_MEDIA, INPUT_IS_IMAGE, INPUT_NO_VIDEO, INPUT_TRUNCATED,
 * INPUT_ZERO_DURATION), each naming the file.
 */
export async function probeSource(sourcePath: string, ctx: StageContext = {}): Promise<SourceInfo> {
  const report = (percent: number) => ctx.onProgress?.({ stage: 'probe', percent });
  throwIfAborted(ctx.signal);
  report(0);

  // The source reader's loopback URL (libs/sources) is probed by ffprobe alone; local files get the cheap checks first.
  const remote = isRemoteSource(sourcePath);
  let sizeBytes = 0;
  let boxFile = false;
  if (remote) {
    // The loopback proxy serves ranges: 8 bytes say whether this is a box file at all (a text file named .mp4
    // makes ffprobe say "moov atom not found" too, and that is not a truncated video).
    const head = await peekRemoteHead(sourcePath, ctx.signal, FTYP_PEEK_BYTES);
    boxFile = FIRST_BOX_TYPES.has(head.toString('latin1', 4, 8));
    if (boxFile) assertNotHeifImage(sourcePath, head);
  } else {
    sizeBytes = await statSource(sourcePath);
    const head = await readHead(sourcePath, FTYP_PEEK_BYTES);
    boxFile = head.length >= 8 && FIRST_BOX_TYPES.has(head.toString('latin1', 4, 8));
    // A HEIC/AVIF is an ISO-BMFF file too, with no movie in it: an image, not a truncated video.
    if (boxFile) assertNotHeifImage(sourcePath, head);
    if (boxFile) await checkNotTruncated(sourcePath);
  }

  const probe = await mediaToolsOf(ctx).probe(sourcePath, { signal: ctx.signal, timeoutMs: 30_000 });
  if (probe.exitCode !== 0 || !probe.data) {
    const reason = firstLine(probe.stderr);
    if (remote) {
      const fetchError = remoteFetchError(sourcePath, probe.stderr, reason);
      if (fetchError) throw fetchError;
    } else {
      // Deleted (or made unreadable) since the stat above: that is why ffprobe failed, not the bytes.
      await statSource(sourcePath);
    }
    // The demuxer ffprobe picked is not a video/audio/image container (text as `tty`, subtitles, playlists…).
    const refused = rejectedDemuxer(probe.stderr);
    if (refused !== undefined) throw notMedia(sourcePath, refused);
    // ffprobe says "moov atom not found" for anything named .mp4; only a real box file is "truncated".
    if (boxFile && /moov atom not found|truncat|partial file|End of file/i.test(probe.stderr)) {
      throw new LivePhotoError('INPUT_TRUNCATED', `${sourcePath} is truncated or damaged: ${reason}`, {
        file: sourcePath,
      });
    }
    throw new LivePhotoError('INPUT_NOT_MEDIA', `${sourcePath} is not a media file ffprobe can read: ${reason}`, {
      file: sourcePath,
    });
  }
  if (remote) sizeBytes = num(probe.data.format?.size) ?? 0;
  const info = sourceInfoFromFfprobe(sourcePath, sizeBytes, probe.data);
  report(100);
  return info;
}

/**
 * ffprobe could not read the loopback URL: what the HTTP status or socket error says about the source. The reader
 * answers ffmpeg with the upstream's status class (404 missing, 403 refused, 503 unavailable); a connection error
 * is never the file's fault (retryable), nor is a 5xx/429. Undefined when the bytes arrived and the problem is them.
 */
function remoteFetchError(sourcePath: string, stderr: string, reason: string): LivePhotoError | undefined {
  const details = { file: sourcePath };
  if (/Server returned (404|410)\b|\b(404 Not Found|410 Gone)\b/i.test(stderr)) {
    return new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} cannot be fetched: ${reason}`, details);
  }
  if (/Server returned (401|403)\b|\b(401 Unauthori[sz]ed|403 Forbidden)\b/i.test(stderr)) {
    return new LivePhotoError('SOURCE_ACCESS_DENIED', `source ${sourcePath} cannot be fetched: ${reason}`, details);
  }
  if (/Server returned (5\d\d|5XX|429)|Connection refused|Connection reset|Connection timed out|timed out|Network is unreachable|I\/O error|Broken pipe/i.test(stderr)) {
    return new LivePhotoError('SOURCE_UNAVAILABLE', `source ${sourcePath} could not be read right now: ${reason}`, details);
  }
  if (/Server returned/i.test(stderr)) {
    return new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} cannot be fetched: ${reason}`, details);
  }
  return undefined;
}

async function statSource(sourcePath: string): Promise<number> {
  let st;
  try {
    st = await fs.stat(sourcePath);
    await fs.access(sourcePath, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} does not exist or cannot be read (${code})`, {
      file: sourcePath,
    });
  }
  if (!st.isFile()) {
    throw new LivePhotoError('SOURCE_NOT_FOUND', `source ${sourcePath} is not a regular file`, { file: sourcePath });
  }
  if (st.size === 0) throw new LivePhotoError('SOURCE_EMPTY', `source ${sourcePath} is empty (0 bytes)`, { file: sourcePath });
  return st.size;
}

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? 'unknown error';
}

