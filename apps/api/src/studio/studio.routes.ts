import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { configSecrets, scrubSecrets } from '@vid2live/config';
import { STUDIO_FILES } from '@vid2live/jobs';
import { PREVIEW_MAX_WIDTH } from '@vid2live/livephoto/preview';
import { StudioError, attachment, baseHeaders, byteRange, contentTypeOf, sendError, sendFile, sendJson } from '@vid2live/studio/http';
import { WEB_FILE, conversionOptionsOf, livePhotosKitPath, studioWebRoot } from '@vid2live/studio/page';
import { ApiKeyAuth } from '../auth';
import { StudioService } from './studio.service';

export const STUDIO_BASE_PATH = '/studio';
const COOKIE = 'vid2live_studio';

/**
 * The studio page at /studio/ and its HTTP surface (docs/studio.md) for a tenant, as a Fastify plugin outside
 * Nest's router (it streams objects, sets cookies and needs its own error answers). The page and LivePhotosKit are
 * public files; every `api/` call but `info` and `session` needs the tenant: the session cookie the page gets by
 * signing in with its API key (HttpOnly, SameSite=Strict, Path=/studio/), or the API key as a Bearer header.
 * Browsers' cross-site and same-site requests are refused (Sec-Fetch-Site), and so is a change whose Origin is
 * not this API's own.
 */
