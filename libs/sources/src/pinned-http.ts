import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { isIP } from 'node:net';
import { LivePhotoError } from '@vid2live/errors';
import { assertPublicTarget, type Lookup } from '@vid2live/webhooks/target-guard';
import { describeUrl, httpStatusError, sourceError, toSourceError } from './errors';

/** What decides where a source URL may go and how long a read may take. */
export interface SourceHttpOptions {
  /** SOURCE_ALLOW_PRIVATE_TARGETS: development only; every address is then allowed (schemes are still checked) */
  allowPrivate: boolean;
  /** TEST ONLY (SOURCE_TEST_PUBLIC_HOSTS): exact `host:port` values treated as public; see target-guard.ts */
  testPublicHosts?: ReadonlySet<string>;
  /** resolver, for tests; the system resolver otherwise */
  lookup?: Lookup;
  /** TCP (+TLS) connect */
  connectTimeoutMs: number;
  /** no byte from the server for this long while we wait for one */
  idleTimeoutMs: number;
  /** one request from start to the last byte of its body (a window of a range read) */
  requestTimeoutMs: number;
  /** redirect hops followed, each checked like the first URL (default 5) */
  maxRedirects?: number;
  userAgent?: string;
}

export interface PinnedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** the URL that answered (after redirects) */
  url: URL;
  /** Replace the whole-exchange deadline (counted from now), e.g. for a whole-file download. */
  setDeadline(ms: number): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * HTTP(S) GETs of one source, for one conversion. Each host name is resolved once, checked by the same target
 * policy as webhooks, and every connection goes to that checked address (no second lookup a rebinding DNS server
 * could answer differently); TLS still verifies the certificate against the name. Redirects are followed by hand,
 * each hop checked again. Timeouts: connect, idle (no byte while waiting), and a deadline per exchange.
 */
export class PinnedHttpClient {
  private readonly pins = new Map<string, { address: string; family: 4 | 6 }>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(private readonly opts: SourceHttpOptions) {}

