import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { assertPublicTarget, type Lookup } from './target-guard';
import { signWebhook } from './signature';

export interface WebhookEvent {
  /** stable event id, `webhook-id`; the same on every retry and replay */
  id: string;
  type: string;
  /** seconds since epoch when the event happened (the body's `timestamp`) */
  timestamp: number | string;
  data: unknown;
}

export interface DeliveryResult {
  status: number;
  /** first bytes of the receiver's answer, for the delivery log */
  responseSnippet: string;
}

/** The receiver answered something other than 2xx, or could not be reached: BullMQ retries with backoff. */
export class WebhookDeliveryError extends Error {
  override readonly name = 'WebhookDeliveryError';
  readonly code = 'WEBHOOK_DELIVERY_FAILED';
  readonly retryable = true;
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The exact bytes that are signed and sent. */
export function webhookBody(event: WebhookEvent): string {
  const ts = Number(event.timestamp);
  return JSON.stringify({ type: event.type, timestamp: new Date(ts * 1000).toISOString(), data: event.data });
}

/**
 * POSTs one signed event. The target is checked (and its DNS resolved) right before sending and the connection is
 * made to exactly the checked address, so a DNS answer that changes between check and connect (rebinding) cannot
 * redirect the request to a private address. Redirects are never followed; non-2xx throws.
 */
export async function deliverWebhook(
  url: string,
  event: WebhookEvent,
  opts: { secret: string; allowPrivate: boolean; timeoutMs?: number; lookup?: Lookup; userAgent?: string; now?: number },
): Promise<DeliveryResult> {
  const target = await assertPublicTarget(url, { allowPrivate: opts.allowPrivate, kind: 'webhook', lookup: opts.lookup });
  const pinned = target.addresses[0];
  const body = webhookBody(event);
  // The signed timestamp is the time of this attempt, not of the event: receivers reject signatures older than
  // their tolerance (5 min), and a retry hours later must still verify. The body keeps the event's own time.
  const timestamp = String(Math.floor((opts.now ?? Date.now()) / 1000));
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': opts.userAgent ?? 'vid2live-webhooks/1',
    'webhook-id': event.id,
    'webhook-timestamp': timestamp,
    'webhook-signature': signWebhook(opts.secret, event.id, timestamp, body),
  };
  const pinnedLookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) {
      (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    } else cb(null, pinned.address, pinned.family);
  };
  const mod = target.url.protocol === 'https:' ? https : http;
  return new Promise<DeliveryResult>((resolve, reject) => {
    const req = mod.request(
      target.url,
      {
        method: 'POST',
        headers,
        lookup: pinnedLookup,
        // The socket goes to the pinned IP; TLS still verifies the certificate against the URL's host name.
        servername: target.url.protocol === 'https:' ? target.url.hostname : undefined,
        signal: AbortSignal.timeout(opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Keep only a snippet: a receiver must not be able to make us buffer megabytes.
          if (size < 1024) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const responseSnippet = Buffer.concat(chunks).toString('utf8').slice(0, 1024);
          if (status >= 200 && status < 300) resolve({ status, responseSnippet });
          else reject(new WebhookDeliveryError(`receiver answered HTTP ${status}`, status));
        });
        res.on('error', (e) => reject(new WebhookDeliveryError(`reading the answer failed: ${e.message}`, res.statusCode, { cause: e })));
      },
    );
    req.on('error', (e) => {
      const timedOut = (e as Error).name === 'AbortError' || (e as Error).name === 'TimeoutError';
      reject(new WebhookDeliveryError(timedOut ? 'timed out' : `request failed: ${e.message}`, undefined, { cause: e }));
    });
    req.end(body);
  });
}
