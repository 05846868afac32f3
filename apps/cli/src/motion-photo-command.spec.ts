import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertToLivePhoto } from '@vid2live/livephoto/convert';
import { inspectMotionPhoto } from '@vid2live/livephoto/inspect';
import { makeSource } from '@vid2live/media/test-media';
import { discoverPairs, runMotionPhoto } from './motion-photo-command';

/** `vid2live motion-photo` on a folder of pairs: pairing by folder and name, outputs kept apart, failures alone. */
let dir: string;
let input: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-motion-photo-'));
  input = path.join(dir, 'in');
  const source = makeSource('landscape-1080p-audio', path.join(dir, 'src'));
  // two pairs with one name in two folders (one with lower-case extensions), a lone still, a broken pair, an ambiguous name
  const a = await convertToLivePhoto({ source, outputDir: path.join(input, 'a'), baseName: 'IMG_1', options: { duration: 1, start: 0 } });
  const b = await convertToLivePhoto({ source, outputDir: path.join(dir, 'tmp-b'), baseName: 'IMG_1', options: { duration: 1, start: 2 } });
  fs.mkdirSync(path.join(input, 'b'));
  fs.renameSync(b.stillPath, path.join(input, 'b', 'IMG_1.jpg'));
  fs.renameSync(b.moviePath, path.join(input, 'b', 'IMG_1.mov'));
  fs.copyFileSync(a.stillPath, path.join(input, 'lone.JPG'));
  fs.copyFileSync(a.stillPath, path.join(input, 'broken.JPG'));
  fs.writeFileSync(path.join(input, 'broken.MOV'), 'not a movie\n');
  fs.copyFileSync(a.stillPath, path.join(input, 'twice.JPG'));
  fs.copyFileSync(a.stillPath, path.join(input, 'twice.jpeg'));
  fs.copyFileSync(a.moviePath, path.join(input, 'twice.MOV'));
}, 180_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('pairs by folder and name, case-insensitively; a lone or ambiguous file is listed, not guessed', async () => {
  const { pairs, unpaired } = await discoverPairs([input], path.join(dir, 'out'));
  expect(pairs.map((p) => [p.outputStem, path.basename(p.still), path.basename(p.movie)])).toEqual([
    [path.join('a', 'IMG_1'), 'IMG_1.JPG', 'IMG_1.MOV'],
    [path.join('b', 'IMG_1'), 'IMG_1.jpg', 'IMG_1.mov'],
    ['broken', 'broken.JPG', 'broken.MOV'],
  ]);
  expect(unpaired.map((f) => path.basename(f)).sort()).toEqual(['lone.JPG', 'twice.JPG', 'twice.MOV', 'twice.jpeg']);
});

it('writes one valid Motion Photo per pair (sub-folders kept); the broken pair fails alone with its code', async () => {
  const out = path.join(dir, 'out');
  const lines: string[] = [];
  const s = await runMotionPhoto([input], { output: out }, (l) => lines.push(l));
  expect([s.done, s.failed]).toEqual([2, 1]);
  for (const sub of ['a', 'b']) {
    const report = await inspectMotionPhoto(path.join(out, sub, 'IMG_1.MP.jpg'));
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
  }
  const broken = s.items.find((i) => i.status === 'failed')!;
  expect(path.basename(broken.movie)).toBe('broken.MOV');
  expect(broken.error!.code).toMatch(/^(INPUT_NOT_MEDIA|INVALID_CONTAINER)$/);
  expect(lines.join('\n')).toMatch(/✗ broken: /);
  expect(fs.existsSync(path.join(out, 'broken.MP.jpg'))).toBe(false);
}, 180_000);
