import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { AppConfig } from '@vid2live/config';
import type { ConversionJobData } from '@vid2live/jobs';
import { StorageScopePolicy, assertOutputName, defaultOutputName } from '@vid2live/storage/scope';

/** How a conversion's outputs are named and identified, and the scope check of its keys before any read or write. */

/** A stable upper-case UUID per conversion: a retried job writes the same Content Identifier into its pair. */
export function contentIdentifierFor(conversionId: string): string {
  const h = createHash('sha1').update(`vid2live:${conversionId}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex').toUpperCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * `<prefix><name>` of the outputs, without extension: what the job says (a batch item, a prefix batch's sub-path),
 * else the source's base name by the api's own rule (`defaultOutputName`, libs/storage).
 */
export function outputBaseName(data: ConversionJobData): string {
  return data.outputBaseName || defaultOutputName(data.source);
}

/** A file name safe for the local temp dir (the object key keeps the real name). */
export function localName(base: string): string {
  return path.posix.basename(base).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '') || 'livephoto';
}

/**
 * The tenant's TENANT_STORAGE scope and the key rules, before any read or write: the source readable, the output
 * prefix writable, every output key valid and ≤ 1 024 bytes. A StorageScopeError is final (not retryable).
 */
export function assertStorageScope(config: AppConfig, data: ConversionJobData): void {
  const scopes = new StorageScopePolicy(config.TENANT_STORAGE ?? new Map());
  if ('key' in data.source) scopes.assertAccess(data.tenant, 'read', data.source, 'source.key');
  const pair = data.livePhotoPair;
  if (pair && 'movieKey' in pair && 'key' in data.source) {
    scopes.assertAccess(data.tenant, 'read', { bucket: data.source.bucket, key: pair.movieKey }, 'source.key');
  }
  scopes.assertAccess(data.tenant, 'write', { bucket: data.output.bucket, prefix: data.output.prefix }, 'output.prefix');
  assertOutputName(data.output.prefix, outputBaseName(data), 'key' in data.source ? 'source.key' : 'source.url');
}
