import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LivePhotoError } from '@vid2live/errors';
import type { ObjectStorage } from '@vid2live/storage/object-storage';
import { describeUrl, httpStatusError, sourceError, toSourceError } from './errors';
import { PinnedHttpClient, parseContentRange, readBody, type SourceHttpOptions } from './pinned-http';
import { BLOCK_SIZE, CachedRangeReader, RangeProxy, type RangeFetcher } from './range-proxy';

export type SourceRef = { bucket: string; key: string } | { url: string };

export interface OpenContext {
  workDir: string;
  signal?: AbortSignal;
  onDownload?: (percent: number) => void;
  /** download the object whole (up to WHOLE_DOWNLOAD_MAX_BYTES) whatever its size: see SourceReader.open */
  whole?: boolean;
}

export interface SourceReaderOptions extends SourceHttpOptions {
  /** sources up to this size are downloaded whole to the work dir; larger ones are served by the range proxy */
  downloadMaxBytes: number;
  /** a whole-file download (small source, or a server without range support) must finish within this */
  downloadTimeoutMs: number;
  /** a URL source larger than this is refused (SOURCE_TOO_LARGE) */
  urlMaxBytes: number;
}

/** What ffmpeg gets: a local file, or the loopback range proxy's URL. */
export interface OpenedSource {
  /** path or `http://127.0.0.1:<port>/<token>/<name>`: the only thing the engine ever sees */
  input: string;
  /** how messages name the source: `s3://bucket/key` or `https://host/path` (no query, no credentials) */
  name: string;
  sizeBytes: number;
  mode: 'local' | 'download' | 'proxy';
  /** the first failed upstream read, typed; the worker reports it instead of ffmpeg's view of it */
  failure(): Error | undefined;
  /** upstream bytes and requests of the proxy (0 for local/download) */
  stats(): { bytesFetched: number; requests: number };
  close(): Promise<void>;
}

/** An HLS playlist (what `.m3u8` URLs are): never handed to ffmpeg, whose hls demuxer would fetch its entries. */
function isPlaylist(head: Buffer): boolean {
  return /^(\uFEFF)?\s*#EXTM3U/.test(head.subarray(0, 64).toString('latin1').replace(/^\xEF\xBB\xBF/, ''));
}

function playlistError(name: string): LivePhotoError {
  return sourceError('INPUT_NOT_MEDIA', `${name} is an HLS playlist (#EXTM3U), not a video file: playlists are not read`, {
    formatName: 'hls',
  });
}

function baseNameOf(source: SourceRef): string {
  const raw = 'key' in source ? path.posix.basename(source.key) : path.posix.basename(safePathname(source.url));
  return raw || 'source';
}

function safePathname(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return '';
  }
}

function localDownloadName(base: string): string {
  return `source${path.extname(base).replace(/[^A-Za-z0-9.]/g, '').slice(0, 12)}`;
}

/**
 * One source reader owns every network read of a source. S3 objects are read with the storage client (HEAD,
 * then one GET for a small object or ranged GETs through the loopback proxy for a large one); URL sources with
 * pinned, policy-checked HTTP (every redirect hop re-checked), with connect/idle/request timeouts and typed
 * status mapping. ffmpeg/ffprobe get a local file or the proxy's loopback URL, never an external URL.
 */
export class SourceReader {
  constructor(
    private readonly storage: ObjectStorage,
    private readonly opts: SourceReaderOptions,
  ) {}

  /**
   * `whole`: the caller reads the file itself, not through ffmpeg (the halves of a Live Photo pair): an S3 object is
   * always downloaded, and one over WHOLE_DOWNLOAD_MAX_BYTES is refused as SOURCE_TOO_LARGE before a byte is read.
   */
  async open(source: SourceRef, ctx: OpenContext): Promise<OpenedSource> {
    if ('key' in source) return this.openObject(source, ctx);
    if (ctx.whole) throw new LivePhotoError('INVALID_OPTIONS', 'only S3 objects are opened whole');
    return this.openUrl(source.url, ctx);
  }

