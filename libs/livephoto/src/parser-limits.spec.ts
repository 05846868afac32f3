/**
 * Crafted inputs that used to block the event loop or exhaust memory (issue 9, item 3): each must now be
 * refused quickly with a typed code, within a memory bound, without reading what it does not need.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { buildAppleMakerNote, buildExifTiff, readJpegHeader, writeJpegExif } from './exif';
import { parseHeif, readHeicExif, readHeicExifFromFile, serializeHeif } from './heif';
import { inspectLivePhoto, inspectMotionPhoto } from './inspect';
import { MAX_BOX_DEPTH, parseBoxes } from './quicktime/boxes';
import { checkContainerIntegrity } from './quicktime/integrity';
import { readTopLevelBoxes } from './quicktime/top-level';
import { IPHONE_HEIC, IPHONE_MOV } from './testing/fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-limits-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

/**
 * `udta` nested `depth` deep, every level ending in a bogus header (size 0xFFFFFFF0) after its child and `pad`
 * bytes: the old parser re-parsed and copied each failing level (quadratic) and recursed until the stack gave out.
 */
function deepUdta(depth: number, pad = 0): Buffer {
  const level = 8 + 8 + pad;
  const out = Buffer.alloc(depth * level, 0x41);
  let at = 0;
  for (let k = 0; k < depth; k++, at += 8) {
    out.writeUInt32BE((depth - k) * level, at);
    out.write('udta', at + 4, 'latin1');
  }
  for (let k = 0; k < depth; k++, at += 8 + pad) {
    out.writeUInt32BE(0xfffffff0, at);
    out.write('junk', at + 4, 'latin1');
  }
  return out;
}

/** The genuine MOV (moov last) with `extra` appended inside its moov. */
function movWithMoovExtra(file: string, extra: Buffer): string {
  const mov = fs.readFileSync(IPHONE_MOV);
  const moovAt = mov.length - 6214;
  expect(mov.toString('latin1', moovAt + 4, moovAt + 8)).toBe('moov');
  fs.writeFileSync(file, Buffer.concat([mov.subarray(0, moovAt), box('moov', mov.subarray(moovAt + 8), extra)]));
  return file;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number; rssGrowth: number }> {
  const rss = process.memoryUsage().rss;
  const started = Date.now();
  const value = await run();
  return { value, ms: Date.now() - started, rssGrowth: process.memoryUsage().rss - rss };
}

const unreadable = (r: { errors: Array<{ code: string; errorCode?: string }> }) => r.errors.map((e) => [e.code, e.errorCode]);

