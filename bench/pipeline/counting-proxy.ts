import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A plain HTTP reverse proxy on 127.0.0.1 in front of s3rver that counts bytes. The apps get
 * `S3_ENDPOINT = http://127.0.0.1:<proxy port>`, so every S3 call they make, and every presigned URL they hand to
 * ffmpeg, names the proxy. Requests are forwarded unchanged (method, path + query, all headers including Host and
 * Range): SigV4 signs the Host the client used, and the proxy forwards that same Host, so s3rver verifies it.
 *
 * Counted per request: request body bytes (PUT/POST: uploads) and response body bytes that came from s3rver and
 * were piped on to the client (GET: what the S3 server sent). Piping keeps backpressure, so the proxy never reads
 * ahead of the client by more than its stream buffers. When a client hangs up early (ffmpeg seeking away from an
 * open-ended `Range: bytes=N-`), the upstream response is destroyed: the count is what was actually sent up to that
 * point (including what sat in loopback socket buffers, which ffmpeg never consumed), not the object's size.
 */
export interface RequestLogEntry {
  method: string;
  path: string;
  range?: string;
  status: number;
  userAgent: string;
  requestBytes: number;
  responseBytes: number;
  /** the client went away before the response body was complete */
  aborted: boolean;
  /** performance.now() when the request arrived and when its response ended or was cut (to tell which ffmpeg open it served) */
  startMs: number;
  endMs?: number;
}

export interface ProxyCounters {
  requests: number;
  /** response body bytes of GET requests (object reads) */
  getResponseBytes: number;
  getRequests: number;
  /** request body bytes of PUT/POST (uploads, multipart parts) */
  uploadRequestBytes: number;
  uploadRequests: number;
  /** everything else (HEAD, LIST response bodies, DELETE, …) */
  otherResponseBytes: number;
}

export interface CountingProxy {
  endpoint: string;
  port: number;
  counters(): ProxyCounters;
  /** every request since the proxy started, in arrival order */
  log(): RequestLogEntry[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function zero(): ProxyCounters {
  return { requests: 0, getResponseBytes: 0, getRequests: 0, uploadRequestBytes: 0, uploadRequests: 0, otherResponseBytes: 0 };
}

export function diffCounters(after: ProxyCounters, before: ProxyCounters): ProxyCounters {
  const out = zero();
  for (const k of Object.keys(out) as Array<keyof ProxyCounters>) out[k] = after[k] - before[k];
  return out;
}

export async function startCountingProxy(upstream: { host: string; port: number }): Promise<CountingProxy> {
  const c = zero();
  const entries: RequestLogEntry[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const server = http.createServer((req, res) => {
    c.requests++;
    const method = req.method ?? 'GET';
    const isGet = method === 'GET';
    const isUpload = method === 'PUT' || method === 'POST';
    if (isGet) c.getRequests++;
    if (isUpload) c.uploadRequests++;
    const entry: RequestLogEntry = {
      method,
      path: (req.url ?? '/').split('?')[0],
      range: req.headers.range,
      status: 0,
      userAgent: String(req.headers['user-agent'] ?? ''),
      requestBytes: 0,
      responseBytes: 0,
      aborted: false,
      startMs: performance.now(),
    };
    entries.push(entry);

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;

    const up = http.request(
      { host: upstream.host, port: upstream.port, method, path: req.url, headers, agent },
      (ur) => {
        entry.status = ur.statusCode ?? 0;
        const outHeaders: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) outHeaders[k] = v;
        res.writeHead(ur.statusCode ?? 502, ur.statusMessage, outHeaders);
        ur.on('data', (chunk: Buffer) => {
          entry.responseBytes += chunk.length;
          if (isGet) c.getResponseBytes += chunk.length;
          else c.otherResponseBytes += chunk.length;
        });
        ur.pipe(res);
        ur.on('error', () => res.destroy());
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${e.message}`);
      } else res.destroy();
    });
    req.on('data', (chunk: Buffer) => {
      entry.requestBytes += chunk.length;
      if (isUpload) c.uploadRequestBytes += chunk.length;
    });
    req.pipe(up);
    // The client hung up before the body was complete: stop the upstream transfer so nothing more is counted.
    res.on('close', () => {
      entry.endMs = performance.now();
      if (!res.writableFinished) {
        entry.aborted = true;
        up.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    counters: () => ({ ...c }),
    log: () => entries.slice(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