  private async openObject({ bucket, key }: { bucket: string; key: string }, ctx: OpenContext): Promise<OpenedSource> {
    const name = `s3://${bucket}/${key}`;
    let head;
    try {
      head = await this.storage.headObject(bucket, key);
    } catch (e) {
      throw toSourceError(e, name);
    }
    if (!head) throw sourceError('SOURCE_NOT_FOUND', `${name} does not exist`);
    if (head.size === 0) throw sourceError('SOURCE_EMPTY', `${name} is empty`);
    const localPath = this.storage.localPath?.(bucket, key);
    if (localPath) return fixed(localPath, name, head.size, 'local');

    if (ctx.whole && head.size > WHOLE_DOWNLOAD_MAX_BYTES) {
      throw sourceError('SOURCE_TOO_LARGE', `${name} is ${head.size} bytes, more than the ${WHOLE_DOWNLOAD_MAX_BYTES} read whole`);
    }
    const cap = ctx.whole ? WHOLE_DOWNLOAD_MAX_BYTES : downloadLimit(key, this.opts.downloadMaxBytes);
    if (head.size <= cap) {
      // Small source: one GET to disk beats the 3 opens (probe, analysis, render) of a URL.
      const file = path.join(ctx.workDir, localDownloadName(key));
      const signals = [AbortSignal.timeout(this.opts.downloadTimeoutMs), ...(ctx.signal ? [ctx.signal] : [])];
      const signal = AbortSignal.any(signals);
      try {
        ctx.onDownload?.(0);
        const body = await this.storage.getObjectStream(bucket, key);
        // The HEAD's size is a promise the object may break (replaced between HEAD and GET): the bytes are counted.
        await pipeline(body, idleWatchdog(this.opts.idleTimeoutMs, name), byteCap(cap, name), createWriteStream(file), { signal });
        ctx.onDownload?.(100);
      } catch (e) {
        throw this.downloadFailure(e, ctx.signal, signals[0], name);
      }
      return fixed(file, name, head.size, 'download');
    }

    const storage = this.storage;
    const requestTimeoutMs = this.opts.requestTimeoutMs;
    const fetcher: RangeFetcher = {
      size: head.size,
      name,
      async *fetch(start, end, signal) {
        const timeout = AbortSignal.timeout(requestTimeoutMs);
        try {
          yield await storage.getRange(bucket, key, start, end, { signal: AbortSignal.any([signal, timeout]) });
        } catch (e) {
          if (signal.aborted) throw new LivePhotoError('CANCELED');
          if (timeout.aborted) throw sourceError('SOURCE_UNAVAILABLE', `${name} bytes=${start}-${end}: timed out after ${requestTimeoutMs / 1000} s`);
          throw toSourceError(e, name);
        }
      },
    };
    return this.serve(new CachedRangeReader(fetcher), baseNameOf({ bucket, key }), name, () => undefined);
  }