  /** Checks `url` (scheme, addresses) and pins its host; throws TargetForbiddenError (SOURCE_URL_FORBIDDEN). */
  private async check(url: URL): Promise<void> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const pinned = this.pins.get(host);
    if (pinned) {
      // Resolved and checked earlier in this session: still re-check the scheme/port policy, never re-resolve.
      await assertPublicTarget(url.href, {
        allowPrivate: this.opts.allowPrivate,
        kind: 'source',
        testPublicHosts: this.opts.testPublicHosts,
        lookup: async () => [pinned],
      });
      return;
    }
    const target = await assertPublicTarget(url.href, {
      allowPrivate: this.opts.allowPrivate,
      kind: 'source',
      lookup: this.opts.lookup,
      testPublicHosts: this.opts.testPublicHosts,
    });
    if (!isIP(host)) this.pins.set(host, target.addresses[0]);
  }

  /**
   * GET `rawUrl` with `headers`, following redirects (each hop checked). Resolves with the first non-redirect
   * answer, its body unread (the caller reads or destroys it); rejects with a typed error on a refused hop,
   * a network error or a timeout. Statuses are not judged here.
   */
  async get(rawUrl: string | URL, headers: Record<string, string>, signal?: AbortSignal): Promise<PinnedResponse> {
    let url = new URL(String(rawUrl));
    const maxRedirects = this.opts.maxRedirects ?? 5;
    for (let hop = 0; ; hop++) {
      await this.check(url);
      const res = await this.once(url, headers, signal);
      if (!REDIRECTS.has(res.status)) return res;
      res.body.destroy();
      const location = res.headers.location;
      if (!location) throw httpStatusError(res.status, describeUrl(url));
      if (hop >= maxRedirects) {
        throw sourceError('SOURCE_NOT_FOUND', `${describeUrl(url)}: more than ${maxRedirects} redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw sourceError('SOURCE_NOT_FOUND', `${describeUrl(url)}: redirect to an invalid URL`);
      }
      url = next;
    }
  }

  private once(url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<PinnedResponse> {
    const name = describeUrl(url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const pinned = this.pins.get(host);
    const lookup: LookupFunction | undefined = pinned
      ? (_h, options, cb) => {
          if ((options as { all?: boolean }).all) {
            (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
          } else cb(null, pinned.address, pinned.family);
        }
      : undefined;
    const https_ = url.protocol === 'https:';
    const mod = https_ ? https : http;

    return new Promise<PinnedResponse>((resolve, reject) => {
      if (signal?.aborted) return reject(new LivePhotoError('CANCELED'));
      let settled = false;
      let finished = false;
      let deadline: NodeJS.Timeout | undefined;
      let idle: NodeJS.Timeout | undefined;
      let connectTimer: NodeJS.Timeout | undefined;
      let body: http.IncomingMessage | undefined;

      const cleanup = () => {
        finished = true;
        clearTimeout(deadline);
        clearTimeout(idle);
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: Error) => {
        if (finished) return;
        cleanup();
        req.destroy(e);
        body?.destroy(e);
        if (!settled) {
          settled = true;
          reject(e);
        }
      };
      const timeout = (what: string, ms: number) =>
        sourceError('SOURCE_UNAVAILABLE', `${name}: ${what} timed out after ${Math.round(ms / 100) / 10} s`, { timeout: what });
      const setDeadline = (ms: number) => {
        if (finished) return;
        clearTimeout(deadline);
        deadline = setTimeout(() => fail(timeout('the request', ms)), ms);
      };
      // Idle: no byte from the server for this long while we wait for one. Bodies are consumed as they arrive
      // (range windows are bounded and drained into memory), so a quiet response means the server stopped.
      const armIdle = () => {
        if (finished) return;
        clearTimeout(idle);
        idle = setTimeout(() => fail(timeout('waiting for data', this.opts.idleTimeoutMs)), this.opts.idleTimeoutMs);
      };
      const onAbort = () => fail(new LivePhotoError('CANCELED'));

      const req = mod.request(url, {
        method: 'GET',
        headers: { 'user-agent': this.opts.userAgent ?? 'vid2live-source-reader/1', 'accept-encoding': 'identity', ...headers },
        agent: https_ ? this.httpsAgent : this.httpAgent,
        ...(lookup ? { lookup } : {}),
        ...(https_ ? { servername: isIP(host) ? undefined : host } : {}),
      });
      setDeadline(this.opts.requestTimeoutMs);
      armIdle();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket: Socket) => {
        // Watch the socket, not the body: a 'data' listener on the body would start it flowing before the caller reads.
        socket.on('data', armIdle);
        const unwatch = () => socket.off('data', armIdle);
        req.once('close', unwatch);
        if (!socket.connecting) return; // a kept-alive connection
        connectTimer = setTimeout(() => fail(timeout('connecting', this.opts.connectTimeoutMs)), this.opts.connectTimeoutMs);
        socket.once(https_ ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (e) => fail(toSourceError(e, name)));
      req.on('response', (res) => {
        body = res;
        armIdle();
        res.on('error', (e) => fail(toSourceError(e, name)));
        res.on('close', cleanup);
        if (settled) return void res.destroy();
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url, setDeadline });
      });
      req.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Reads a whole (bounded) body into memory. */
export async function readBody(body: http.IncomingMessage, maxBytes: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > maxBytes) {
      body.destroy();
      throw sourceError('SOURCE_UNAVAILABLE', `${name}: the server sent more than the ${maxBytes} bytes asked for`);
    }
    chunks.push(c);
  }
  if (!body.complete) throw sourceError('SOURCE_UNAVAILABLE', `${name}: the connection closed before the body was complete`);
  return Buffer.concat(chunks);
}

/** `Content-Range: bytes a-b/total` → its parts; total undefined for `*`. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}
