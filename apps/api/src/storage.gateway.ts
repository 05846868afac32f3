import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import type { AppConfig } from '@vid2live/config';
import { storageFromConfig, type S3Storage } from '@vid2live/storage';
import { APP_CONFIG } from './tokens';

/** What the API needs from object storage: presigned GETs for results and a reachability probe. */
@Injectable()
export class StorageGateway implements OnApplicationShutdown {
  private readonly storage: S3Storage;
  private readonly expiresIn: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.expiresIn = config.PRESIGN_EXPIRES_SECONDS;
    this.storage = storageFromConfig(config);
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
  }
}
