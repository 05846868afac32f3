import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** present when there is another page; pass it back to `listPage` */
  continuationToken?: string;
}

export interface PutOptions {
  contentType?: string;
  signal?: AbortSignal;
  onProgress?: (uploadedBytes: number, totalBytes: number) => void;
}

/** Counters a benchmark or a metrics endpoint can read. */
export interface StorageStats {
  /** bytes read from object bodies (streams and ranged gets) by this process */
  bytesRead: number;
  bytesWritten: number;
  requests: number;
}

/**
 * One interface, two adapters (S3 and a local folder per bucket). Reads of a missing object throw
 * `LivePhotoError('SOURCE_NOT_FOUND')` (final); transient faults throw `StorageError` with `retryable: true`.
 */
export interface ObjectStorage {
  readonly stats: StorageStats;
  /** null when the object does not exist */
  headObject(bucket: string, key: string): Promise<ObjectInfo | null>;
  getObjectStream(bucket: string, key: string): Promise<Readable>;
  /** bytes [start, endInclusive]; `signal` aborts the request (the source reader's timeouts and cancel) */
  getRange(bucket: string, key: string, start: number, endInclusive: number, opts?: { signal?: AbortSignal }): Promise<Buffer>;
  /** Atomic from a reader's point of view: the key shows the new object only once it is complete. */
  putObjectFromFile(bucket: string, key: string, file: string, opts?: PutOptions): Promise<void>;
  /** One page of keys under `prefix`, in key order. */
  listPage(bucket: string, prefix: string, continuationToken?: string, pageSize?: number): Promise<ListPage>;
  /** A URL any HTTP client (ffmpeg included) can GET, with range requests, until it expires. */
  presignGet(bucket: string, key: string, expiresSec: number): Promise<string>;
  deleteObject(bucket: string, key: string): Promise<void>;
  /**
   * Server-side copy within a bucket (content type kept): how the worker publishes outputs uploaded under
   * temporary keys. Objects up to 5 GiB (S3's single-copy limit; outputs are a few MB).
   */
  copyObject(bucket: string, fromKey: string, toKey: string): Promise<void>;
  ensureBucket(bucket: string): Promise<void>;
  /** Filesystem path of an object, for adapters that have one (lets ffmpeg read it directly). */
  localPath?(bucket: string, key: string): string;
  close(): Promise<void>;
}

export function newStorageStats(): StorageStats {
  return { bytesRead: 0, bytesWritten: 0, requests: 0 };
}
