import * as fs from 'node:fs';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { IPHONE_MOV } from '../testing/fixtures';
import { extractMotionPhotoVideo, PIXEL_MOTION_PHOTO_SHORTENED, REAL_MEDIA_DIR, realMedia } from '../testing/real-media';
import { find, parseBoxes } from './boxes';
import { checkContainerIntegrity } from './integrity';
import { readTopLevelBoxes } from './top-level';
import { makeFaststartMp4, makeMoovLastMov, makeTempDir, makeUdtaMetaMov } from '@vid2live/media/test-media';
import { buildQuickTimeMeta } from './quicktime-meta';
import { buildStillImageTimeTrack } from './still-image-time-track';
import { boxHeader, containerBox, leafBox, serializeBox } from './writer';

function box(type: string, content: Buffer): Buffer {
  return Buffer.concat([boxHeader(type, content.length), content]);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(LivePhotoError);
  await expect(p).rejects.toMatchObject({ code });
}

describe('parseBoxes (in memory)', () => {
  it('reads 32-bit, 64-bit largesize and size-0 ("to the end") headers', () => {
    const large = Buffer.alloc(16 + 3);
    large.writeUInt32BE(1, 0);
    large.write('free', 4, 'latin1');
    large.writeBigUInt64BE(19n, 8);
    const toEnd = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from('mdat', 'latin1'), Buffer.from('abcde')]);
    const bytes = Buffer.concat([box('wide', Buffer.alloc(0)), large, toEnd]);
    const boxes = parseBoxes(bytes);
    expect(boxes.map((b) => [b.type, b.offset, b.size, b.headerSize])).toEqual([
      ['wide', 0, 8, 8],
      ['free', 8, 19, 16],
      ['mdat', 27, 13, 8],
    ]);
    expect(boxes[1].largeSize).toBe(true);
    expect(boxes[2].extendsToEnd).toBe(true);
    expect(boxes[2].data?.toString()).toBe('abcde');
  });

  it('tells QuickTime-style meta (no version/flags) from ISO FullBox meta', () => {
    const quickTime = serializeBox(buildQuickTimeMeta([{ key: 'k', value: 'v' }]));
    const [qt] = parseBoxes(quickTime);
    expect(qt.prefix?.length).toBe(0);
    expect(qt.children?.map((c) => c.type)).toEqual(['hdlr', 'keys', 'ilst']);

    const iso = box('meta', Buffer.concat([Buffer.alloc(4), quickTime.subarray(8)]));
    const [full] = parseBoxes(iso);
    expect(full.prefix).toEqual(Buffer.alloc(4));
    expect(full.children?.map((c) => c.type)).toEqual(['hdlr', 'keys', 'ilst']);
  });

  it('reports a top-level box that runs past the end as INPUT_TRUNCATED', () => {
    const bytes = box('mdat', Buffer.alloc(100)).subarray(0, 60);
    expect(() => parseBoxes(bytes)).toThrow(expect.objectContaining({ code: 'INPUT_TRUNCATED' }));
  });

  it('rejects a moov whose child overruns it as INVALID_CONTAINER', () => {
    const badTrak = Buffer.concat([boxHeader('trak', 50), Buffer.alloc(10)]); // claims 58 B, has 18
    const moov = box('moov', badTrak);
    expect(() => parseBoxes(moov)).toThrow(expect.objectContaining({ code: 'INVALID_CONTAINER' }));
  });

  it("keeps udta's trailing 32-bit zero as a trailer", () => {
    const udta = box('udta', Buffer.concat([serializeBox(leafBox('©swr', Buffer.from('x'))), Buffer.alloc(4)]));
    const [parsed] = parseBoxes(udta);
    expect(parsed.children?.map((c) => c.type)).toEqual(['©swr']);
    expect(parsed.trailer).toEqual(Buffer.alloc(4));
  });

  it('descends mebx sample entries down to keyd/dtyp, leaving other sample entries whole', () => {
    const trak = serializeBox(buildStillImageTimeTrack({ trackId: 2, videoTrackId: 1, stillTimeUnits: 60, timescale: 600, sampleOffset: 40 }));
    const stsd = find(parseBoxes(trak)[0], 'mdia', 'minf', 'stbl', 'stsd');
    const keyBox = find(stsd?.children?.[0], 'keys')?.children?.[0];
    expect(keyBox?.type).toBe('\0\0\0\x01');
    expect(keyBox?.children?.map((c) => c.type)).toEqual(['keyd', 'dtyp']);

    const avc1 = leafBox('avc1', Buffer.alloc(78));
    const [videoStsd] = parseBoxes(serializeBox(containerBox('stsd', [avc1], Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]))));
    expect(videoStsd.children?.[0]).toMatchObject({ type: 'avc1', data: Buffer.alloc(78) });
    expect(videoStsd.children?.[0].children).toBeUndefined();
  });
});