  private async openUrl(
    url: string,
    ctx: { workDir: string; signal?: AbortSignal; onDownload?: (percent: number) => void },
  ): Promise<OpenedSource> {
    const name = describeUrl(url);
    const client = new PinnedHttpClient(this.opts);
    let keepClient = false;
    try {
      // One first request tells range support, size and the URL after redirects, and brings the first block.
      let first;
      try {
        first = await client.get(url, { range: `bytes=0-${BLOCK_SIZE - 1}` }, ctx.signal);
      } catch (e) {
        throw toSourceError(e, name);
      }
      const finalUrl = first.url;
      const finalName = describeUrl(finalUrl);
      const file = path.join(ctx.workDir, localDownloadName(baseNameOf({ url })));

      if (first.status === 416) {
        first.body.destroy();
        const cr = /\/(\d+)$/.exec(String(first.headers['content-range'] ?? ''));
        if (cr && Number(cr[1]) === 0) throw sourceError('SOURCE_EMPTY', `${name} is empty`);
        throw httpStatusError(416, finalName);
      }
      if (first.status === 200) {
        // No range support: the whole body, to disk, bounded in size and time.
        const declared = Number(first.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared > this.opts.urlMaxBytes) {
          first.body.destroy();
          throw sourceError('SOURCE_TOO_LARGE', `${name} is ${declared} bytes, more than the ${this.opts.urlMaxBytes} read from a URL`);
        }
        first.setDeadline(this.opts.downloadTimeoutMs);
        const size = await this.saveBody(first.body, file, name, ctx.signal);
        if (size === 0) throw sourceError('SOURCE_EMPTY', `${name} is empty`);
        return fixed(file, name, size, 'download');
      }
      if (first.status !== 206) {
        first.body.destroy();
        throw httpStatusError(first.status, finalName);
      }
      const cr = parseContentRange(first.headers['content-range'] as string | undefined);
      let headBytes: Buffer;
      try {
        headBytes = await readBody(first.body, BLOCK_SIZE, finalName);
      } catch (e) {
        throw ctx.signal?.aborted ? new LivePhotoError('CANCELED') : toSourceError(e, name);
      }
      if (isPlaylist(headBytes)) throw playlistError(name);
      if (!cr || cr.start !== 0 || cr.total === undefined || headBytes.length !== cr.end - cr.start + 1) {
        throw sourceError('SOURCE_UNAVAILABLE', `${finalName}: the server answered the range request with an unusable Content-Range`);
      }
      const size = cr.total;
      if (size > this.opts.urlMaxBytes) {
        throw sourceError('SOURCE_TOO_LARGE', `${name} is ${size} bytes, more than the ${this.opts.urlMaxBytes} read from a URL`);
      }

      const fetcher = httpFetcher(client, finalUrl, size, name);
      const reader = new CachedRangeReader(fetcher);
      reader.seed(headBytes);

      if (size <= downloadLimit(finalUrl.href, this.opts.downloadMaxBytes)) {
        const signals = [AbortSignal.timeout(this.opts.downloadTimeoutMs), ...(ctx.signal ? [ctx.signal] : [])];
        const signal = AbortSignal.any(signals);
        const out = await fs.open(file, 'w');
        try {
          let written = 0;
          ctx.onDownload?.(0);
          for await (const chunk of reader.read(0, size - 1, signal)) {
            await out.write(chunk);
            written += chunk.length;
            ctx.onDownload?.(Math.min(99, (written / size) * 100));
          }
          // The reader stops quietly when its signal fires (that is how ffmpeg leaving early looks to the proxy):
          // a download cut short must not pass for the whole source (it would read as INPUT_TRUNCATED, final).
          if (written !== size) {
            if (signal.aborted) throw signal.reason ?? new LivePhotoError('CANCELED');
            throw sourceError('SOURCE_UNAVAILABLE', `${name}: the download ended after ${written} of ${size} B`);
          }
          ctx.onDownload?.(100);
        } catch (e) {
          throw this.downloadFailure(e, ctx.signal, signals[0], name);
        } finally {
          reader.close();
          await out.close();
        }
        return fixed(file, name, size, 'download');
      }
      keepClient = true;
      return await this.serve(reader, baseNameOf({ url }), name, () => client.close());
    } finally {
      if (!keepClient) client.close();
    }
  }

  private async saveBody(body: NodeJS.ReadableStream, file: string, name: string, signal?: AbortSignal): Promise<number> {
    let size = 0;
    let head = Buffer.alloc(0);
    const max = this.opts.urlMaxBytes;
    const guard = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (head.length < 64) {
          head = Buffer.concat([head, chunk]).subarray(0, 64);
          if (head.length >= 8 && isPlaylist(head)) return cb(playlistError(name));
        }
        size += chunk.length;
        if (size > max) return cb(sourceError('SOURCE_TOO_LARGE', `${name} is more than the ${max} bytes read from a URL`));
        cb(null, chunk);
      },
      flush(cb) {
        cb(isPlaylist(head) ? playlistError(name) : null);
      },
    });
    try {
      await pipeline(body, guard, createWriteStream(file), ...(signal ? [{ signal }] : []));
    } catch (e) {
      if (signal?.aborted) throw new LivePhotoError('CANCELED');
      throw toSourceError(e, name);
    }
    if (!(body as unknown as { complete?: boolean }).complete) {
      throw sourceError('SOURCE_UNAVAILABLE', `${name}: the connection closed before the body was complete`);
    }
    return size;
  }

  /** What a failed whole-source download is: canceled, timed out (retryable) or the source's own typed error. */
  private downloadFailure(e: unknown, cancel: AbortSignal | undefined, deadline: AbortSignal, name: string): Error {
    if (cancel?.aborted) return new LivePhotoError('CANCELED');
    if (deadline.aborted) {
      return sourceError('SOURCE_UNAVAILABLE', `${name}: the download timed out after ${this.opts.downloadTimeoutMs / 1000} s`);
    }
    return toSourceError(e, name);
  }

  private async serve(reader: CachedRangeReader, base: string, name: string, onClose: () => void): Promise<OpenedSource> {
    const proxy = await RangeProxy.start(reader, base);
    return {
      input: proxy.url,
      name,
      sizeBytes: reader.size,
      mode: 'proxy',
      failure: () => proxy.failure,
      stats: () => proxy.stats,
      close: async () => {
        await proxy.close();
        onClose();
      },
    };
  }
}

