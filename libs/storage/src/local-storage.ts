import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { LivePhotoError } from '@vid2live/errors';
import { mapStorageError } from './errors';
import { newStorageStats, type ListPage, type ObjectInfo, type ObjectStorage, type PutOptions, type StorageStats } from './object-storage';

/**
 * A folder per bucket under `root`; keys map to relative paths. For development and the embedded CLI; writes go to a
 * temporary file that is renamed into place so a reader never sees half an object.
 */
export class LocalStorage implements ObjectStorage {
  readonly stats: StorageStats = newStorageStats();

  constructor(readonly root: string) {}

  localPath(bucket: string, key: string): string {
    const base = path.resolve(this.root, safeSegment(bucket));
    const p = path.resolve(base, key);
    // A key like "../../etc/passwd" must not escape the bucket folder.
    if (p !== base && !p.startsWith(base + path.sep)) {
      throw new LivePhotoError('SOURCE_NOT_FOUND', `key escapes its bucket: ${key}`);
    }
    return p;
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo | null> {
    this.stats.requests++;
    try {
      const st = await fsp.stat(this.localPath(bucket, key));
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw mapStorageError(e, `head ${bucket}/${key}`);
    }
  }

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    if (!(await this.headObject(bucket, key))) {
      throw new LivePhotoError('SOURCE_NOT_FOUND', `${bucket}/${key}: not found`);
    }
    const s = createReadStream(this.localPath(bucket, key));
    s.on('data', (c) => (this.stats.bytesRead += (c as Buffer).length));
    return s;
  }

  async getRange(bucket: string, key: string, start: number, endInclusive: number): Promise<Buffer> {
    this.stats.requests++;
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.localPath(bucket, key), 'r');
      const { size } = await fh.stat();
      const end = Math.min(endInclusive, size - 1);
      const buf = Buffer.alloc(Math.max(0, end - start + 1));
      const { bytesRead } = await fh.read(buf, 0, buf.length, start);
      this.stats.bytesRead += bytesRead;
      return buf.subarray(0, bytesRead);
    } catch (e) {
      throw mapStorageError(e, `get ${bucket}/${key}`, { readingSource: true });
    } finally {
      await fh?.close();
    }
  }

  async putObjectFromFile(bucket: string, key: string, file: string, opts: PutOptions = {}): Promise<void> {
    this.stats.requests++;
    const dest = this.localPath(bucket, key);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.${Date.now()}.partial`;
    try {
      await fsp.copyFile(file, tmp);
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      await fsp.rename(tmp, dest);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    const { size } = await fsp.stat(dest);
    this.stats.bytesWritten += size;
    opts.onProgress?.(size, size);
  }

  async listPage(bucket: string, prefix: string, continuationToken?: string, pageSize = 1000): Promise<ListPage> {
    this.stats.requests++;
    const base = path.resolve(this.root, safeSegment(bucket));
    const keys: string[] = [];
    await walk(base, '', keys);
    // The continuation token is the last key of the previous page (S3 lists in the same lexicographic order).
    const all = keys.filter((k) => k.startsWith(prefix) && (!continuationToken || k > continuationToken)).sort();
    const page = all.slice(0, pageSize);
    const objects: ObjectInfo[] = [];
    for (const key of page) {
      const st = await fsp.stat(path.join(base, key));
      objects.push({ key, size: st.size, lastModified: st.mtime });
    }
    return { objects, continuationToken: all.length > pageSize ? page[page.length - 1] : undefined };
  }

  async presignGet(bucket: string, key: string): Promise<string> {
    return pathToFileURL(this.localPath(bucket, key)).href;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.stats.requests++;
    await fsp.rm(this.localPath(bucket, key), { force: true });
  }

  async copyObject(bucket: string, fromKey: string, toKey: string): Promise<void> {
    this.stats.requests++;
    const dest = this.localPath(bucket, toKey);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.${Date.now()}.partial`;
    try {
      await fsp.copyFile(this.localPath(bucket, fromKey), tmp);
      await fsp.rename(tmp, dest);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw mapStorageError(e, `copy ${bucket}/${fromKey} → ${toKey}`);
    }
  }

  async ensureBucket(bucket: string): Promise<void> {
    await fsp.mkdir(path.resolve(this.root, safeSegment(bucket)), { recursive: true });
  }

  async close(): Promise<void> {}
}

function safeSegment(bucket: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(bucket) || bucket === '.' || bucket === '..') {
    throw new LivePhotoError('SOURCE_NOT_FOUND', `invalid bucket name: ${bucket}`);
  }
  return bucket;
}

async function walk(base: string, rel: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(path.join(base, rel), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const ent of entries) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) await walk(base, r, out);
    else if (ent.isFile() && !ent.name.endsWith('.partial')) out.push(r);
  }
}
