import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import type { AppConfig } from '@vid2live/config';
import type { Readable } from 'node:stream';
import { S3Storage, storageFromConfig, type ObjectInfo } from '@vid2live/storage';
import { APP_CONFIG } from './tokens';

/**
 * What the API needs from object storage: presigned GETs for results, a reachability probe, and for the studio
 * presigned uploads and reads of the tenant's studio area.
 */
@Injectable()
export class StorageGateway implements OnApplicationShutdown {
  private readonly storage: S3Storage;
  /** signs URLs a browser uses (S3_PUBLIC_ENDPOINT when the services reach S3 under another name) */
  private readonly browser: S3Storage;
  private readonly expiresIn: number;
  /** the origin of browser-facing S3 URLs (for the studio page's Content-Security-Policy) */
  readonly browserOrigin?: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.expiresIn = config.PRESIGN_EXPIRES_SECONDS;
    this.storage = storageFromConfig(config);
    this.browser = config.S3_PUBLIC_ENDPOINT ? new S3Storage({ ...config, S3_ENDPOINT: config.S3_PUBLIC_ENDPOINT }) : this.storage;
    const endpoint = config.S3_PUBLIC_ENDPOINT ?? config.S3_ENDPOINT;
    this.browserOrigin = endpoint ? new URL(endpoint).origin : `https://*.amazonaws.com`;
  }

  presignBrowserPut(bucket: string, key: string, contentType: string): Promise<string> {
    return this.browser.presignPut(bucket, key, this.expiresIn, contentType);
  }

  head(bucket: string, key: string): Promise<ObjectInfo | null> {
    return this.storage.headObject(bucket, key);
  }

  delete(bucket: string, key: string): Promise<void> {
    return this.storage.deleteObject(bucket, key);
  }

  open(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ body: Readable; length: number; size: number; contentType?: string } | null> {
    return this.storage.openObject(bucket, key, range);
  }

  /** A small JSON object (≤ 4 MiB), or null when there is none. */
  async readJson(bucket: string, key: string): Promise<Record<string, unknown> | null> {
    const o = await this.storage.openObject(bucket, key);
    if (!o) return null;
    if (o.length > 4 * 1024 * 1024) {
      o.body.destroy();
      throw new Error(`s3://${bucket}/${key} is too large to be a studio JSON`);
    }
    const chunks: Buffer[] = [];
    for await (const c of o.body) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  }

  presignGet(bucket: string, key: string): Promise<string> {
    return this.storage.presignGet(bucket, key, this.expiresIn);
  }

  /**
   * Any HTTP answer proves S3 is reachable: a policy that denies ListBuckets (403) still means the endpoint
   * answers and signatures are checked, so only network failures and 5xx count as "down".
   */
  async ping(signal: AbortSignal): Promise<string> {
    try {
      const out = await this.storage.client.send(new ListBucketsCommand({}), { abortSignal: signal });
      return `${out.Buckets?.length ?? 0} bucket(s) visible`;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== undefined && status < 500) return `reachable (HTTP ${status} ${(e as Error).name})`;
      throw e;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close();
    if (this.browser !== this.storage) await this.browser.close();
  }
}
