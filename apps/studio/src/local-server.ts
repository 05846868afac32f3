import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { discoverSources, VIDEO_EXTENSIONS } from '../../cli/src/discover';
import { LivePhotoError } from '@vid2live/errors';
import {
  analyseMoment,
  extractPreviewFrame,
  makeH264PreviewMovie,
  makePlaybackProxy,
  makeThumbnailStrip,
  PREVIEW_MAX_WIDTH,
  type MomentAnalysis,
  type ThumbnailStrip,
} from '@vid2live/livephoto/preview';
import type { SourceInfo } from '@vid2live/livephoto/types';
import { readJson, sendError, sendFile, sendJson, StudioError } from '@vid2live/studio/http';
import { conversionOptionsOf, livePhotosKitPath, safeName, studioWebRoot, WEB_FILE } from '@vid2live/studio/page';
import { Limiter } from './limiter';
import { LocalConversions } from './local-conversions';
import { receiveUpload } from './upload';

export interface StudioServerOptions {
  /** a folder whose videos are listed (recursively); none: uploads only */
  folder?: string;
  /** 0 = any free port */
  port?: number;
  /** bytes; default 2 GiB */
  maxUploadBytes?: number;
  /** where uploads, previews and outputs live; a fresh temp folder (removed on close) by default */
  workDir?: string;
}

export interface RunningStudio {
  url: string;
  port: number;
  workDir: string;
  close(): Promise<void>;
}

interface Video {
  id: string;
  name: string;
  path: string;
  size: number;
  /** cache folder of this video's previews */
  dir: string;
  /** set once the analysis succeeded */
  info?: SourceInfo;
  analysis?: Promise<MomentAnalysis & { thumbnails: ThumbnailStrip }>;
  proxy?: Promise<string>;
}


const ID = /^[a-z0-9]{8,40}$/;
/** a folder is rescanned at most this often (any request may ask for it) */
const RESCAN_INTERVAL_MS = 2_000;

/**
 * `vid2live studio`: the page and its HTTP surface (docs/studio.md) on the embedded engine, on 127.0.0.1 only.
 * Requests must name this server as their Host (no DNS rebinding) and, when a browser says where it comes from,
 * come from the page itself (no cross-site uploads or conversions).
 */
