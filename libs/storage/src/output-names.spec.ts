import { batchItemOutputNames, outputTempKey, prefixItemOutputCandidates } from './output-names';
import { assertOutputName, defaultOutputName } from './scope';

const k = (key: string) => ({ bucket: 'b', key });

describe('batchItemOutputNames', () => {
  it('keeps plain names when nothing clashes (as a single conversion would name them)', () => {
    const items = [k('a/IMG_0001.mov'), k('b/IMG_0002.mov'), { url: 'https://cdn.example/x/clip.mp4?sig=1' }];
    expect(batchItemOutputNames(items)).toEqual(items.map((i) => defaultOutputName(i)));
  });

  it('gives clashing names the sub-path below the folder they share', () => {
    expect(batchItemOutputNames([k('a/IMG_0001.mov'), k('b/IMG_0001.mov'), k('c/IMG_0002.mov')])).toEqual([
      'a/IMG_0001',
      'b/IMG_0001',
      'IMG_0002',
    ]);
    expect(batchItemOutputNames([k('media/in/2024/x.mov'), k('media/in/2025/trip/x.mp4')])).toEqual(['2024/x', '2025/trip/x']);
    expect(batchItemOutputNames([k('x.mov'), k('sub/x.mov')])).toEqual(['x', 'sub/x']);
  });

  it('compares case-insensitively (a clash once the pair is on macOS or Windows)', () => {
    expect(batchItemOutputNames([k('a/IMG_0001.MOV'), k('b/img_0001.mov')])).toEqual(['a/IMG_0001', 'b/img_0001']);
  });

  it('numbers what still clashes: the same folder with two extensions, a key listed twice, URLs', () => {
    expect(batchItemOutputNames([k('d/x.mov'), k('d/x.mp4'), k('d/x.mov')])).toEqual(['x', 'x_2', 'x_3']);
    expect(batchItemOutputNames([{ url: 'https://a.example/v/clip.mp4' }, { url: 'https://b.example/v/clip.mp4' }])).toEqual(['clip', 'clip_2']);
    // a suffix never takes a name another item has
    expect(batchItemOutputNames([k('d/x.mov'), k('d/x.mp4'), k('d/x_2.mov')])).toEqual(['x', 'x_3', 'x_2']);
  });

  it('is deterministic and gives every item distinct keys (1 000 items, many clashes)', () => {
    const items = Array.from({ length: 1000 }, (_, i) => k(`${i % 7}/${i % 3 ? 'IMG' : 'img'}_${i % 5}.${i % 2 ? 'mov' : 'mp4'}`));
    const names = batchItemOutputNames(items);
    expect(batchItemOutputNames(items)).toEqual(names);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(1000);
  });
});

describe('prefixItemOutputCandidates', () => {
  it('prefers the plain name, then the name with its extension; folded for case-insensitive claims', () => {
    expect(prefixItemOutputCandidates('2024/IMG.MOV')).toEqual([
      { name: '2024/IMG', folded: '2024/img' },
      { name: '2024/IMG.MOV', folded: '2024/img.mov' },
    ]);
    // Only the last segment's extension counts; a key without one has a single candidate.
    expect(prefixItemOutputCandidates('a.b/clip')).toEqual([{ name: 'a.b/clip', folded: 'a.b/clip' }]);
  });

  it('gives x.mov and x.mp4 the same first and distinct second candidates (what the claim falls back on)', () => {
    const [mov, mp4] = [prefixItemOutputCandidates('x.mov'), prefixItemOutputCandidates('x.mp4')];
    expect(mov[0].folded).toBe(mp4[0].folded);
    expect(mov[1].folded).not.toBe(mp4[1].folded);
  });
});

describe('outputTempKey', () => {
  it('is under the output prefix, fixed-length, and fits whenever the output keys were accepted', () => {
    expect(outputTempKey('live/', 'cnv_abc', '.MOV')).toBe('live/.vid2live-tmp/cnv_abc.MOV');
    const prefix = `${'p'.repeat(960)}/`;
    expect(() => assertOutputName(prefix, 'n', 'source.key')).not.toThrow();
    expect(() => assertOutputName(`${'p'.repeat(1000)}/`, 'n', 'source.key')).toThrow(/1024 bytes/);
  });
});

describe('Motion Photo names', () => {
  it('a NAME.MP.jpg|heic key is named NAME, like the CLI names its pair; other names keep their dots', () => {
    expect(defaultOutputName({ key: 'android/PXL_20240101_120000.MP.jpg' })).toBe('PXL_20240101_120000');
    expect(defaultOutputName({ key: 'android/IMG_1.MP.HEIC' })).toBe('IMG_1');
    expect(defaultOutputName({ key: 'x/clip.MP.mp4' })).toBe('clip.MP');
    expect(defaultOutputName({ key: 'x/.MP.jpg' })).toBe('.MP');
    expect(prefixItemOutputCandidates('2024/PXL_1.MP.jpg').map((c) => c.name)).toEqual(['2024/PXL_1', '2024/PXL_1.MP.jpg']);
    expect(prefixItemOutputCandidates('PXL_1.MP.jpg').map((c) => c.name)).toEqual(['PXL_1', 'PXL_1.MP.jpg']);
    expect(prefixItemOutputCandidates('a/b.mov').map((c) => c.name)).toEqual(['a/b', 'a/b.mov']);
  });
});