describe('nesting depth and linear time (QuickTime boxes)', () => {
  const deepFile = () => movWithMoovExtra(path.join(tmp, 'deep.mov'), deepUdta(3000, 16));

  it('refuses a 3 000-deep udta chain as INVALID_CONTAINER, fast, in parseBoxes, the probe check and inspect', async () => {
    const file = deepFile();
    const started = Date.now();
    const bytes = fs.readFileSync(file);
    const moovAt = fs.statSync(IPHONE_MOV).size - 6214;
    expect(() => parseBoxes(bytes, moovAt, bytes.length, 0)).toThrow(expect.objectContaining({ code: 'INVALID_CONTAINER' }));
    await expect(checkContainerIntegrity(file)).rejects.toMatchObject({ code: 'INVALID_CONTAINER', message: expect.stringMatching(/deeper than/) });
    const report = await inspectLivePhoto(IPHONE_HEIC, file);
    expect(report.valid).toBe(false);
    expect(unreadable(report)).toEqual([['MOVIE_UNREADABLE', 'INVALID_CONTAINER']]);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('turns a failing chain within the depth limit into one leaf, in time linear in its size', () => {
    // 30 levels of 512 kB: the old walk copied every level (~250 MB) after parsing its children.
    const chain = deepUdta(MAX_BOX_DEPTH - 2, 512 * 1024);
    const started = Date.now();
    const [udta] = parseBoxes(chain);
    expect(Date.now() - started).toBeLessThan(500);
    expect(udta.type).toBe('udta');
    expect(udta.children).toBeUndefined();
    expect(udta.data?.length).toBe(chain.length - 8);
  });

  it('counts the enclosing ancestors towards the depth limit and keeps strict containers strict', () => {
    const nested = deepUdta(4);
    expect(() => parseBoxes(nested, 0, nested.length, 0, new Array(MAX_BOX_DEPTH - 2).fill('udta'))).toThrow(/deeper than/);
    // A strict container (trak) whose children do not tile still fails its moov, as before.
    const moov = box('moov', box('trak', box('tkhd', Buffer.alloc(4)), Buffer.from([0, 0, 0, 40, 0x6a, 0x75, 0x6e, 0x6b])));
    expect(() => parseBoxes(moov)).toThrow(expect.objectContaining({ code: 'INVALID_CONTAINER' }));
  });

  it('refuses more boxes than a movie header can plausibly hold', async () => {
    const tiny = Buffer.alloc(150_000 * 8, 0x66); // 150 000 empty 'ffff' boxes of 8 bytes
    for (let at = 0; at < tiny.length; at += 8) tiny.writeUInt32BE(8, at);
    const many = box('udta', tiny);
    expect(() => parseBoxes(many)).toThrow(/more than 100000 boxes/);
    const file = movWithMoovExtra(path.join(tmp, 'many.mov'), many);
    await expect(readTopLevelBoxes(file)).rejects.toMatchObject({ code: 'INVALID_CONTAINER' });
  });
});

describe('sample tables that claim billions of samples', () => {
  /** A trak whose stsz has one fixed size for 0xFFFFFFFF samples, all in one chunk: 0 table bytes, 4 G samples. */
  function hugeTrak(id: number): Buffer {
    const u32 = (...v: number[]) => Buffer.concat(v.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x >>> 0); return b; }));
    const full = (type: string, ...parts: Buffer[]) => box(type, Buffer.alloc(4), ...parts);
    const tkhd = full('tkhd', Buffer.alloc(8), u32(id), Buffer.alloc(68));
    const stbl = box(
      'stbl',
      full('stsc', u32(1, 1, 0xffffffff, 1)),
      full('stsz', u32(1, 0xffffffff)),
      full('stco', u32(1, 0)),
    );
    return box('trak', tkhd, box('mdia', box('minf', stbl)));
  }

  it('are summed by multiplication, not walked sample by sample (55 s → milliseconds), and still found truncated', async () => {
    const file = path.join(tmp, 'billions.mp4');
    fs.writeFileSync(file, Buffer.concat([box('ftyp', Buffer.from('isom\0\0\0\0isom', 'latin1')), box('moov', hugeTrak(1), hugeTrak(2), hugeTrak(3))]));
    const r = await timed(() => checkContainerIntegrity(file).then(() => 'ok', (e: LivePhotoError) => e.code));
    expect(r.value).toBe('INPUT_TRUNCATED');
    expect(r.ms).toBeLessThan(1000);
  });
});

describe('HEIF item locations', () => {
  /** The genuine HEIC whose Exif item lists 1 300 extents, each spanning the whole mdat (~3 MB × 1 300 ≈ 4 GB). */
  function manyExtents(): Buffer {
    const file = parseHeif(fs.readFileSync(IPHONE_HEIC));
    const exif = file.meta.itemInfo!.entries.find((e) => e.itemType === 'Exif')!;
    const mdat = file.topLevel.find((b) => b.type === 'mdat')!;
    const loc = file.meta.itemLocation!.items.find((i) => i.itemId === exif.itemId)!;
    const first = { index: 0, offset: loc.baseOffset + loc.extents[0].offset, length: loc.extents[0].length };
    loc.baseOffset = 0;
    loc.extents = [first, ...Array.from({ length: 1299 }, () => ({ index: 0, offset: mdat.start, length: mdat.size }))];
    return serializeHeif(file);
  }

  it('refuses a HEIC whose iloc extents reference the file 1 300 times, without reading them', async () => {
    const still = path.join(tmp, 'many-extents.heic');
    fs.writeFileSync(still, manyExtents());
    const { value: report, ms, rssGrowth } = await timed(() => inspectLivePhoto(still, IPHONE_MOV));
    expect(unreadable(report)).toEqual([['STILL_UNREADABLE', 'INVALID_CONTAINER']]);
    expect(report.errors[0].message).toMatch(/iloc extents reference more than/);
    expect(ms).toBeLessThan(1000);
    expect(rssGrowth).toBeLessThan(100 * 1024 * 1024);
    expect(() => readHeicExif(fs.readFileSync(still))).toThrow(expect.objectContaining({ code: 'INVALID_CONTAINER' }));
  });

  it('reads the genuine HEIC by offset exactly as from memory', async () => {
    const fromFile = await readHeicExifFromFile(IPHONE_HEIC);
    const fromMemory = readHeicExif(fs.readFileSync(IPHONE_HEIC));
    expect(fromFile).toEqual(fromMemory);
    expect(fromFile.tiff?.makerNote?.contentIdentifier).toBe('71DCA213-5710-4A6C-BC6D-CE6306AEB8D8');
  });
});

