import { mkdtempSync, rmSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { S3StorageConfig } from '../s3-storage';

/** s3rver ships no type declarations; this is the part we use. */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;

interface S3rverFilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}

/**
 * s3rver 3.7 stores an object as files in a directory per key prefix, and its DeleteObject removes the directories
 * it leaves empty. A PutObject into the same directory at the same moment (mkdirp done, file not yet opened) then
 * opens a file in a directory that no longer exists: an `ENOENT` on a write stream nobody listens to, which is an
 * uncaught exception in whatever process hosts s3rver (seen in CI: 20 parallel conversions writing and deleting
 * temporaries under one `.vid2live-tmp/` prefix). Real S3 and MinIO have no directories and no such race, so the
 * double is fixed rather than the product: DeleteObject removes the object's files and leaves directories alone
 * (listings walk files only, so an empty directory is invisible). Applied once, to every s3rver in this process.
 */
export function fixS3rverDeleteRace(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Store = require('s3rver/lib/stores/filesystem') as { prototype: S3rverFilesystemStore & { __vid2liveFixed?: boolean } };
  if (Store.prototype.__vid2liveFixed) return;
  Store.prototype.deleteObject = async function deleteObject(this: S3rverFilesystemStore, bucket: string, key: string) {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        unlink(this.getResourcePath(bucket, key, resource)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        }),
      ),
    );
  };
  Store.prototype.__vid2liveFixed = true;
}
fixS3rverDeleteRace();

export interface RunningS3rver {
  endpoint: string;
  /** ready for `new S3Storage(config)` or for `loadConfig` env */
  config: S3StorageConfig;
  env: Record<string, string>;
  directory: string;
  close(): Promise<void>;
}

/** A real S3-protocol server on 127.0.0.1 with a random port, for tests and benchmarks. */
export async function startS3rver(buckets: string[] = []): Promise<RunningS3rver> {
  const directory = mkdtempSync(path.join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const config: S3StorageConfig = {
    S3_ENDPOINT: endpoint,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: true,
  };
  return {
    endpoint,
    config,
    env: {
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    directory,
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
