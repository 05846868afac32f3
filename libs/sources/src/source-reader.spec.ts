import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { convertToLivePhoto } from '@vid2live/livephoto/convert';
import { LivePhotoError } from '@vid2live/errors';
import { probeSource } from '@vid2live/livephoto/stages/probe';
import { runFfprobe } from '@vid2live/media/ffprobe';
import { S3Storage, s3ClientConfig } from '@vid2live/storage/s3-storage';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import { TargetForbiddenError, type Lookup } from '@vid2live/webhooks/target-guard';
import { SourceReader, type OpenedSource, type SourceReaderOptions } from './source-reader';

/**
 * The source reader against real HTTP servers on 127.0.0.1, a real s3rver (directly, and behind a small fault
 * proxy that answers 503 SlowDown / 500 / 429 / 403 like S3 does) and real ffprobe/ffmpeg. The "public" origin
 * is made public with the test-only `testPublicHosts` exemption (exact host:port); every other loopback/private
 * target stays refused, which is what the redirect tests rely on.
 */

interface TestServer {
  port: number;
  host: string;
  url(p: string): string;
  hits: Array<{ url: string; range?: string }>;
  close(): Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const hits: TestServer['hits'] = [];
  const server = http.createServer((req, res) => {
    hits.push({ url: req.url ?? '', range: req.headers.range });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Serves `file` with Range support (206), or whole (200) when `ranges` is false. */
function sendFile(file: string, req: http.IncomingMessage, res: http.ServerResponse, ranges = true): void {
  const size = statSync(file).size;
  const m = /bytes=(\d*)-(\d*)/.exec(req.headers.range ?? '');
  if (ranges && m) {
    const start = m[1] ? Number(m[1]) : size - Number(m[2]);
    const end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' });
    createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { 'content-length': size });
  createReadStream(file).pipe(res);
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean }> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(e).toBeInstanceOf(Error);
  return e;
}

describe('SourceReader', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'vid2live-sources-'));
  let video: string;
  let videoBytes: Buffer;
  let s3: RunningS3rver;
  let storage: S3Storage;
  let origin: TestServer;
  /** what the origin answers per path; default: the video with ranges */
  let routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>;
  const readers: OpenedSource[] = [];

  const options = (extra: Partial<SourceReaderOptions> = {}): SourceReaderOptions => ({
    allowPrivate: false,
    testPublicHosts: new Set([origin.host]),
    connectTimeoutMs: 2_000,
    idleTimeoutMs: 3_000,
    requestTimeoutMs: 10_000,
    downloadTimeoutMs: 20_000,
    downloadMaxBytes: 0,
    urlMaxBytes: 1024 * 1024 * 1024,
    ...extra,
  });
  const open = async (reader: SourceReader, source: Parameters<SourceReader['open']>[0], signal?: AbortSignal) => {
    const workDir = mkdtempSync(path.join(tmp, 'work-'));
    const o = await reader.open(source, { workDir, signal });
    readers.push(o);
    return o;
  };