describe('files that are not regular, and huge stills', () => {
  it('refuses a FIFO, /dev/zero and a directory as the still quickly, with SOURCE_NOT_FOUND', async () => {
    const fifo = path.join(tmp, 'still.heic');
    execFileSync('mkfifo', [fifo]);
    for (const still of [fifo, '/dev/zero', tmp]) {
      const { value: report, ms } = await timed(() => inspectLivePhoto(still, IPHONE_MOV));
      expect(unreadable(report)).toEqual([['STILL_UNREADABLE', 'SOURCE_NOT_FOUND']]);
      expect(report.errors[0].message).toMatch(/not a regular file/);
      expect(ms).toBeLessThan(1000);
    }
    const mp = await inspectMotionPhoto(fifo);
    expect(unreadable(mp)).toEqual([['NOT_MOTION_PHOTO', 'SOURCE_NOT_FOUND']]);
    await expect(checkContainerIntegrity(fifo)).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    await expect(readTopLevelBoxes('/dev/zero')).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    const asMovie = await inspectLivePhoto(IPHONE_HEIC, fifo);
    expect(unreadable(asMovie)).toEqual([['MOVIE_UNREADABLE', 'SOURCE_NOT_FOUND']]);
  });

  it('refuses a huge sparse still by its size without reading it, and reads only headers when allowed', async () => {
    const jpegFile = path.join(tmp, 'huge.jpg');
    const live = writeJpegExif(
      Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9]),
      buildExifTiff({ makerNote: buildAppleMakerNote('71DCA213-5710-4A6C-BC6D-CE6306AEB8D8') }),
    );
    fs.writeFileSync(jpegFile, live);
    fs.truncateSync(jpegFile, 8 * 1024 ** 3); // sparse: reading it would take minutes and 8 GiB
    const refused = await timed(() => inspectLivePhoto(jpegFile, IPHONE_MOV));
    expect(unreadable(refused.value)).toEqual([['STILL_UNREADABLE', 'INVALID_CONTAINER']]);
    expect(refused.value.errors[0].message).toMatch(/a still may be at most/);
    expect(refused.ms).toBeLessThan(1000);

    // Allowed by a raised limit, it is still read by offset: header segments only.
    const allowed = await timed(() => inspectLivePhoto(jpegFile, IPHONE_MOV, { maxStillBytes: 16 * 1024 ** 3 }));
    expect(allowed.value.errors.map((e) => e.code)).not.toContain('STILL_UNREADABLE');
    expect(allowed.value.contentIdentifier).toBe('71DCA213-5710-4A6C-BC6D-CE6306AEB8D8');
    expect(allowed.ms).toBeLessThan(1000);
    expect(allowed.rssGrowth).toBeLessThan(100 * 1024 * 1024);

    const heicFile = path.join(tmp, 'huge.heic');
    fs.writeFileSync(heicFile, box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1')));
    fs.truncateSync(heicFile, 8 * 1024 ** 3);
    const heic = await timed(() => inspectLivePhoto(heicFile, IPHONE_MOV, { maxStillBytes: 16 * 1024 ** 3 }));
    expect(unreadable(heic.value)).toEqual([['STILL_UNREADABLE', 'INVALID_CONTAINER']]);
    expect(heic.ms).toBeLessThan(1000);
  });

  it('bounds a JPEG header: a run of fill bytes beyond the limit is INVALID_CONTAINER', async () => {
    const file = path.join(tmp, 'fill.jpg');
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(3 * 1024 * 1024, 0xff), Buffer.from([0xd9])]));
    const handle = await fs.promises.open(file, 'r');
    try {
      const size = (await handle.stat()).size;
      await expect(readJpegHeader(handle, size, 1024 * 1024)).rejects.toMatchObject({ code: 'INVALID_CONTAINER' });
      const started = Date.now();
      // Within the limit the run is walked once (linear), ending at EOI.
      expect((await readJpegHeader(handle, size)).length).toBe(size);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await handle.close();
    }
    expect(new LivePhotoError('INVALID_CONTAINER').retryable).toBe(false);
  });
});
