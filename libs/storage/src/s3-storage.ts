import { createReadStream, promises as fsp } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AppConfig } from '@vid2live/config';
import { isNotFound, mapStorageError } from './errors';
import { newStorageStats, type ListPage, type ObjectInfo, type ObjectStorage, type PutOptions, type StorageStats } from './object-storage';

/** Files at or above this size go up as a multipart upload (parts of PART_SIZE, a few in parallel). */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

export type S3StorageConfig = Pick<
  AppConfig,
  'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE'
>;

export function s3ClientConfig(cfg: S3StorageConfig): S3ClientConfig {
  return {
    region: cfg.S3_REGION,
    endpoint: cfg.S3_ENDPOINT,
    forcePathStyle: cfg.S3_FORCE_PATH_STYLE ?? cfg.S3_ENDPOINT !== undefined,
    credentials:
      cfg.S3_ACCESS_KEY_ID && cfg.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: cfg.S3_ACCESS_KEY_ID, secretAccessKey: cfg.S3_SECRET_ACCESS_KEY }
        : undefined,
    // Without these the SDK adds CRC trailers to streamed bodies, which s3rver (and some S3 clones) store as part
    // of the object: silently corrupted uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export class S3Storage implements ObjectStorage {
  readonly stats: StorageStats = newStorageStats();
  readonly client: S3Client;

  constructor(cfg: S3StorageConfig | S3Client) {
    this.client = cfg instanceof S3Client ? cfg : new S3Client(s3ClientConfig(cfg));
  }

  private async send<T>(what: string, fn: () => Promise<T>, readingSource = false): Promise<T> {
    this.stats.requests++;
    try {
      return await fn();
    } catch (e) {
      throw mapStorageError(e, what, { readingSource });
    }
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo | null> {
    this.stats.requests++;
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { key, size: r.ContentLength ?? 0, etag: r.ETag, lastModified: r.LastModified };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapStorageError(e, `head s3://${bucket}/${key}`);
    }
  }

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    const r = await this.send(
      `get s3://${bucket}/${key}`,
      () => this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      true,
    );
    const stats = this.stats;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        stats.bytesRead += chunk.length;
        cb(null, chunk);
      },
    });
    const body = r.Body as Readable;
    body.on('error', (e) => counter.destroy(mapStorageError(e, `read s3://${bucket}/${key}`, { readingSource: true })));
    // pipe() does not pass a destroy upstream: an aborted download must close the S3 socket too.
    counter.on('close', () => body.destroy());
    return body.pipe(counter);
  }

  async getRange(bucket: string, key: string, start: number, endInclusive: number, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const what = `get s3://${bucket}/${key} bytes=${start}-${endInclusive}`;
    const r = await this.send(
      what,
      () =>
        this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${endInclusive}` }), {
          abortSignal: opts.signal,
        }),
      true,
    );
    try {
      const bytes = Buffer.from(await r.Body!.transformToByteArray());
      this.stats.bytesRead += bytes.length;
      return bytes;
    } catch (e) {
      throw mapStorageError(e, what, { readingSource: true });
    }
  }

  async putObjectFromFile(bucket: string, key: string, file: string, opts: PutOptions = {}): Promise<void> {
    const what = `put s3://${bucket}/${key}`;
    const { size } = await fsp.stat(file);
    if (opts.signal?.aborted) throw abortError(opts.signal);
    if (size < MULTIPART_THRESHOLD) {
      // A single PUT with a known length: small outputs do not pay for three multipart round trips.
      try {
        await this.send(what, () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: createReadStream(file),
              ContentLength: size,
              ContentType: opts.contentType,
            }),
            { abortSignal: opts.signal },
          ),
        );
      } catch (e) {
        if (opts.signal?.aborted) throw abortError(opts.signal);
        throw e;
      }
      this.stats.bytesWritten += size;
      opts.onProgress?.(size, size);
      return;
    }
    const abortController = new AbortController();
    const onAbort = () => abortController.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: createReadStream(file), ContentType: opts.contentType },
      partSize: PART_SIZE,
      queueSize: 4,
      // On failure or abort the parts are deleted: no half-written object is ever visible under the key.
      leavePartsOnError: false,
      abortController,
    });
    upload.on('httpUploadProgress', (p) => opts.onProgress?.(p.loaded ?? 0, size));
    this.stats.requests++;
    try {
      await upload.done();
      this.stats.bytesWritten += size;
    } catch (e) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      throw mapStorageError(e, what);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Uses ListObjects (v1) with `Marker` = the last key of the previous page as the continuation token. V2's opaque
   * tokens would be nicer, but s3rver mints them with DES, which Node 20's OpenSSL 3 refuses (every truncated V2
   * listing fails there); a marker works the same on AWS, MinIO and s3rver.
   */
  async listPage(bucket: string, prefix: string, continuationToken?: string, pageSize = 1000): Promise<ListPage> {
    const r = await this.send(`list s3://${bucket}/${prefix}`, () =>
      this.client.send(
        new ListObjectsCommand({
          Bucket: bucket,
          Prefix: prefix,
          Marker: continuationToken,
          MaxKeys: pageSize,
        }),
      ),
    );
    const objects = (r.Contents ?? []).map((o) => ({
      key: o.Key!,
      size: o.Size ?? 0,
      etag: o.ETag,
      lastModified: o.LastModified,
    }));
    return {
      objects,
      continuationToken: r.IsTruncated && objects.length ? objects[objects.length - 1].key : undefined,
    };
  }

  /**
   * A URL a browser can PUT one object to until it expires (the studio's uploads): the request must carry exactly
   * `contentType` as its Content-Type (it is signed).
   */
  presignPut(bucket: string, key: string, expiresSec: number, contentType: string): Promise<string> {
    return getSignedUrl(this.client, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: contentType }), { expiresIn: expiresSec });
  }

  /**
   * An object's body (or bytes `start`–`end` of it) as a stream, with what an HTTP answer needs: null when the
   * object does not exist.
   */
  async openObject(
    bucket: string,
    key: string,
    range?: { start: number; end: number },
  ): Promise<{ body: Readable; length: number; size: number; contentType?: string } | null> {
    this.stats.requests++;
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      const length = r.ContentLength ?? 0;
      const total = /\/(\d+)$/.exec(r.ContentRange ?? '');
      return { body: r.Body as Readable, length, size: total ? Number(total[1]) : length, contentType: r.ContentType };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapStorageError(e, `get s3://${bucket}/${key}`);
    }
  }

  presignGet(bucket: string, key: string, expiresSec: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: expiresSec });
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.send(`delete s3://${bucket}/${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  }

  async copyObject(bucket: string, fromKey: string, toKey: string): Promise<void> {
    // x-amz-copy-source is URL-encoded; `/` separators stay as they are.
    const source = `${bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`;
    await this.send(`copy s3://${bucket}/${fromKey} → ${toKey}`, () =>
      this.client.send(new CopyObjectCommand({ Bucket: bucket, Key: toKey, CopySource: source, MetadataDirective: 'COPY' })),
    );
  }

  async ensureBucket(bucket: string): Promise<void> {
    try {
      this.stats.requests++;
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return;
    } catch (e) {
      if (!isNotFound(e)) throw mapStorageError(e, `head bucket ${bucket}`);
    }
    try {
      await this.send(`create bucket ${bucket}`, () => this.client.send(new CreateBucketCommand({ Bucket: bucket })));
    } catch (e) {
      // Another process created it in the meantime.
      const name = ((e as { cause?: { name?: string } }).cause?.name ?? '') as string;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('aborted'), { name: 'AbortError' });
}
