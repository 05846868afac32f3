import { createReadStream, promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isLivePhotoError } from '@vid2live/errors';

/** A typed error the page shows in words: `{ error: { code, message } }` with an HTTP status. */
export class StudioError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.heic': 'image/heic',
  '.mov': 'video/quicktime',
  '.mp4': 'video/mp4',
  '.zip': 'application/zip',
  '.json': 'application/json',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Headers every answer carries: the page is its own origin, nothing is framed, types are not sniffed. */
export function baseHeaders(opts: { connectSrc?: string[] } = {}): Record<string, string> {
  const connect = ["'self'", 'blob:', ...(opts.connectSrc ?? [])].join(' ');
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    // only the studio's own files: no inline script, no other origin, no plugin, never framed
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob:; " +
      `worker-src 'self' blob:; connect-src ${connect}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...baseHeaders(), 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The HTTP status of an engine error: the request's fault (400), the input's (422) or ours / transient (500/503). */
export function errorStatus(e: unknown): number {
  if (e instanceof StudioError) return e.status;
  if (isLivePhotoError(e)) {
    if (e.code === 'INVALID_OPTIONS') return 400;
    if (e.code === 'CANCELED') return 409;
    return e.retryable ? 503 : 422;
  }
  return 500;
}

/** `{ error: { code, message } }`; paths in messages are replaced by what the user knows them as. */
export function sendError(res: ServerResponse, e: unknown, rewrite: (message: string) => string = (m) => m): void {
  const code = e instanceof StudioError || isLivePhotoError(e) ? e.code : 'INTERNAL';
  const message = e instanceof StudioError || isLivePhotoError(e) ? rewrite(e.message) : 'the studio failed unexpectedly; see its terminal';
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, errorStatus(e), { error: { code, message } });
}

/** A JSON request body of at most `limit` bytes. */
export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new StudioError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new StudioError(413, 'BODY_TOO_LARGE', `the request body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new StudioError(400, 'INVALID_JSON', 'the request body is not valid JSON');
  }
}

/**
 * Sends a file, honouring a single `Range: bytes=a-b` (a `<video>` element seeks with them; Safari insists).
 * `download` sets Content-Disposition: attachment with that file name.
 */
export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  opts: { download?: string; type?: string; headers?: Record<string, string> } = {},
): Promise<void> {
  const st = await fs.stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new StudioError(404, 'NOT_FOUND', `${path.basename(file)} is not here`);
  const headers: Record<string, string> = {
    ...baseHeaders(),
    'content-type': opts.type ?? contentTypeOf(file),
    'accept-ranges': 'bytes',
    ...opts.headers,
  };
  if (opts.download) headers['content-disposition'] = attachment(opts.download);
  const r = byteRange(req.headers.range, st.size);
  if (r === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${st.size}` });
    res.end();
    return;
  }
  const { start, end } = r ?? { start: 0, end: st.size - 1 };
  if (r) headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
  headers['content-length'] = String(st.size === 0 ? 0 : end - start + 1);
  res.writeHead(r ? 206 : 200, headers);
  if (req.method === 'HEAD' || st.size === 0) {
    res.end();
    return;
  }
  await pipeline(createReadStream(file, { start, end }), res).catch(() => res.destroy());
}

/** `Content-Disposition: attachment` with a file name that needs no quoting rules. */
export function attachment(name: string): string {
  return `attachment; filename="${name.replace(/[^\w.() -]/g, '_')}"`;
}

/**
 * The one `Range: bytes=a-b` | `bytes=a-` | `bytes=-n` of a request, for an object of `size` bytes: undefined when
 * there is none (or it is of another form: the whole object is sent), `unsatisfiable` for a 416.
 */
export function byteRange(header: string | string[] | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(header ?? '').trim());
  if (!range || size <= 0 || (range[1] === '' && range[2] === '')) return undefined;
  let start: number;
  let end = size - 1;
  if (range[1] === '') {
    start = Math.max(0, size - Number(range[2]));
  } else {
    start = Number(range[1]);
    if (range[2] !== '') end = Math.min(end, Number(range[2]));
  }
  if (start > end || start >= size) return 'unsatisfiable';
  return { start, end };
}
