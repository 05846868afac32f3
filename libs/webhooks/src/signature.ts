import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is `${id}.${timestamp}.${body}`,
 * the key is the base64 part of `whsec_<base64>`, the header is `v1,<base64 HMAC-SHA256>`. Receivers can import
 * `verifyWebhook` as is.
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly code:
      | 'WEBHOOK_MISSING_HEADERS'
      | 'WEBHOOK_TIMESTAMP_INVALID'
      | 'WEBHOOK_TIMESTAMP_TOO_OLD'
      | 'WEBHOOK_TIMESTAMP_TOO_NEW'
      | 'WEBHOOK_SIGNATURE_INVALID',
    message: string,
  ) {
    super(message);
  }
}

function secretKey(secret: string): Buffer {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new Error('webhook secret must be whsec_<base64>');
  return key;
}

export function signWebhook(secret: string, id: string, timestamp: number | string, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const h = headers as Record<string, string | string[] | undefined>;
  const v = h[name] ?? h[name.toLowerCase()] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks `webhook-signature` (any of its space-separated `v1,…` entries may match, so secrets can rotate) and that
 * `webhook-timestamp` is within `toleranceSec` of now (replay protection). Returns the parsed body.
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  headers: WebhookHeaders,
  body: string | Buffer,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1000),
): T {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigs = header(headers, 'webhook-signature');
  if (!id || !ts || !sigs) throw new WebhookVerificationError('WEBHOOK_MISSING_HEADERS', 'missing webhook-* headers');
  if (!/^\d+$/.test(ts)) throw new WebhookVerificationError('WEBHOOK_TIMESTAMP_INVALID', 'invalid webhook-timestamp');
  const t = Number(ts);
  if (nowSec - t > toleranceSec) throw new WebhookVerificationError('WEBHOOK_TIMESTAMP_TOO_OLD', 'message too old');
  if (t - nowSec > toleranceSec) throw new WebhookVerificationError('WEBHOOK_TIMESTAMP_TOO_NEW', 'message timestamp in the future');
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const expected = Buffer.from(signWebhook(secret, id, ts, text).slice(3), 'base64');
  for (const entry of sigs.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const given = Buffer.from(sig, 'base64');
    // Constant-time compare; lengths are public (always 32 bytes for SHA-256).
    if (given.length === expected.length && timingSafeEqual(given, expected)) return JSON.parse(text) as T;
  }
  throw new WebhookVerificationError('WEBHOOK_SIGNATURE_INVALID', 'no matching signature');
}