  beforeAll(async () => {
    // ~1.5 MB, moov at the end (not faststart): reading it needs ranges beyond the first cached block.
    video = path.join(tmp, 'clip.mp4');
    ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=3', '-vf', 'noise=alls=12:allf=t',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '24', '-g', '30', '-pix_fmt', 'yuv420p', video,
    ]);
    videoBytes = readFileSync(video);
    expect(videoBytes.length).toBeGreaterThan(512 * 1024);
    s3 = await startS3rver(['src']);
    storage = new S3Storage(s3.config);
    routes = {};
    origin = await serve((req, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route) return route(req, res);
      if (req.url?.startsWith('/v/')) return sendFile(video, req, res);
      res.writeHead(404).end();
    });
  });

  afterEach(async () => {
    for (const r of readers.splice(0)) await r.close();
    routes = {};
  });

  afterAll(async () => {
    await origin?.close();
    await storage?.close();
    await s3?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('URL sources', () => {
    it('serves a large source to ffprobe through a loopback range proxy, and downloads a small one', async () => {
      const proxied = await open(new SourceReader(storage, options()), { url: origin.url('/v/clip.mp4?token=secret') });
      expect(proxied.mode).toBe('proxy');
      expect(proxied.input).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{24}\/clip\.mp4$/);
      expect(proxied.name).toBe(`http://${origin.host}/v/clip.mp4`); // no query string
      const info = await probeSource(proxied.input);
      expect(info.duration).toBeCloseTo(3, 0);
      // Range reads, not the whole file again, and every one of them through the proxy.
      expect(proxied.stats().bytesFetched).toBeLessThanOrEqual(videoBytes.length);
      expect(origin.hits.every((h) => h.range)).toBe(true);

      const downloaded = await open(new SourceReader(storage, options({ downloadMaxBytes: 64 * 1024 * 1024 })), {
        url: origin.url('/v/clip.mp4'),
      });
      expect(downloaded.mode).toBe('download');
      expect(readFileSync(downloaded.input).equals(videoBytes)).toBe(true);
    });

    it('keeps ffprobe and ffmpeg off an egress proxy from the environment (http_proxy): the loopback proxy is read directly', async () => {
      const saved = process.env.http_proxy;
      process.env.http_proxy = 'http://127.0.0.1:9'; // nothing listens there: a proxied read would fail
      try {
        const o = await open(new SourceReader(storage, options()), { url: origin.url('/v/clip.mp4') });
        expect(o.mode).toBe('proxy');
        expect((await probeSource(o.input)).duration).toBeCloseTo(3, 0);
        const out = mkdtempSync(path.join(tmp, 'out-'));
        const r = await convertToLivePhoto({ source: o.input, outputDir: out, baseName: 'p', options: { start: 0, duration: 1, keyFrame: 0.5 }, workDir: out });
        expect(r.clip.duration).toBeCloseTo(1, 5);
      } finally {
        if (saved === undefined) delete process.env.http_proxy;
        else process.env.http_proxy = saved;
      }
    });

    it('refuses a redirect to loopback, link-local, a name resolving to loopback or another scheme at the hop', async () => {
      const other = await serve((_req, res) => res.writeHead(200).end('metadata'));
      const lookup: Lookup = async (host) => (host === 'rebound.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
      try {
        const targets = [
          other.url('/latest/meta-data/'),
          'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
          `http://localhost:${origin.port}/v/clip.mp4`,
          `http://rebound.test:${origin.port}/v/clip.mp4`,
          'http://[::ffff:0:7f00:1]/',
          'http://[2002:7f00:1::]/',
          'file:///etc/passwd',
        ];
        for (const [i, target] of targets.entries()) {
          routes[`/r${i}`] = (_req, res) => res.writeHead(302, { location: target }).end();
          const e = await failure(open(new SourceReader(storage, options({ lookup })), { url: origin.url(`/r${i}`) }));
          expect(e).toBeInstanceOf(TargetForbiddenError);
          expect({ target, code: e.code, retryable: e.retryable }).toEqual({ target, code: 'SOURCE_URL_FORBIDDEN', retryable: false });
        }
        expect(other.hits).toEqual([]);
      } finally {
        await other.close();
      }
    });

    it('follows redirects that stay public, checking each hop, and gives up after 5', async () => {
      routes['/hop'] = (_req, res) => res.writeHead(301, { location: '/v/moved.mp4' }).end();
      const o = await open(new SourceReader(storage, options()), { url: origin.url('/hop') });
      expect((await probeSource(o.input)).duration).toBeCloseTo(3, 0);
      routes['/loop'] = (_req, res) => res.writeHead(302, { location: '/loop' }).end();
      const e = await failure(open(new SourceReader(storage, options()), { url: origin.url('/loop') }));
      expect(e).toMatchObject({ code: 'SOURCE_NOT_FOUND', retryable: false });
      expect(e.message).toMatch(/redirects/);
    });

    it('resolves a host name once and connects to that address for every range read (no rebinding)', async () => {
      let calls = 0;
      // First answer loopback (exempted for this test as host:port), then an unreachable address: a rebinding
      // resolver. Reads keep going to the first, checked address.
      const lookup: Lookup = async () => (calls++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.255.255.1', family: 4 }]);
      const host = `cdn.test:${origin.port}`;
      const reader = new SourceReader(storage, options({ lookup, testPublicHosts: new Set([host]) }));
      const o = await open(reader, { url: `http://${host}/v/clip.mp4` });
      await probeSource(o.input);
      expect(o.stats().requests).toBeGreaterThan(0);
      expect(calls).toBe(1);
    });

    it.each([
      [404, 'SOURCE_NOT_FOUND', false],
      [410, 'SOURCE_NOT_FOUND', false],
      [401, 'SOURCE_ACCESS_DENIED', false],
      [403, 'SOURCE_ACCESS_DENIED', false],
      [500, 'SOURCE_UNAVAILABLE', true],
      [503, 'SOURCE_UNAVAILABLE', true],
      [429, 'SOURCE_UNAVAILABLE', true],
    ])('maps HTTP %i to %s (retryable: %s)', async (status, code, retryable) => {
      routes['/s'] = (_req, res) => res.writeHead(status).end();
      const e = await failure(open(new SourceReader(storage, options()), { url: origin.url('/s?X-Amz-Signature=abc') }));
      expect(e).toBeInstanceOf(LivePhotoError);
      expect({ code: e.code, retryable: e.retryable }).toEqual({ code, retryable });
      expect(e.message).not.toMatch(/Signature|abc/);
    });

    it('maps a refused connection to SOURCE_UNAVAILABLE (retryable), not INPUT_NOT_MEDIA', async () => {
      const gone = await serve(() => undefined);
      await gone.close();
      const reader = new SourceReader(storage, options({ testPublicHosts: new Set([gone.host]) }));
      const e = await failure(open(reader, { url: gone.url('/v.mp4') }));
      expect(e).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
    });

    it('a source failing mid-read: ffprobe fails, and the reader keeps the typed cause for the worker', async () => {
      let failing = false;
      routes['/v/flaky.mp4'] = (req, res) => (failing ? res.writeHead(503).end() : sendFile(video, req, res));
      const o = await open(new SourceReader(storage, options()), { url: origin.url('/v/flaky.mp4') });
      failing = true; // the first block is cached; the moov at the end is not
      // ffmpeg does not log a failed seek's HTTP status (it may call this "truncated"): the worker reports
      // `failure()` instead of ffmpeg's view whenever the reader has one.
      await failure(probeSource(o.input));
      expect(o.failure()).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
    });

    it('a server trickling a byte every 2 s fails within the request timeout; a silent one within the idle timeout', async () => {
      const timers = new Set<NodeJS.Timeout>();
      routes['/trickle.mp4'] = (_req, res) => {
        res.writeHead(206, { 'content-range': `bytes 0-262143/10000000`, 'content-length': 262144 });
        const t = setInterval(() => res.write('x'), 2_000);
        timers.add(t);
        res.on('close', () => clearInterval(t));
      };
      routes['/silent.mp4'] = (_req, res) => {
        res.writeHead(206, { 'content-range': `bytes 0-262143/10000000`, 'content-length': 262144 });
      };
      try {
        let t0 = Date.now();
        let e = await failure(open(new SourceReader(storage, options({ idleTimeoutMs: 5_000, requestTimeoutMs: 4_000 })), { url: origin.url('/trickle.mp4') }));
        expect(e).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
        expect(e.message).toMatch(/timed out/);
        expect(Date.now() - t0).toBeLessThan(7_000);

        t0 = Date.now();
        e = await failure(open(new SourceReader(storage, options({ idleTimeoutMs: 1_000, requestTimeoutMs: 30_000 })), { url: origin.url('/silent.mp4') }));
        expect(e).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
        expect(Date.now() - t0).toBeLessThan(4_000);
      } finally {
        for (const t of timers) clearInterval(t);
      }
    });

    it('a download still running at its deadline fails as SOURCE_UNAVAILABLE, never as a whole (cut-short) file', async () => {
      // larger than the first 1 MiB block (read under the request timeout), so the rest is the timed download
      const size = 3 * 1024 * 1024;
      const timers = new Set<NodeJS.Timeout>();
      routes['/steady.mp4'] = (req, res) => {
        const m = /bytes=(\d+)-(\d*)/.exec(String(req.headers.range ?? ''));
        const start = m ? Number(m[1]) : 0;
        const end = m && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
        res.writeHead(m ? 206 : 200, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' });
        let left = end - start + 1;
        // steady, never idle: 64 KiB every 50 ms (the whole file takes ~2.4 s)
        const t = setInterval(() => {
          const n = Math.min(65536, left);
          left -= n;
          res.write(Buffer.alloc(n, 0x41));
          if (left === 0) {
            clearInterval(t);
            res.end();
          }
        }, 50);
        timers.add(t);
        res.on('close', () => clearInterval(t));
      };
      try {
        const reader = new SourceReader(storage, options({ downloadMaxBytes: 8 * 1024 * 1024, downloadTimeoutMs: 1_000, idleTimeoutMs: 5_000, requestTimeoutMs: 30_000 }));
        const e = await failure(open(reader, { url: origin.url('/steady.mp4') }));
        expect(e).toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
      } finally {
        for (const t of timers) clearInterval(t);
      }
    });

    it('refuses an HLS playlist (.m3u8) with or without range support, and fetches none of its entries', async () => {
      const entries = await serve((_req, res) => res.writeHead(200).end('x'));
      const playlist = path.join(tmp, 'list.m3u8');
      writeFileSync(playlist, `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n${entries.url('/seg0.ts')}\n#EXT-X-ENDLIST\n`);
      routes['/live/list.m3u8'] = (req, res) => sendFile(playlist, req, res, true);
      routes['/live/plain.m3u8'] = (req, res) => sendFile(playlist, req, res, false);
      try {
        for (const p of ['/live/list.m3u8', '/live/plain.m3u8']) {
          for (const downloadMaxBytes of [0, 1024 * 1024]) {
            const e = await failure(open(new SourceReader(storage, options({ downloadMaxBytes })), { url: origin.url(p) }));
            expect(e).toMatchObject({ code: 'INPUT_NOT_MEDIA', retryable: false });
          }
        }
        // ffprobe itself, even with every demuxer allowed, may not open a network protocol for a local file.
        const r = await runFfprobe(playlist, { formatWhitelist: null });
        expect(r.exitCode).not.toBe(0);
        expect(r.stderr).toMatch(/not on whitelist/);
        expect(entries.hits).toEqual([]);
      } finally {
        await entries.close();
      }
    });

    it('an empty source is SOURCE_EMPTY', async () => {
      routes['/empty.mp4'] = (_req, res) => res.writeHead(416, { 'content-range': 'bytes */0' }).end();
      const e = await failure(open(new SourceReader(storage, options()), { url: origin.url('/empty.mp4') }));
      expect(e).toMatchObject({ code: 'SOURCE_EMPTY' });
    });
  });

  describe('S3 sources', () => {
    let faults: TestServer;
    /** GETs (not HEADs) of keys containing one of these answer with that S3 error */
    const getFaults: Record<string, { status: number; code: string }> = {
      slowdown: { status: 503, code: 'SlowDown' },
      internal: { status: 500, code: 'InternalError' },
      throttled: { status: 429, code: 'TooManyRequests' },
      denied: { status: 403, code: 'AccessDenied' },
    };
    let faulty: S3Storage;

    beforeAll(async () => {
      const target = new URL(s3.endpoint);
      faults = await serve((req, res) => {
        const fault = Object.entries(getFaults).find(([k]) => req.url?.includes(k))?.[1];
        const headFault = req.url?.includes('headfail');
        if (req.url?.includes('grown') && req.method === 'HEAD') {
          // the object "grows" between HEAD and GET: the HEAD says 1000 bytes
          const up = http.request({ host: target.hostname, port: target.port, method: 'HEAD', path: req.url, headers: req.headers }, (r) => {
            res.writeHead(r.statusCode ?? 502, { ...r.headers, 'content-length': '1000' }).end();
            r.resume();
          });
          up.on('error', () => res.destroy());
          return void req.pipe(up);
        }
        if ((fault && req.method === 'GET') || (headFault && req.method === 'HEAD')) {
          const f = fault ?? { status: 503, code: 'SlowDown' };
          req.resume();
          return void res
            .writeHead(f.status, { 'content-type': 'application/xml' })
            .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${f.code}</Code><Message>${f.code}</Message></Error>`);
        }
        const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      });
      // The SDK's own retries off, so each fault is seen once (the worker's backoff does the retrying).
      faulty = new S3Storage(new S3Client({ ...s3ClientConfig({ ...s3.config, S3_ENDPOINT: `http://${faults.host}` }), maxAttempts: 1 }));
      for (const key of ['ok/clip.mp4', 'slowdown/clip.mp4', 'internal/clip.mp4', 'throttled/clip.mp4', 'denied/clip.mp4', 'headfail/clip.mp4', 'grown/clip.mp4']) {
        await storage.putObjectFromFile('src', key, video);
      }
    });
    afterAll(async () => {
      await faulty?.close();
      await faults?.close();
    });

    it('serves a large object through the proxy with ranged GETs, and downloads a small one with one GET', async () => {
      const o = await open(new SourceReader(faulty, options()), { bucket: 'src', key: 'ok/clip.mp4' });
      expect(o).toMatchObject({ mode: 'proxy', name: 's3://src/ok/clip.mp4' });
      expect((await probeSource(o.input)).duration).toBeCloseTo(3, 0);
      const d = await open(new SourceReader(faulty, options({ downloadMaxBytes: 64 * 1024 * 1024 })), { bucket: 'src', key: 'ok/clip.mp4' });
      expect(d.mode).toBe('download');
      expect(readFileSync(d.input).equals(videoBytes)).toBe(true);
    });

    it('refuses an object that grew between HEAD and GET past the download cap as SOURCE_TOO_LARGE, not a cut-off file', async () => {
      const e = await failure(open(new SourceReader(faulty, options({ downloadMaxBytes: 64 * 1024 })), { bucket: 'src', key: 'grown/clip.mp4' }));
      expect(e).toMatchObject({ code: 'SOURCE_TOO_LARGE', retryable: false });
      expect(String((e as Error).message)).toMatch(/grew past the 65536 bytes/);
      expect(videoBytes.length).toBeGreaterThan(64 * 1024);
    });

    it('downloads a photo key (a Motion Photo candidate) whole even past downloadMaxBytes: the engine takes it apart from a file', async () => {
      await storage.putObjectFromFile('src', 'ok/PXL_1.MP.jpg', video);
      const o = await open(new SourceReader(faulty, options()), { bucket: 'src', key: 'ok/PXL_1.MP.jpg' });
      expect(o.mode).toBe('download');
      expect(readFileSync(o.input).equals(videoBytes)).toBe(true);
    });

    it.each([
      ['slowdown', 'SOURCE_UNAVAILABLE', true],
      ['internal', 'SOURCE_UNAVAILABLE', true],
      ['throttled', 'SOURCE_UNAVAILABLE', true],
      ['denied', 'SOURCE_ACCESS_DENIED', false],
    ])('S3 GET %s → %s (retryable: %s), through the proxy and for a download', async (fault, code, retryable) => {
      const key = `${fault}/clip.mp4`;
      const o = await open(new SourceReader(faulty, options()), { bucket: 'src', key });
      const probeError = await failure(probeSource(o.input));
      expect(probeError).toMatchObject({ code, retryable });
      expect(o.failure()).toMatchObject({ code, retryable });
      const e = await failure(open(new SourceReader(faulty, options({ downloadMaxBytes: 64 * 1024 * 1024 })), { bucket: 'src', key }));
      expect(e).toMatchObject({ code, retryable });
    });

    // Fixed costs per job are ~10 MB whatever the source's length (ffprobe's stream-info read of ~1 s of media,
    // the moov, one 1 MiB run and the loopback socket buffers ffmpeg had not drained when it stopped), so the
    // source must be long for the ratio to mean what the budget means: 120 s at ~10 Mb/s here.
    it('keeps the byte budget: a 3 s clip of a 120 s, ~155 MB object reads ≤ 10 % of it through the proxy', async () => {
      const seg = path.join(tmp, 'seg.mp4');
      const long = path.join(tmp, 'long.mp4');
      ffmpeg([
        '-f', 'lavfi', '-i', 'testsrc2=size=960x540:rate=30:duration=2', '-vf', 'noise=alls=12:allf=t',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '26', '-g', '30', '-pix_fmt', 'yuv420p', seg,
      ]);
      // 60 × 2 s stream-copied: a long, high-bitrate source with its moov at the end (not faststart).
      ffmpeg(['-stream_loop', '59', '-i', seg, '-c', 'copy', long]);
      const size = statSync(long).size;
      expect(size).toBeGreaterThan(100 * 1024 * 1024);
      await storage.putObjectFromFile('src', 'long/long.mp4', long);
      rmSync(long);
      const o = await open(new SourceReader(storage, options()), { bucket: 'src', key: 'long/long.mp4' });
      const out = mkdtempSync(path.join(tmp, 'out-'));
      const result = await convertToLivePhoto({
        source: o.input,
        outputDir: out,
        baseName: 'long',
        options: { start: 60, duration: 3, keyFrame: 61.5 },
        workDir: out,
      });
      expect(statSync(result.moviePath).size).toBeGreaterThan(0);
      expect(o.failure()).toBeUndefined();
      const ratio = o.stats().bytesFetched / size;
      expect(ratio).toBeLessThanOrEqual(0.1);
    });

    it('a HEAD answering 503 is SOURCE_UNAVAILABLE; a missing key SOURCE_NOT_FOUND', async () => {
      expect(await failure(open(new SourceReader(faulty, options()), { bucket: 'src', key: 'headfail/clip.mp4' }))).toMatchObject({
        code: 'SOURCE_UNAVAILABLE',
        retryable: true,
      });
      expect(await failure(open(new SourceReader(faulty, options()), { bucket: 'src', key: 'nope/clip.mp4' }))).toMatchObject({
        code: 'SOURCE_NOT_FOUND',
        retryable: false,
      });
    });
  });
});
