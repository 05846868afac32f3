/**
 * The one scrubber for text that leaves a process (logs) or is stored (BullMQ `failedReason`/`stacktrace`,
 * records' `error`/`lastError`, webhook delivery records). It removes what acts as a credential inside text:
 *
 * - the query string of any URL (`https://s3…/k?X-Amz-Signature=…` → `https://s3…/k?[redacted]`): a presigned
 *   URL is a bearer credential, and query strings are where other services put tokens too;
 * - the user-info of any URL (`redis://:password@host` → `redis://***@host`);
 * - signing parameters that appear outside a whole URL (ffmpeg and SDKs sometimes quote only the query);
 * - any literal secret the caller names (the Redis password, API keys), wherever it appears.
 *
 * It is idempotent and cheap; apply it at the boundary (before logging, before throwing out of a processor).
 */
const URL_RE = /\b([a-z][a-z0-9+.-]{1,20}:\/\/)([^\s/?#@'"<>]*@)?([^\s?#'"<>]*)(\?[^\s#'"<>]*)?/gi;
const SIGNING_PARAM_RE =
  /\b(X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|x-amz-security-token|sig|token|access_token)=[^&\s'"<>]+/gi;
export const REDACTED = '[redacted]';

export function scrubSecrets(text: string, secrets: Iterable<string | undefined> = []): string {
  let out = String(text);
  // Literal secrets first: a password may itself look like part of a URL.
  for (const s of secrets) {
    // Very short values would redact ordinary words; configured secrets are long (keys ≥ 16 characters).
    if (s && s.length >= 4) out = out.split(s).join(REDACTED);
  }
  out = out.replace(URL_RE, (_m, scheme: string, userinfo: string | undefined, rest: string, query: string | undefined) => {
    return `${scheme}${userinfo ? '***@' : ''}${rest}${query ? `?${REDACTED}` : ''}`;
  });
  return out.replace(SIGNING_PARAM_RE, (_m, name: string) => `${name}=${REDACTED}`);
}

/** The password inside a connection URL (`redis://user:pass@host`), raw and decoded, for `scrubSecrets`. */
export function urlCredentials(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const password = new URL(url).password;
    if (!password) return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // a malformed %-escape: the raw form is all there is
    }
    return [...new Set([password, decoded])];
  } catch {
    return [];
  }
}

/**
 * An error as text fit for a log line: `name: message` scrubbed, never the object dump. ioredis attaches the
 * failed command to its errors (`command: { name: 'auth', args: [password] }`), which `console.error(err)` or
 * `util.inspect` would print.
 */
export function errorText(e: unknown, secrets: Iterable<string | undefined> = [], opts: { stack?: boolean } = {}): string {
  const err = e as { name?: unknown; message?: unknown; stack?: unknown };
  const text =
    e instanceof Error || (err && typeof err.message === 'string')
      ? opts.stack && typeof err.stack === 'string'
        ? err.stack
        : `${typeof err.name === 'string' ? err.name : 'Error'}: ${String(err.message)}`
      : String(e);
  return scrubSecrets(text, secrets);
}
