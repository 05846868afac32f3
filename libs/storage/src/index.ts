export * from './object-storage';
export * from './errors';
export * from './s3-storage';
export * from './local-storage';
import type { AppConfig } from '@vid2live/config';
import { S3Storage } from './s3-storage';

/** The storage the api and worker use: S3 (AWS, or MinIO/s3rver when S3_ENDPOINT is set). */
export function storageFromConfig(cfg: AppConfig): S3Storage {
  return new S3Storage(cfg);
}
