import { pairListedKeys, type PairItem } from './live-photo-pairs';

const pair = (still: string, movie: string): PairItem => ({ kind: 'pair', still, movie });
const incomplete = (key: string) => expect.objectContaining({ kind: 'incomplete', key });

describe('pairListedKeys (Live Photo pairs in a prefix listing)', () => {
  it('pairs a still and a movie of one name and folder, any extension case, and ignores other keys', () => {
    const listed = ['a/IMG_1.AAE', 'a/IMG_1.HEIC', 'a/IMG_1.MOV', 'a/IMG_2.JPG', 'a/IMG_2.mov', 'b/IMG_1.jpeg', 'b/IMG_1.mov', 'b/', 'b/notes.txt'];
    expect(pairListedKeys([], listed, false)).toEqual({
      items: [pair('a/IMG_1.HEIC', 'a/IMG_1.MOV'), pair('a/IMG_2.JPG', 'a/IMG_2.mov'), pair('b/IMG_1.jpeg', 'b/IMG_1.mov')],
      carry: [],
    });
  });

  it('reports lone halves and names with two stills, never guessing which belong together', () => {
    const { items } = pairListedKeys([], ['x/lone.HEIC', 'x/movie-only.MOV', 'x/two.HEIC', 'x/two.JPG', 'x/two.MOV'], false);
    expect(items).toEqual([incomplete('x/lone.HEIC'), incomplete('x/movie-only.MOV'), incomplete('x/two.HEIC'), incomplete('x/two.JPG'), incomplete('x/two.MOV')]);
    const reasons = Object.fromEntries(items.map((i) => [i.kind === 'incomplete' ? i.key : '', i.kind === 'incomplete' ? i.reason : '']));
    expect(reasons['x/lone.HEIC']).toMatch(/no lone\.MOV beside it/);
    expect(reasons['x/movie-only.MOV']).toMatch(/no still \(movie-only\.HEIC/);
    expect(reasons['x/two.MOV']).toMatch(/2 still\(s\) and 1 movie\(s\) are named two/);
  });

  it('does not pair names that differ by case (they are not listed next to each other)', () => {
    expect(pairListedKeys([], ['IMG_1.HEIC', 'img_1.MOV'], false).items).toEqual([incomplete('IMG_1.HEIC'), incomplete('img_1.MOV')]);
  });

  it('holds back the keys that may pair with the next page, and pairs them there', () => {
    // page 1 ends inside the IMG_1. run (IMG_1.HEIC.xmp is not an item and does not stop the run)
    const p1 = pairListedKeys([], ['IMG_0.HEIC', 'IMG_0.MOV', 'IMG_1.HEIC', 'IMG_1.HEIC.xmp'], true);
    expect(p1).toEqual({ items: [pair('IMG_0.HEIC', 'IMG_0.MOV')], carry: ['IMG_1.HEIC'] });
    const p2 = pairListedKeys(p1.carry, ['IMG_1.MOV', 'IMG_10.HEIC'], true);
    expect(p2).toEqual({ items: [pair('IMG_1.HEIC', 'IMG_1.MOV')], carry: ['IMG_10.HEIC'] });
    // the last page keeps nothing back: a lone carried still is reported
    expect(pairListedKeys(p2.carry, [], false)).toEqual({ items: [incomplete('IMG_10.HEIC')], carry: [] });
  });

  it('pairs every key exactly once over pages of one key each', () => {
    const keys = ['a/IMG_1.HEIC', 'a/IMG_1.MOV', 'a/IMG_1.x.MOV', 'a/IMG_2.JPG', 'a/IMG_2.MOV', 'a/z.MOV', 'b/IMG_1.HEIC', 'b/IMG_1.MOV'];
    let carry: string[] = [];
    const items: PairItem[] = [];
    keys.forEach((k, i) => {
      const page = pairListedKeys(carry, [k], i < keys.length - 1);
      items.push(...page.items);
      carry = page.carry;
    });
    expect(carry).toEqual([]);
    expect(items).toEqual([
      pair('a/IMG_1.HEIC', 'a/IMG_1.MOV'),
      incomplete('a/IMG_1.x.MOV'),
      pair('a/IMG_2.JPG', 'a/IMG_2.MOV'),
      incomplete('a/z.MOV'),
      pair('b/IMG_1.HEIC', 'b/IMG_1.MOV'),
    ]);
    expect(items).toEqual(pairsOfWhole(keys));
  });

  it('bounds what it carries: past the limit the run is grouped where it is', () => {
    const listed = Array.from({ length: 5 }, (_, i) => `burst.${i}.MOV`);
    expect(pairListedKeys([], listed, true, 4)).toEqual({ items: listed.map((k) => incomplete(k)), carry: [] });
    expect(pairListedKeys([], listed, true, 5).carry).toEqual(listed);
  });
});

function pairsOfWhole(keys: string[]): PairItem[] {
  return pairListedKeys([], keys, false).items;
}
