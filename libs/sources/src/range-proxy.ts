import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LivePhotoError } from '@vid2live/errors';
import { sourceError } from './errors';

/**
 * Where the bytes of a large source come from: S3 ranged GETs or pinned HTTP range GETs. `fetch` yields exactly
 * bytes [start, end] in order, or throws a typed error (SOURCE_UNAVAILABLE, SOURCE_NOT_FOUND, …).
 */
export interface RangeFetcher {
  readonly size: number;
  /** how the source is named in messages (never a presigned URL) */
  readonly name: string;
  fetch(start: number, end: number, signal: AbortSignal): AsyncIterable<Buffer>;
}

/** Cache/fetch granularity. A run of uncached blocks is fetched in one request; runs double up to MAX_RUN_BLOCKS. */
export const BLOCK_SIZE = 256 * 1024;
const MAX_RUN_BLOCKS = 4; // 1 MiB per upstream request: also the most a seek can waste
const DEFAULT_CACHE_BLOCKS = 128; // 32 MiB

/** Bytes kept and counted while they arrive, handed to one consumer; the producer never waits for it. */
class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private done = false;
  private error?: unknown;
  private wake?: () => void;

  push(c: Buffer): void {
    this.chunks.push(c);
    this.wake?.();
  }
  end(error?: unknown): void {
    this.done = true;
    this.error = error;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      if (this.chunks.length) {
        yield this.chunks.shift()!;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/**
 * A block cache over a RangeFetcher. ffmpeg opens a source three times (probe, analysis, render) and each open
 * reads the same header, `moov` and probe window: served from here, those cost one upstream read, not three.
 * Upstream bodies are drained as fast as they come (into the queue), so a consumer that pauses never makes an
 * upstream socket look idle; memory is bounded by the cache plus the runs in flight (≤ 1 MiB each).
 */
export class CachedRangeReader {
  private readonly cache = new Map<number, Buffer>();
  private readonly session = new AbortController();
  /** bytes fetched from upstream, for tests and metrics */
  bytesFetched = 0;
  requests = 0;

  constructor(
    readonly fetcher: RangeFetcher,
    private readonly maxBlocks = DEFAULT_CACHE_BLOCKS,
  ) {}

  get size(): number {
    return this.fetcher.size;
  }

  /** Seeds the cache with bytes already read from offset 0 (the reader's first request). */
  seed(head: Buffer): void {
    for (let b = 0; (b + 1) * BLOCK_SIZE <= head.length || (b * BLOCK_SIZE < head.length && head.length === this.size); b++) {
      this.put(b, head.subarray(b * BLOCK_SIZE, Math.min(head.length, (b + 1) * BLOCK_SIZE)));
    }
  }

  private put(block: number, data: Buffer): void {
    this.cache.delete(block);
    this.cache.set(block, Buffer.from(data));
    while (this.cache.size > this.maxBlocks) this.cache.delete(this.cache.keys().next().value as number);
  }

  private get(block: number): Buffer | undefined {
    const b = this.cache.get(block);
    if (b) {
      this.cache.delete(block);
      this.cache.set(block, b);
    }
    return b;
  }

  /** Upstream bytes [fetchStart, fetchEnd] into `queue` and, block by block, into the cache. Never throws. */
  private async pump(fetchStart: number, fetchEnd: number, queue: ChunkQueue): Promise<void> {
    this.requests++;
    const size = this.size;
    const want = fetchEnd - fetchStart + 1;
    let got = 0;
    let blockParts: Buffer[] = [];
    let blockLen = 0;
    try {
      for await (const chunk of this.fetcher.fetch(fetchStart, fetchEnd, this.session.signal)) {
        got += chunk.length;
        this.bytesFetched += chunk.length;
        if (got > want) throw sourceError('SOURCE_UNAVAILABLE', `${this.fetcher.name}: more bytes than asked for`);
        queue.push(chunk);
        // Assemble whole blocks for the cache (runs start on a block boundary).
        let c = chunk;
        while (c.length) {
          const part = c.subarray(0, BLOCK_SIZE - blockLen);
          blockParts.push(part);
          blockLen += part.length;
          c = c.subarray(part.length);
          const blockStart = fetchStart + got - c.length - blockLen;
          if (blockLen === BLOCK_SIZE || blockStart + blockLen === size) {
            this.put(Math.floor(blockStart / BLOCK_SIZE), Buffer.concat(blockParts));
            blockParts = [];
            blockLen = 0;
          }
        }
      }
      if (got !== want) throw sourceError('SOURCE_UNAVAILABLE', `${this.fetcher.name}: short read (${got} of ${want} bytes at ${fetchStart})`);
      queue.end();
    } catch (e) {
      queue.end(e);
    }
  }

  /** Stops every upstream read of this reader (cancel, or the job is done with the source). */
  close(): void {
    this.session.abort();
  }

  async *read(start: number, end: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    const size = this.size;
    end = Math.min(end, size - 1);
    let pos = start;
    let run = 1;
    while (pos <= end) {
      if (signal.aborted) throw new LivePhotoError('CANCELED');
      const b = Math.floor(pos / BLOCK_SIZE);
      const cached = this.get(b);
      if (cached) {
        const from = pos - b * BLOCK_SIZE;
        const to = Math.min(cached.length, end - b * BLOCK_SIZE + 1);
        yield cached.subarray(from, to);
        pos = b * BLOCK_SIZE + to;
        continue;
      }
      const lastBlock = Math.floor((size - 1) / BLOCK_SIZE);
      let n = 1;
      while (n < run && b + n <= lastBlock && !this.cache.has(b + n)) n++;
      const fetchStart = b * BLOCK_SIZE;
      const fetchEnd = Math.min(size - 1, (b + n) * BLOCK_SIZE - 1);
      run = Math.min(run * 2, MAX_RUN_BLOCKS);

      // The run is fetched to the end and cached even when ffmpeg leaves early (a seek): ≤ one run of over-read,
      // and the next open finds it. Only closing the reader (cancel, end of the job) stops it.
      const queue = new ChunkQueue();
      void this.pump(fetchStart, fetchEnd, queue);
      let off = fetchStart;
      for await (const chunk of queue) {
        const cEnd = off + chunk.length - 1;
        const ys = Math.max(off, pos);
        const ye = Math.min(cEnd, end);
        if (ys <= ye) yield chunk.subarray(ys - off, ye - off + 1);
        off += chunk.length;
        if (signal.aborted) return;
      }
      pos = Math.max(pos, fetchEnd + 1);
    }
  }
}

const STATUS_OF: Record<string, number> = { SOURCE_NOT_FOUND: 404, SOURCE_ACCESS_DENIED: 403, SOURCE_EMPTY: 416 };

/**
 * A loopback HTTP server that serves one source to ffmpeg with range requests, from a CachedRangeReader. Only
 * `GET|HEAD /<random token>/<name>` is answered; it listens on 127.0.0.1 only. The first upstream error is kept in
 * `failure` (typed): ffmpeg only sees an HTTP status or a cut connection, the worker reports the real cause.
 */
export class RangeProxy {
  failure?: Error;
  private readonly sockets = new Set<import('node:net').Socket>();
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  private constructor(
    private readonly server: http.Server,
    private readonly reader: CachedRangeReader,
    readonly url: string,
    private readonly path: string,
  ) {}

  static async start(reader: CachedRangeReader, fileName: string): Promise<RangeProxy> {
    const name = (fileName.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'source').slice(-120);
    const path = `/${randomBytes(12).toString('hex')}/${name}`;
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const proxy = new RangeProxy(server, reader, `http://127.0.0.1:${port}${path}`, path);
    server.on('connection', (s) => {
      proxy.sockets.add(s);
      s.on('close', () => proxy.sockets.delete(s));
    });
    server.on('request', (req, res) => void proxy.handle(req, res));
    return proxy;
  }

  get stats(): { bytesFetched: number; requests: number } {
    return { bytesFetched: this.reader.bytesFetched, requests: this.reader.requests };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.closed || req.url !== this.path) return void res.writeHead(404).end();
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
    const size = this.reader.size;
    let start = 0;
    let end = size - 1;
    let partial = false;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === '' && m[2] === '')) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      if (m[1] === '') start = Math.max(0, size - Number(m[2]));
      else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(size - 1, Number(m[2]));
      }
      if (start >= size || start > end) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      partial = true;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      'content-length': end - start + 1,
      ...(partial ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    };
    if (req.method === 'HEAD') return void res.writeHead(partial ? 206 : 200, headers).end();

    const ac = new AbortController();
    this.inflight.add(ac);
    res.on('close', () => ac.abort());
    let sent = false;
    try {
      for await (const chunk of this.reader.read(start, end, ac.signal)) {
        if (!sent) {
          res.writeHead(partial ? 206 : 200, headers);
          sent = true;
        }
        // Backpressure: the next run is fetched only once ffmpeg has taken this one (what keeps a seek-heavy
        // reader's over-read to about one run). Upstream never waits for ffmpeg: the run's pump drains it.
        if (!res.write(chunk)) {
          await new Promise<void>((r) => {
            res.once('drain', r);
            res.once('close', r);
          });
        }
        if (ac.signal.aborted) break;
      }
      if (!ac.signal.aborted) res.end();
    } catch (e) {
      // ffmpeg went away (a seek, a cancel): not a failure of the source. Anything else is kept for the worker.
      if (!ac.signal.aborted) this.failure ??= e as Error;
      if (!sent && !res.headersSent) {
        const code = e instanceof LivePhotoError ? e.code : '';
        res.writeHead(STATUS_OF[code] ?? 503, { 'content-length': 0 }).end();
      } else {
        res.destroy();
      }
    } finally {
      this.inflight.delete(ac);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reader.close();
    for (const ac of this.inflight) ac.abort();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