export async function startStudioServer(opts: StudioServerOptions = {}): Promise<RunningStudio> {
  const ownWorkDir = !opts.workDir;
  const workDir = opts.workDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'vid2live-studio-')));
  const maxUploadBytes = opts.maxUploadBytes ?? 2 * 1024 ** 3;
  const webRoot = studioWebRoot();
  const kitPath = livePhotosKitPath();
  const videos = new Map<string, Video>();
  // ffmpeg uses every core: one conversion or analysis at a time, a couple of frame previews beside it
  // Stopping the studio (Ctrl+C) aborts whatever ffmpeg runs and fails what waits, so close() is quick and the
  // work folder (uploads, outputs) is removed rather than left in /tmp.
  const stopping = new AbortController();
  const signal = stopping.signal;
  const heavy = new Limiter(1);
  const light = new Limiter(2);
  const frameCache = new Map<string, Buffer>();
  const folder = opts.folder ? path.resolve(opts.folder) : undefined;

  const addVideo = (id: string, name: string, file: string, size: number): Video => {
    const existing = videos.get(id);
    if (existing) return existing;
    const v: Video = { id, name, path: file, size, dir: path.join(workDir, 'videos', id) };
    videos.set(id, v);
    return v;
  };

  let scanned = 0;
  let scanning: Promise<void> | undefined;
  /** the folder's videos, rescanned at most every RESCAN_INTERVAL_MS and one scan at a time */
  const listFolder = (): Promise<void> => {
    if (!folder) return Promise.resolve();
    if (scanning) return scanning;
    if (Date.now() - scanned < RESCAN_INTERVAL_MS) return Promise.resolve();
    scanning = scanFolder(folder).finally(() => {
      scanned = Date.now();
      scanning = undefined;
    });
    return scanning;
  };

  const scanFolder = async (dir: string): Promise<void> => {
    const { sources } = await discoverSources([dir], path.join(workDir, 'nowhere'));
    for (const s of sources) {
      // videos only: a Motion Photo .jpg the CLI converts has no moment to choose here
      if (!VIDEO_EXTENSIONS.has(path.extname(s.sourcePath).toLowerCase())) continue;
      const st = await fs.stat(s.sourcePath).catch(() => undefined);
      if (!st?.isFile()) continue;
      const id = createHash('sha256').update(`${s.sourcePath}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 20);
      addVideo(id, path.relative(dir, s.sourcePath), s.sourcePath, st.size);
    }
  };

  /** engine messages name the user's file, never a path in the studio's work folder */
  const rewrite = (message: string) => {
    let m = message;
    for (const v of videos.values()) m = m.split(v.path).join(v.name);
    return m.split(workDir).join('studio');
  };

  const video = (id: string): Video => {
    const v = ID.test(id) ? videos.get(id) : undefined;
    if (!v) throw new StudioError(404, 'NOT_FOUND', 'no such video (the studio was restarted, or it was never opened)');
    return v;
  };

  const analyseAndStrip = async (v: Video) => {
    const { info, analysis } = await analyseMoment(v.path, { signal });
    const thumbnails = await makeThumbnailStrip(info, path.join(v.dir, 'thumbnails.jpg'), 12, 90, { signal });
    return { info, analysis: { ...analysis, thumbnails } };
  };

  const analysisOf = (v: Video) => {
    v.analysis ??= (async () => {
      const r = await heavy.run(async () => {
        await fs.mkdir(v.dir, { recursive: true });
        return analyseAndStrip(v);
      });
      v.info = r.info;
      return r.analysis;
    })();
    // a failed analysis is not cached: the user may fix the file and try again
    v.analysis.catch(() => {
      v.analysis = undefined;
      v.info = undefined;
    });
    return v.analysis;
  };

  /** the probe of a video (its analysis runs first: a page always asks for that before frames or playback) */
  const infoOf = async (v: Video): Promise<SourceInfo> => {
    await analysisOf(v);
    return v.info!;
  };

  const proxyOf = (v: Video) => {
    v.proxy ??= (async () => {
      const info = await infoOf(v);
      const out = path.join(v.dir, 'preview.mp4');
      await heavy.run(() => makePlaybackProxy(info, out, { signal }));
      return out;
    })();
    v.proxy.catch(() => (v.proxy = undefined));
    return v.proxy;
  };

  const conversions = new LocalConversions(workDir, heavy, signal, (m) => rewrite(m));
  const upload = async (req: http.IncomingMessage, url: URL) => {
    const u = await receiveUpload(req, safeName(url.searchParams.get('name') ?? ''), path.join(workDir, 'uploads'), maxUploadBytes);
    return addVideo(u.id, u.name, u.file, u.size);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, port: number) => {
    const host = String(req.headers.host ?? '');
    if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(host)) {
      throw new StudioError(421, 'WRONG_HOST', 'open the studio at the address it printed');
    }
    const origin = req.headers.origin;
    if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && origin !== `http://${host}`) {
      throw new StudioError(403, 'CROSS_ORIGIN', 'only the studio page itself may change anything');
    }
    const url = new URL(req.url ?? '/', `http://${host}`);
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new StudioError(400, 'BAD_PATH', 'the address is not valid');
    }
    // Another site's page may still make the browser send GETs here (an <img>, a no-cors fetch): the API answers
    // only the studio's own page (browsers say where a request comes from in Sec-Fetch-Site).
    const site = req.headers['sec-fetch-site'];
    if (parts[0] === 'api' && (site === 'cross-site' || site === 'same-site')) {
      throw new StudioError(403, 'CROSS_ORIGIN', 'only the studio page itself may use its API');
    }
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';

    if (parts[0] !== 'api') {
      if (!get) throw new StudioError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`);
      if (parts.length === 0) return sendFile(req, res, path.join(webRoot, 'index.html'));
      if (parts.length === 2 && parts[0] === 'vendor' && parts[1] === 'livephotoskit.js') return sendFile(req, res, kitPath);
      if (parts.length === 1 && WEB_FILE.test(parts[0])) return sendFile(req, res, path.join(webRoot, parts[0]));
      throw new StudioError(404, 'NOT_FOUND', `${url.pathname} is not here`);
    }
    const [, a, b, c, d] = parts;
    if (a === 'info' && parts.length === 2 && get) {
      return sendJson(res, 200, { mode: 'local', ...(folder ? { folder } : {}), maxUploadBytes });
    }
    if (a === 'videos' && parts.length === 2) {
      if (get) {
        await listFolder();
        return sendJson(res, 200, { videos: [...videos.values()].map((v) => ({ id: v.id, name: v.name, size: v.size })) });
      }
      if (method === 'POST') {
        const v = await upload(req, url);
        return sendJson(res, 201, { id: v.id, name: v.name, size: v.size });
      }
    }
    if (a === 'videos' && b !== undefined) {
      if (ID.test(b) && !videos.has(b)) await listFolder();
      const v = video(b);
      if (parts.length === 4 && c === 'analysis' && get) {
        const analysis = await analysisOf(v);
        return sendJson(res, 200, { video: { id: v.id, name: v.name }, ...analysis });
      }
      if (parts.length === 4 && c === 'thumbnails.jpg' && get) {
        await analysisOf(v);
        return sendFile(req, res, path.join(v.dir, 'thumbnails.jpg'));
      }
      if (parts.length === 4 && c === 'frame.jpg' && get) {
        const t = Number(url.searchParams.get('t'));
        const w = Math.round(Number(url.searchParams.get('w') ?? 960));
        if (!Number.isFinite(t) || !(w >= 16 && w <= PREVIEW_MAX_WIDTH)) {
          throw new StudioError(400, 'INVALID_OPTIONS', `t must be seconds and w 16–${PREVIEW_MAX_WIDTH} pixels`);
        }
        const info = await infoOf(v);
        const key = `${v.id}:${t.toFixed(4)}:${w}`;
        let jpeg = frameCache.get(key);
        if (!jpeg) {
          const out = path.join(v.dir, `frame-${randomBytes(6).toString('hex')}.jpg`);
          try {
            await light.run(() => extractPreviewFrame(info, t, w, out, { signal }));
            jpeg = await fs.readFile(out);
          } finally {
            await fs.rm(out, { force: true });
          }
          frameCache.set(key, jpeg);
          if (frameCache.size > 64) frameCache.delete(frameCache.keys().next().value!);
        }
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.end(method === 'HEAD' ? undefined : jpeg);
        return;
      }
      if (parts.length === 4 && c === 'preview.mp4' && get) return sendFile(req, res, await proxyOf(v));
      if (parts.length === 4 && c === 'conversions' && method === 'POST') {
        const options = conversionOptionsOf(await readJson(req));
        const conv = conversions.start(v, options);
        return sendJson(res, 202, { id: conv.id });
      }
    }
    if (a === 'conversions' && b !== undefined && get) {
      const conv = ID.test(b) ? conversions.get(b) : undefined;
      if (!conv) throw new StudioError(404, 'NOT_FOUND', 'no such conversion');
      if (parts.length === 3) return sendJson(res, 200, conversions.view(conv));
      if (parts.length === 5 && c === 'files' && d !== undefined) {
        const file = conv.files.get(d);
        if (!file) throw new StudioError(404, 'NOT_FOUND', `${d} is not an output of this conversion`);
        const download = url.searchParams.get('download') === '1' || d.endsWith('.zip');
        return sendFile(req, res, file, download ? { download: d } : {});
      }
    }
    throw new StudioError(404, 'NOT_FOUND', `${method} ${url.pathname} is not part of the studio`);
  };

  const server = http.createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    handle(req, res, port).catch((e: unknown) => {
      if (!(e instanceof StudioError) && !(e instanceof LivePhotoError)) {
        process.stderr.write(`studio: ${req.method} ${req.url}: ${e instanceof Error ? e.stack : String(e)}\n`);
      }
      // a body refused before it was read (an upload over the limit): answer, then close instead of reading the rest
      if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
      sendError(res, e, rewrite);
    });
  });
  server.requestTimeout = 0; // uploads of large videos take their time…
  server.setTimeout(60_000); // …but a socket silent for a minute (a stalled upload) is closed
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    workDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      stopping.abort();
      await Promise.all([heavy.idle(), light.idle()]);
      if (ownWorkDir) await fs.rm(workDir, { recursive: true, force: true });
    },
  };
}
