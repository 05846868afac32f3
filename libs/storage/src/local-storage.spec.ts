import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalStorage } from './local-storage';

describe('LocalStorage', () => {
  let root: string;
  let storage: LocalStorage;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'localstore-'));
    storage = new LocalStorage(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('puts, heads, ranges and lists page by page in key order', async () => {
    await storage.ensureBucket('b');
    const src = path.join(root, 'src.txt');
    writeFileSync(src, '0123456789');
    for (const k of ['p/c.mp4', 'p/a.mp4', 'p/sub/b.mp4', 'q/x.mp4']) await storage.putObjectFromFile('b', k, src);
    expect((await storage.headObject('b', 'p/a.mp4'))?.size).toBe(10);
    expect((await storage.getRange('b', 'p/a.mp4', 2, 4)).toString()).toBe('234');
    const p1 = await storage.listPage('b', 'p/', undefined, 2);
    expect(p1.objects.map((o) => o.key)).toEqual(['p/a.mp4', 'p/c.mp4']);
    const p2 = await storage.listPage('b', 'p/', p1.continuationToken, 2);
    expect(p2.objects.map((o) => o.key)).toEqual(['p/sub/b.mp4']);
    expect(p2.continuationToken).toBeUndefined();
  });

  it('refuses keys that escape the bucket and reports missing sources as SOURCE_NOT_FOUND', async () => {
    expect(() => storage.localPath('b', '../../etc/passwd')).toThrow(/escapes/);
    await expect(storage.getRange('b', 'missing.mp4', 0, 1)).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });
});