export async function mountStudio(app: NestFastifyApplication): Promise<void> {
  const studio = app.get(StudioService);
  const auth = app.get(ApiKeyAuth);
  const log = new Logger('studio');
  const secrets = configSecrets(studio.config);
  const webRoot = studioWebRoot();
  const kit = livePhotosKitPath();
  // the page uploads straight to object storage: its Content-Security-Policy allows that origin, and no other
  const pageHeaders = baseHeaders({ connectSrc: studio.storage.browserOrigin ? [studio.storage.browserOrigin] : [] });
  const fastify = app.getHttpAdapter().getInstance();

  const handle = async (request: FastifyRequest, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://studio.invalid');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent).slice(1); // without 'studio'
    } catch {
      throw new StudioError(400, 'BAD_PATH', 'the address is not valid');
    }
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (parts[0] !== 'api') {
      if (!get) throw new StudioError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`);
      if (parts.length === 0) {
        if (!url.pathname.endsWith('/')) {
          // relative `api/` URLs need the trailing slash
          res.writeHead(308, { ...baseHeaders(), location: `${STUDIO_BASE_PATH}/` });
          res.end();
          return;
        }
        return sendFile(req, res, path.join(webRoot, 'index.html'), { headers: pageHeaders });
      }
      if (parts.length === 2 && parts[0] === 'vendor' && parts[1] === 'livephotoskit.js') return sendFile(req, res, kit);
      if (parts.length === 1 && WEB_FILE.test(parts[0])) return sendFile(req, res, path.join(webRoot, parts[0]));
      throw new StudioError(404, 'NOT_FOUND', `${url.pathname} is not here`);
    }

    // Another site's page may still make the browser send requests here (an <img>, a form, a no-cors fetch).
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') throw new StudioError(403, 'CROSS_ORIGIN', 'only the studio page itself may use its API');
    const origin = req.headers.origin;
    if (!get && origin !== undefined && origin !== `${request.protocol}://${req.headers.host}`) {
      throw new StudioError(403, 'CROSS_ORIGIN', 'only the studio page itself may change anything');
    }
    const [, a, b, c, d] = parts;
    const token = cookieOf(req.headers.cookie);

    if (a === 'info' && parts.length === 2 && get) {
      const signedIn = Boolean((await studio.store.sessionTenant(token)) ?? auth.tenantFor(req.headers.authorization));
      return sendJson(res, 200, { mode: 'service', signedIn, upload: 'presigned', maxUploadBytes: studio.config.STUDIO_MAX_UPLOAD_BYTES });
    }
    if (a === 'session' && parts.length === 2) {
      if (method === 'POST') {
        const tenant = auth.tenantFor(req.headers.authorization);
        if (!tenant) throw new StudioError(401, 'UNAUTHORIZED', 'that is not a tenant API key of this service');
        studio.area(tenant); // a tenant without a studio area is told at sign-in
        const seconds = studio.config.STUDIO_SESSION_SECONDS;
        const fresh = await studio.store.createSession(tenant, seconds);
        const secure = request.protocol === 'https' ? '; Secure' : '';
        res.setHeader('set-cookie', `${COOKIE}=${fresh}; Path=${STUDIO_BASE_PATH}/; HttpOnly; SameSite=Strict; Max-Age=${seconds}${secure}`);
        return sendJson(res, 200, { signedIn: true });
      }
      if (method === 'DELETE') {
        await studio.store.deleteSession(token);
        res.setHeader('set-cookie', `${COOKIE}=; Path=${STUDIO_BASE_PATH}/; HttpOnly; SameSite=Strict; Max-Age=0`);
        return sendJson(res, 200, { signedIn: false });
      }
    }

    const tenant = (await studio.store.sessionTenant(token)) ?? auth.tenantFor(req.headers.authorization);
    if (!tenant) throw new StudioError(401, 'UNAUTHORIZED', 'sign in with your API key first');

    if (a === 'videos' && parts.length === 2) {
      if (get) {
        const videos = await studio.store.listVideos(tenant);
        return sendJson(res, 200, { videos: videos.map((v) => ({ id: v.id, name: v.name, size: v.size })) });
      }
      if (method === 'POST') {
        const { video, url: putUrl, headers } = await studio.createUpload(tenant, request.body);
        // a presigned URL is a credential: it goes to this tenant's page, never to a log
        return sendJson(res, 201, { id: video.id, name: video.name, size: video.size, upload: { method: 'PUT', url: putUrl, headers } });
      }
    }
    if (a === 'videos' && b !== undefined && parts.length === 4) {
      if (c === 'uploaded' && method === 'POST') {
        const v = await studio.completeUpload(tenant, b);
        return sendJson(res, 200, { id: v.id, name: v.name, size: v.size });
      }
      if (c === 'analysis' && get) {
        const analysis = await studio.analysis(tenant, b);
        if ('pending' in analysis) res.setHeader('retry-after', '1');
        return sendJson(res, 'pending' in analysis ? 202 : 200, analysis);
      }
      if (c === 'thumbnails.jpg' && get) return sendObject(req, res, await studio.analysedFile(tenant, b, STUDIO_FILES.thumbnails));
      if (c === 'preview.mp4' && get) return sendObject(req, res, await studio.analysedFile(tenant, b, STUDIO_FILES.proxy));
      if (c === 'frame.jpg' && get) {
        const t = Number(url.searchParams.get('t'));
        const w = Math.round(Number(url.searchParams.get('w') ?? 960));
        if (!Number.isFinite(t) || t < 0 || t > 86_400 || !(w >= 16 && w <= PREVIEW_MAX_WIDTH)) {
          throw new StudioError(400, 'INVALID_OPTIONS', `t must be seconds and w 16–${PREVIEW_MAX_WIDTH} pixels`);
        }
        return sendObject(req, res, await studio.frame(tenant, b, t, w));
      }
      if (c === 'conversions' && method === 'POST') {
        const { id } = await studio.convert(tenant, b, conversionOptionsOf(request.body));
        return sendJson(res, 202, { id });
      }
    }
    if (a === 'conversions' && b !== undefined && get) {
      if (parts.length === 3) return sendJson(res, 200, studio.conversionView(await studio.conversion(tenant, b)));
      if (parts.length === 5 && c === 'files' && d !== undefined) {
        const ref = await studio.conversionFile(tenant, b, d);
        const download = url.searchParams.get('download') === '1' || d.endsWith('.zip');
        return sendObject(req, res, ref, download ? d : undefined);
      }
    }
    throw new StudioError(404, 'NOT_FOUND', `${method} ${url.pathname} is not part of the studio`);
  };

  /** Streams an object of the tenant's studio area through the API (one Range honoured: <video> seeks). */
  const sendObject = async (req: IncomingMessage, res: ServerResponse, o: { bucket: string; key: string }, download?: string) => {
    const head = await studio.storage.head(o.bucket, o.key);
    if (!head) throw new StudioError(404, 'NOT_FOUND', `${path.posix.basename(o.key)} is not there`);
    const headers: Record<string, string> = { ...baseHeaders(), 'content-type': contentTypeOf(o.key), 'accept-ranges': 'bytes' };
    if (download) headers['content-disposition'] = attachment(download);
    const range = byteRange(req.headers.range, head.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${head.size}` });
      res.end();
      return;
    }
    if (req.method === 'HEAD' || head.size === 0) {
      res.writeHead(200, { ...headers, 'content-length': String(head.size) });
      res.end();
      return;
    }
    const body = await studio.storage.open(o.bucket, o.key, range);
    if (!body) throw new StudioError(404, 'NOT_FOUND', `${path.posix.basename(o.key)} is not there`);
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${head.size}`;
    res.writeHead(range ? 206 : 200, { ...headers, 'content-length': String(body.length) });
    await pipeline(body.body, res).catch(() => res.destroy());
  };

  await fastify.register(
    async (scope) => {
      scope.all('/', route);
      scope.all('/*', route);
    },
    { prefix: STUDIO_BASE_PATH },
  );

  async function route(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    const { raw: req } = request;
    const res = reply.raw;
    try {
      await handle(request, req, res);
    } catch (e) {
      if (!(e instanceof StudioError) && (e as { code?: string }).code === undefined) {
        log.error(`${req.method} ${(req.url ?? '').split('?')[0]}: ${scrubSecrets((e as Error).message ?? String(e), secrets)}`);
      }
      sendError(res, e);
    }
  }
}

function cookieOf(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}