describe('readTopLevelBoxes / checkContainerIntegrity (files)', () => {
  const dir = makeTempDir('boxes');
  const moovLast = makeMoovLastMov(path.join(dir, 'moov-last.mov'));
  const faststart = makeFaststartMp4(path.join(dir, 'faststart.mp4'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists the genuine iPhone MOV as wide/mdat/moov without loading mdat', async () => {
    const { fileSize, boxes } = await readTopLevelBoxes(IPHONE_MOV);
    expect(fileSize).toBe(3_436_801);
    expect(boxes.map((b) => [b.type, b.offset, b.size])).toEqual([
      ['wide', 0, 8],
      ['mdat', 8, 3_430_579],
      ['moov', 3_430_587, 6_214],
    ]);
    expect(boxes[1].data).toBeUndefined();
    const moov = boxes[2];
    expect(moov.children?.filter((c) => c.type === 'trak')).toHaveLength(5);
    // Offsets inside moov are absolute file offsets.
    expect(moov.children?.[0]).toMatchObject({ type: 'mvhd', offset: 3_430_595 });
    // Track 5's mebx key table is parsed down to its local keys.
    const keys = find(moov.children?.[5], 'mdia', 'minf', 'stbl', 'stsd')?.children?.[0];
    expect(keys?.type).toBe('mebx');
    expect(find(keys, 'keys')?.children?.length).toBe(3);
  });

  it('summarises intact files', async () => {
    await expect(checkContainerIntegrity(moovLast)).resolves.toMatchObject({
      majorBrand: 'qt  ',
      moovFirst: false,
      topLevel: ['ftyp', 'wide', 'mdat', 'moov'],
    });
    await expect(checkContainerIntegrity(faststart)).resolves.toMatchObject({ majorBrand: 'isom', moovFirst: true });
    await expect(checkContainerIntegrity(IPHONE_MOV)).resolves.toMatchObject({ majorBrand: null, moovFirst: false });
  });

  it('reports INPUT_TRUNCATED for a moov-last file cut inside mdat and a faststart file cut inside mdat', async () => {
    for (const [source, keep] of [
      [moovLast, 0.5],
      [faststart, 0.9],
    ] as const) {
      const bytes = fs.readFileSync(source);
      const cut = path.join(dir, `cut-${path.basename(source)}`);
      fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * keep)));
      await expectCode(checkContainerIntegrity(cut), 'INPUT_TRUNCATED');
    }
  });

  it('reports INPUT_TRUNCATED when the file ends exactly before moov, and inside moov', async () => {
    const { boxes } = await readTopLevelBoxes(moovLast);
    const moov = boxes.find((b) => b.type === 'moov')!;
    const bytes = fs.readFileSync(moovLast);
    const noMoov = path.join(dir, 'no-moov.mov');
    fs.writeFileSync(noMoov, bytes.subarray(0, moov.offset));
    await expectCode(checkContainerIntegrity(noMoov), 'INPUT_TRUNCATED');
    const halfMoov = path.join(dir, 'half-moov.mov');
    fs.writeFileSync(halfMoov, bytes.subarray(0, moov.offset + 100));
    await expectCode(checkContainerIntegrity(halfMoov), 'INPUT_TRUNCATED');
  });

  it('reports INPUT_TRUNCATED when every box fits but the sample tables point past the end of the file', async () => {
    // faststart: ftyp, moov, mdat last. Cut inside mdat and rewrite its size (or make it size 0, "to the end"):
    // the box walk then sees a whole file, only the chunk offsets + sample sizes tell that frames are missing.
    const { boxes, fileSize } = await readTopLevelBoxes(faststart);
    const mdat = boxes.find((b) => b.type === 'mdat')!;
    expect(mdat.offset + mdat.size).toBe(fileSize);
    expect(mdat.headerSize).toBe(8);
    const bytes = fs.readFileSync(faststart);
    for (const [name, keep, sizeField] of [
      ['half-resized.mp4', Math.floor(fileSize * 0.6), 'exact'],
      ['last-byte-resized.mp4', fileSize - 1, 'exact'],
      ['half-size0.mp4', Math.floor(fileSize * 0.6), 'zero'],
    ] as const) {
      const cut = Buffer.from(bytes.subarray(0, keep));
      cut.writeUInt32BE(sizeField === 'zero' ? 0 : keep - mdat.offset, mdat.offset);
      const file = path.join(dir, name);
      fs.writeFileSync(file, cut);
      await expect(readTopLevelBoxes(file)).resolves.toBeDefined(); // the boxes themselves are fine
      await expectCode(checkContainerIntegrity(file), 'INPUT_TRUNCATED');
      await expect(checkContainerIntegrity(file)).rejects.toThrow(/track \d \(\w+\) has sample data up to byte \d+ .* B of media data are missing/);
    }
  });

  it('finds the cut-short video of a real Pixel Motion Photo (moov intact, mdat of 6 kB, chunks at 1.5 and 3 MB)', async () => {
    const video = extractMotionPhotoVideo(PIXEL_MOTION_PHOTO_SHORTENED, path.join(dir, 'pixel-embedded.mp4'));
    await expect(readTopLevelBoxes(video)).resolves.toMatchObject({ fileSize: 8730 });
    await expectCode(checkContainerIntegrity(video), 'INPUT_TRUNCATED');
    await expect(checkContainerIntegrity(video)).rejects.toMatchObject({
      details: expect.objectContaining({ fileSize: 8730, sampleDataEnd: expect.any(Number) }),
    });
  });

  it('passes the complete real phone and camera clips (their samples all lie inside the file)', async () => {
    const clips = fs.readdirSync(REAL_MEDIA_DIR).filter((f) => /\.(mp4|mov)$/i.test(f));
    expect(clips.length).toBeGreaterThanOrEqual(8);
    for (const clip of clips) await expect(checkContainerIntegrity(realMedia(clip))).resolves.toBeDefined();
  });

  it('reports INVALID_CONTAINER for bytes that are not boxes', async () => {
    const junk = path.join(dir, 'junk.mov');
    fs.writeFileSync(junk, Buffer.from('this is plainly not a QuickTime movie at all'));
    await expectCode(checkContainerIntegrity(junk), 'INVALID_CONTAINER');
  });

  it('parses the FullBox udta/meta ffmpeg writes with use_metadata_tags', async () => {
    const file = makeUdtaMetaMov(path.join(dir, 'udta.mov'), '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6');
    const { boxes } = await readTopLevelBoxes(file);
    const meta = find(boxes.find((b) => b.type === 'moov'), 'udta', 'meta');
    expect(meta?.prefix?.length).toBe(4);
    expect(meta?.children?.map((c) => c.type)).toEqual(['hdlr', 'keys', 'ilst']);
  });
});