function fixed(file: string, name: string, sizeBytes: number, mode: 'local' | 'download'): OpenedSource {
  return {
    input: file,
    name,
    sizeBytes,
    mode,
    failure: () => undefined,
    stats: () => ({ bytesFetched: 0, requests: 0 }),
    close: async () => undefined,
  };
}

/** Pinned HTTP range GETs of `url` (the URL after the first request's redirects; later redirects re-checked). */
function httpFetcher(client: PinnedHttpClient, url: URL, size: number, name: string): RangeFetcher {
  return {
    size,
    name,
    async *fetch(start, end, signal) {
      const res = await client.get(url, { range: `bytes=${start}-${end}` }, signal).catch((e) => {
        throw signal.aborted ? new LivePhotoError('CANCELED') : toSourceError(e, name);
      });
      if (res.status !== 206) {
        res.body.destroy();
        if (res.status === 200) throw sourceError('SOURCE_UNAVAILABLE', `${name}: the server stopped honouring range requests`);
        throw httpStatusError(res.status, describeUrl(res.url));
      }
      const cr = parseContentRange(res.headers['content-range'] as string | undefined);
      if (!cr || cr.start !== start || (cr.total !== undefined && cr.total !== size)) {
        res.body.destroy();
        throw sourceError('SOURCE_UNAVAILABLE', `${name}: the source changed or the server sent another range (${String(res.headers['content-range'])})`);
      }
      try {
        for await (const c of res.body as AsyncIterable<Buffer>) yield c;
      } catch (e) {
        throw signal.aborted ? new LivePhotoError('CANCELED') : toSourceError(e, name);
      } finally {
        if (!res.body.complete) res.body.destroy();
      }
      if (!res.body.complete && !signal.aborted) {
        throw sourceError('SOURCE_UNAVAILABLE', `${name}: the connection closed before the range was complete`);
      }
    },
  };
}

/** Fails a stream that receives no byte for `ms` (a stalled S3 body). */
function idleWatchdog(ms: number, name: string): Transform {
  let timer: NodeJS.Timeout | undefined;
  const t: Transform = new Transform({
    transform(chunk, _enc, cb) {
      arm();
      cb(null, chunk);
    },
    flush(cb) {
      clearTimeout(timer);
      cb();
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => t.destroy(sourceError('SOURCE_UNAVAILABLE', `${name}: no data for ${ms / 1000} s`)), ms);
    timer.unref?.();
  };
  arm();
  return t;
}

/** Passes at most `max` bytes; one more fails the stream as SOURCE_TOO_LARGE. */
function byteCap(max: number, name: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) return cb(sourceError('SOURCE_TOO_LARGE', `${name} grew past the ${max} bytes read in one download`));
      cb(null, chunk);
    },
  });
}

/**
 * A photo (`.jpg|.jpeg|.heic|.heif`) is only ever a source as a Motion Photo, which the engine takes apart from a local
 * file (photo bytes, then the embedded video): it is downloaded whole up to this size, even past
 * SOURCE_DOWNLOAD_MAX_BYTES (a 50 MP HEIC Motion Photo is tens of MB; the engine reads at most 256 MiB of photo).
 */
export const PHOTO_DOWNLOAD_MAX_BYTES = 512 * 1024 * 1024;

/** The most an object opened `whole` may be (a Live Photo's still or MOV is a few MB to tens of MB). */
export const WHOLE_DOWNLOAD_MAX_BYTES = PHOTO_DOWNLOAD_MAX_BYTES;

function downloadLimit(keyOrUrl: string, downloadMaxBytes: number): number {
  let name = keyOrUrl;
  try {
    if (/^https?:\/\//i.test(keyOrUrl)) name = new URL(keyOrUrl).pathname;
  } catch {
    // not a URL: a key
  }
  return /\.(jpe?g|heic|heif)$/i.test(name) ? Math.max(downloadMaxBytes, PHOTO_DOWNLOAD_MAX_BYTES) : downloadMaxBytes;
}
