import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { StorageError } from './errors';
import { MULTIPART_THRESHOLD, S3Storage } from './s3-storage';
import { startS3rver, type RunningS3rver } from './testing/s3rver';

describe('S3Storage against s3rver', () => {
  let s3: RunningS3rver;
  let storage: S3Storage;
  let tmp: string;

  beforeAll(async () => {
    s3 = await startS3rver(['b']);
    storage = new S3Storage(s3.config);
    tmp = mkdtempSync(path.join(tmpdir(), 's3spec-'));
  });
  afterAll(async () => {
    await storage.close();
    await s3.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('puts and deletes side by side under one prefix without a lost put (the s3rver double\'s directory race)', async () => {
    // Two lanes writing and deleting temporaries under one "directory", as parallel conversions do with
    // .vid2live-tmp/: unpatched s3rver removed the emptied directory under a put in flight (uncaught ENOENT,
    // 48 in 3000 puts measured here). Bounded: 2 × 400 tiny objects.
    const file = path.join(tmp, 'tiny.bin');
    writeFileSync(file, Buffer.alloc(100, 7));
    const failures: unknown[] = [];
    await Promise.all(
      [0, 1].map(async (lane) => {
        for (let i = 0; i < 400; i++) {
          const key = `race/.tmp/${lane}-${i}`;
          await storage.putObjectFromFile('b', key, file).catch((e) => failures.push(e));
          await storage.deleteObject('b', key);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect((await storage.listPage('b', 'race/')).objects).toEqual([]);
  });

  it('round-trips a 12 MB file through a multipart upload byte for byte', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    expect(data.length).toBeGreaterThan(MULTIPART_THRESHOLD);
    const file = path.join(tmp, 'big.bin');
    writeFileSync(file, data);
    const progress: number[] = [];
    await storage.putObjectFromFile('b', 'dir/big.bin', file, { onProgress: (n) => progress.push(n) });
    expect(progress.length).toBeGreaterThan(0);

    const head = await storage.headObject('b', 'dir/big.bin');
    expect(head?.size).toBe(data.length);

    const before = storage.stats.bytesRead;
    const chunks: Buffer[] = [];
    for await (const c of await storage.getObjectStream('b', 'dir/big.bin')) chunks.push(c as Buffer);
    const back = Buffer.concat(chunks);
    expect(sha256(back)).toBe(sha256(data));
    expect(storage.stats.bytesRead - before).toBe(data.length);
  });

  it('round-trips a small file through a single PUT', async () => {
    const file = path.join(tmp, 'small.bin');
    const data = randomBytes(100_000);
    writeFileSync(file, data);
    await storage.putObjectFromFile('b', 'small.bin', file);
    const r = await storage.getRange('b', 'small.bin', 0, data.length - 1);
    expect(sha256(r)).toBe(sha256(data));
  });

  it('reads only the requested byte range', async () => {
    const file = path.join(tmp, 'range.bin');
    const data = randomBytes(1 << 20);
    writeFileSync(file, data);
    await storage.putObjectFromFile('b', 'range.bin', file);
    const before = storage.stats.bytesRead;
    const part = await storage.getRange('b', 'range.bin', 1000, 1999);
    expect(part.equals(data.subarray(1000, 2000))).toBe(true);
    expect(storage.stats.bytesRead - before).toBe(1000);
  });

  it('serves a presigned URL that honours Range requests', async () => {
    const file = path.join(tmp, 'presign.bin');
    const data = randomBytes(50_000);
    writeFileSync(file, data);
    await storage.putObjectFromFile('b', 'p/presign.bin', file);
    const url = await storage.presignGet('b', 'p/presign.bin', 60);
    const res = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(10, 20))).toBe(true);
  });

  it('lists 2 500 keys page by page, each key exactly once', async () => {
    const file = path.join(tmp, 'one.txt');
    writeFileSync(file, 'x');
    const keys = Array.from({ length: 2500 }, (_, i) => `many/${String(i).padStart(5, '0')}.mp4`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => storage.putObjectFromFile('b', k, file)));
    }
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let token: string | undefined;
    do {
      const page = await storage.listPage('b', 'many/', token, 1000);
      pageSizes.push(page.objects.length);
      seen.push(...page.objects.map((o) => o.key));
      token = page.continuationToken;
    } while (token);
    expect(pageSizes).toEqual([1000, 1000, 500]);
    expect(seen).toEqual(keys);
  });

  it('maps a missing key to the final SOURCE_NOT_FOUND and a missing object head to null', async () => {
    expect(await storage.headObject('b', 'nope.mp4')).toBeNull();
    const err = await storage.getRange('b', 'nope.mp4', 0, 10).catch((e) => e);
    expect(err).toBeInstanceOf(LivePhotoError);
    expect(err.code).toBe('SOURCE_NOT_FOUND');
    expect(err.retryable).toBe(false);
    const err2 = await storage.getObjectStream('nobucket', 'x').catch((e) => e);
    expect(err2.code).toBe('SOURCE_NOT_FOUND');
  });

  it('maps an unreachable endpoint to a retryable StorageError', async () => {
    const dead = new S3Storage({ ...s3.config, S3_ENDPOINT: 'http://127.0.0.1:1' });
    const err = await dead.getRange('b', 'x', 0, 1).catch((e) => e);
    await dead.close();
    expect(err).toBeInstanceOf(StorageError);
    expect(err.code).toBe('STORAGE_UNAVAILABLE');
    expect(err.retryable).toBe(true);
  });

  it('closes the S3 socket when a download is aborted (destroying the stream destroys the body)', async () => {
    const file = path.join(tmp, 'abort.bin');
    writeFileSync(file, randomBytes(12 * 1024 * 1024));
    await storage.putObjectFromFile('b', 'abort.bin', file);
    // A TCP relay in front of s3rver: it sees when the client's socket closes.
    const target = new URL(s3.endpoint);
    let open = 0;
    const relay = net.createServer((client) => {
      open++;
      const upstream = net.connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      const done = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', () => {
        open--;
        done();
      });
      client.on('error', done);
      upstream.on('error', done);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayed = new S3Storage({ ...s3.config, S3_ENDPOINT: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}` });
    try {
      const stream = await relayed.getObjectStream('b', 'abort.bin');
      await new Promise((r) => stream.once('data', r)); // the download has started
      expect(open).toBe(1);
      stream.destroy();
      const until = Date.now() + 5_000;
      while (open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(open).toBe(0);
      expect(relayed.stats.bytesRead).toBeLessThan(12 * 1024 * 1024);
    } finally {
      await relayed.close();
      await new Promise((r) => relay.close(r));
    }
  });

  it('creates a bucket once and tolerates a second ensureBucket', async () => {
    await storage.ensureBucket('fresh');
    await storage.ensureBucket('fresh');
    const file = path.join(tmp, 'f.txt');
    writeFileSync(file, 'hello');
    await storage.putObjectFromFile('fresh', 'f.txt', file);
    expect((await storage.headObject('fresh', 'f.txt'))?.size).toBe(5);
    await storage.deleteObject('fresh', 'f.txt');
    expect(await storage.headObject('fresh', 'f.txt')).toBeNull();
  });
});
