import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { encodeHeic, findHeifEnc } from '@vid2live/media/heif-enc';
import { LivePhotoError } from '@vid2live/errors';
import { buildAppleMakerNote } from '../exif/apple-maker-note';
import { buildExifTiff, ExifTag } from '../exif/tiff';
import { IPHONE_CONTENT_IDENTIFIER, IPHONE_HEIC } from '../testing/fixtures';
import { fullBox, readBoxes } from './boxes';
import { addExifToHeic, readHeicExif } from './heic-exif';
import { encodeMeta } from './encode';
import { propertiesOf, readItemData } from './items';
import { serializeHeif } from './layout';
import { parseHeif } from './parse';
import { writeHeicStill } from './write-heic-still';

const ID = '9D3B2F10-7A6C-4E5D-8B4A-1C2D3E4F5A6B';
let dir: string;
let pngPath: string;
let genuine: Buffer;

function run(bin: string, args: string[]): string {
  return execFileSync(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function liveTiff(id = ID): Buffer {
  return buildExifTiff({
    model: 'iPhone 15 Plus',
    dateTimeOriginal: '2025:01:01 11:06:47',
    offsetTimeOriginal: '+09:00',
    gps: { latitude: 48.8583701, longitude: 2.2944813 },
    makerNote: buildAppleMakerNote(id),
    imageWidth: 640,
    imageHeight: 480,
  });
}

/** PSNR (dB, average over planes) between two images of the same size, as ffmpeg computes it. */
function psnr(a: string, b: string): number {
  // ffmpeg prints the PSNR summary on stderr.
  const { stderr } = spawnSync('ffmpeg', ['-hide_banner', '-i', a, '-i', b, '-lavfi', 'psnr', '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /average:([\d.]+|inf)/.exec(stderr);
  if (!m) throw new Error(`no PSNR in ffmpeg output:\n${stderr}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}

/** Decode with libheif's own tool and compare with the source PNG: proves iloc still points at the image data. */
function decodesLike(heicPath: string, sourcePng: string): number {
  const decoded = `${heicPath}.png`;
  run('heif-convert', [heicPath, decoded]);
  return psnr(sourcePng, decoded);
}

/** Every item except Exif, byte for byte, keyed by id. */
function itemPayloads(heic: Buffer): Map<number, Buffer> {
  const file = parseHeif(heic);
  return new Map(
    file.meta.itemInfo!.entries.filter((e) => e.itemType !== 'Exif').map((e) => [e.itemId, readItemData(file, e.itemId)] as const),
  );
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-heif-'));
  pngPath = path.join(dir, 'still.png');
  run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1', pngPath]);
  genuine = fs.readFileSync(IPHONE_HEIC);
});

afterAll(async () => {
  await closeExifTool();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('readHeicExif', () => {
  it('reads the Exif item of the genuine IMG_3853.HEIC (iloc v1, grid primary)', () => {
    const read = readHeicExif(genuine);
    expect(read.brands.majorBrand).toBe('heic');
    expect(read.brands.compatibleBrands).toEqual(['mif1', 'MiHB', 'MiHE', 'MiPr', 'miaf', 'heic', 'tmap']);
    expect(read.exifItemCount).toBe(1);
    expect(read.cdscTargets).toContain(read.primaryItemId);
    expect(read.tiff?.byteOrder).toBe('MM');
    expect(read.tiff?.ifd0.get(ExifTag.Make)).toBe('Apple');
    expect(read.tiff?.ifd0.get(ExifTag.Model)).toBe('iPhone 15 Plus');
    expect(read.tiff?.exif.get(ExifTag.DateTimeOriginal)).toBe('2025:01:01 11:06:47');
    expect(read.tiff?.makerNote?.entries).toHaveLength(49);
    expect(read.tiff?.makerNote?.contentIdentifier).toBe(IPHONE_CONTENT_IDENTIFIER);
    expect(read.primaryPixiChannels).toBe(3);
  });

  it('reports no Exif for a plain heif-enc output', async () => {
    const plain = path.join(dir, 'plain.heic');
    await encodeHeic(pngPath, plain);
    const read = readHeicExif(fs.readFileSync(plain));
    expect(read).toMatchObject({ tiff: null, exifItemId: null, exifItemCount: 0, cdscTargets: [] });
    expect(read.brands.majorBrand).toBe('heic');
  });

  it('rejects input that is not HEIF', () => {
    expect(() => readHeicExif(Buffer.from('\xff\xd8\xff\xe0 not heif', 'latin1'))).toThrow(LivePhotoError);
  });
});

describe('addExifToHeic', () => {
  it('replaces the genuine Exif item and leaves every other item byte-identical (iloc v1, idat, grid tiles)', async () => {
    const out = addExifToHeic(genuine, liveTiff());
    const read = readHeicExif(out);
    expect(read.exifItemCount).toBe(1);
    expect(read.tiff?.makerNote?.contentIdentifier).toBe(ID);
    expect(read.cdscTargets).toEqual([read.primaryItemId]);
    // The genuine file has a gain map, so tmap stays.
    expect(read.brands.compatibleBrands).toEqual(['mif1', 'MiHB', 'MiHA', 'heix', 'MiHE', 'MiPr', 'heic', 'miaf', 'tmap']);

    const before = itemPayloads(genuine);
    const after = itemPayloads(out);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, data] of before) expect(after.get(id)!.equals(data)).toBe(true);

    const file = path.join(dir, 'genuine-relabelled.heic');
    fs.writeFileSync(file, out);
    const tags = await readAllTags(file);
    expect(tags['Apple:ContentIdentifier']).toBe(ID);
    expect(tags['IFD0:Make']).toBe('Apple');
    expect(tags.warnings).toEqual([]);
  });

  it('turns a heif-enc HEIC into one iOS accepts, and libheif still decodes the same pixels', async () => {
    const plainPath = path.join(dir, 'enc.heic');
    await encodeHeic(pngPath, plainPath);
    const plain = fs.readFileSync(plainPath);
    const plainRead = readHeicExif(plain);
    expect(plainRead.primaryColourTypes).toEqual([]); // libheif 1.15 writes no colr for PNG input

    const out = addExifToHeic(plain, liveTiff());
    const outPath = path.join(dir, 'live.heic');
    fs.writeFileSync(outPath, out);

    const read = readHeicExif(out);
    expect(read.tiff?.makerNote?.contentIdentifier).toBe(ID);
    expect(read.brands).toEqual({ majorBrand: 'heic', minorVersion: 0, compatibleBrands: ['mif1', 'MiHB', 'MiHA', 'heix', 'MiHE', 'MiPr', 'heic', 'miaf'] });
    expect(read.primaryPixiChannels).toBe(3);
    expect(read.primaryColourTypes).toEqual(['nclx']);
    // meta grew, so the image extent had to move: check it was rewritten, not left stale.
    const oldLoc = parseHeif(plain).meta.itemLocation!.items.find((i) => i.itemId === plainRead.primaryItemId)!;
    const newLoc = parseHeif(out).meta.itemLocation!.items.find((i) => i.itemId === read.primaryItemId)!;
    expect(newLoc.baseOffset + newLoc.extents[0].offset).toBeGreaterThan(oldLoc.baseOffset + oldLoc.extents[0].offset);
    expect(itemPayloads(out).get(read.primaryItemId!)!.equals(itemPayloads(plain).get(plainRead.primaryItemId!)!)).toBe(true);

    const tags = await readAllTags(outPath);
    expect(tags['Apple:ContentIdentifier']).toBe(ID);
    expect(tags['IFD0:Make']).toBe('Apple');
    expect(tags['QuickTime:MajorBrand']).toBe('heic');
    expect(tags['QuickTime:CompatibleBrands']).toEqual(expect.arrayContaining(['heic', 'MiHE', 'MiHB', 'MiPr']));
    expect(Math.abs(Number(tags['GPS:GPSLatitude']) - 48.8583701)).toBeLessThan(1e-6);
    expect(tags.warnings).toEqual([]);
    expect(tags.errors).toEqual([]);

    expect(decodesLike(outPath, pngPath)).toBeGreaterThan(30);
  });

  it('drops a tmap brand claim when the file has no gain-map item', async () => {
    const plainPath = path.join(dir, 'tmap-claim.heic');
    await encodeHeic(pngPath, plainPath);
    const file = parseHeif(fs.readFileSync(plainPath));
    file.fileType.compatibleBrands.push('tmap', 'avci');
    const claiming = serializeHeif(file);
    expect(readHeicExif(claiming).brands.compatibleBrands).toContain('tmap');
    const brands = readHeicExif(addExifToHeic(claiming, liveTiff())).brands.compatibleBrands;
    expect(brands).not.toContain('tmap');
    expect(brands).toContain('avci'); // other brands the encoder declared are kept
  });

  it.each(['one channel', 'absent'])('gives the primary a 3-channel pixi when it was %s (grey-image pitfall)', async (kind) => {
    const plainPath = path.join(dir, `pixi-${kind.replace(' ', '-')}.heic`);
    await encodeHeic(pngPath, plainPath);
    const file = parseHeif(fs.readFileSync(plainPath));
    const pixiIndex = file.meta.properties!.findIndex((p) => p.toString('latin1', 4, 8) === 'pixi');
    expect(pixiIndex).toBeGreaterThanOrEqual(0);
    if (kind === 'absent') {
      for (const e of file.meta.associations![0].entries) e.associations = e.associations.filter((a) => a.index !== pixiIndex + 1);
    } else {
      file.meta.properties![pixiIndex] = fullBox('pixi', 0, 0, Buffer.from([1, 8]));
    }
    const broken = serializeHeif(file);
    expect(readHeicExif(broken).primaryPixiChannels).toBe(kind === 'absent' ? null : 1);

    const out = addExifToHeic(broken, liveTiff());
    expect(readHeicExif(out).primaryPixiChannels).toBe(3);
    const props = propertiesOf(parseHeif(out).meta, 1).map((p) => p.type);
    expect(props.filter((t) => t === 'pixi')).toHaveLength(1);
    fs.writeFileSync(`${plainPath}.live.heic`, out);
    expect(decodesLike(`${plainPath}.live.heic`, pngPath)).toBeGreaterThan(30);
  });

  it('keeps a single Exif item when the encoder already copied one from a JPEG', async () => {
    const jpeg = path.join(dir, 'with-exif.jpg');
    run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', pngPath, '-q:v', '2', jpeg]);
    const { writeJpegExif } = await import('../exif/jpeg');
    fs.writeFileSync(jpeg, writeJpegExif(fs.readFileSync(jpeg), buildExifTiff({ make: 'samsung', makerNote: Buffer.from('x') })));
    const encoded = path.join(dir, 'from-jpeg.heic');
    await encodeHeic(jpeg, encoded);
    expect(readHeicExif(fs.readFileSync(encoded)).tiff?.ifd0.get(ExifTag.Make)).toBe('samsung'); // heif-enc carries it over

    const out = addExifToHeic(fs.readFileSync(encoded), liveTiff());
    const read = readHeicExif(out);
    expect(read.exifItemCount).toBe(1);
    expect(read.tiff?.ifd0.get(ExifTag.Make)).toBe('Apple');
    const outPath = path.join(dir, 'from-jpeg-live.heic');
    fs.writeFileSync(outPath, out);
    expect((await readAllTags(outPath))['IFD0:Make']).toBe('Apple');
  });

  it.each([
    { version: 0, offsetSize: 4, lengthSize: 4, baseOffsetSize: 0, indexSize: 0 },
    { version: 0, offsetSize: 8, lengthSize: 8, baseOffsetSize: 8, indexSize: 0 },
    { version: 1, offsetSize: 4, lengthSize: 4, baseOffsetSize: 4, indexSize: 0 },
    { version: 1, offsetSize: 4, lengthSize: 8, baseOffsetSize: 0, indexSize: 4 },
    { version: 2, offsetSize: 8, lengthSize: 4, baseOffsetSize: 0, indexSize: 8 },
  ])('rewrites offsets for iloc %o', async (layout) => {
    const plainPath = path.join(dir, `variant-${Object.values(layout).join('')}.heic`);
    await encodeHeic(pngPath, plainPath);
    // Re-lay the heif-enc file with this iloc variant first (our serializer), then add the Exif.
    const plain = fs.readFileSync(plainPath);
    const file = parseHeif(plain);
    Object.assign(file.meta.itemLocation!, layout);
    const variant = serializeHeif(file);
    const { items, ...reparsed } = parseHeif(variant).meta.itemLocation!;
    expect(reparsed).toEqual(layout);
    expect(items).toHaveLength(1);

    const out = addExifToHeic(variant, liveTiff());
    expect(readHeicExif(out).tiff?.makerNote?.contentIdentifier).toBe(ID);
    const image = itemPayloads(plain).get(1)!;
    expect(itemPayloads(variant).get(1)!.equals(image)).toBe(true);
    expect(itemPayloads(out).get(1)!.equals(image)).toBe(true);
    // libheif 1.15 ignores index_size in iloc v1 (it tests `version > 1`), so it cannot decode that variant.
    if (layout.version === 1 && layout.indexSize > 0) return;
    const outPath = `${plainPath}.live.heic`;
    fs.writeFileSync(outPath, out);
    expect(decodesLike(outPath, pngPath)).toBeGreaterThan(30);
  });

  it('moves data placed in an mdat before the meta box, and an mdat of size 0 (to end of file)', async () => {
    const plainPath = path.join(dir, 'reordered.heic');
    await encodeHeic(pngPath, plainPath);
    const plain = fs.readFileSync(plainPath);
    const [ftyp, meta, mdat] = readBoxes(plain, 0, plain.length);
    expect([ftyp.type, meta.type, mdat.type]).toEqual(['ftyp', 'meta', 'mdat']);
    // mdat with size 0 ("to end of file"): appending our mdat after it must give it a real size.
    const sizeZero = Buffer.concat([plain.subarray(0, mdat.start), Buffer.from([0, 0, 0, 0]), plain.subarray(mdat.start + 4)]);
    const outZero = addExifToHeic(sizeZero, liveTiff());
    const outBoxes = readBoxes(outZero, 0, outZero.length);
    expect(outBoxes.map((b) => [b.type, b.toEnd])).toEqual([['ftyp', false], ['meta', false], ['mdat', false], ['mdat', false]]);
    fs.writeFileSync(`${plainPath}.zero.heic`, outZero);
    expect(decodesLike(`${plainPath}.zero.heic`, pngPath)).toBeGreaterThan(30);
    expect(readHeicExif(outZero).tiff?.makerNote?.contentIdentifier).toBe(ID);

    // ftyp, mdat, meta: the image data sits before meta, so only the growth of ftyp may move it.
    const file = parseHeif(plain);
    const item = file.meta.itemLocation!.items[0];
    item.baseOffset = item.baseOffset - mdat.start + ftyp.size;
    const mdatFirst = Buffer.concat([plain.subarray(0, ftyp.end), plain.subarray(mdat.start, mdat.end), encodeMeta(file.meta)]);
    fs.writeFileSync(`${plainPath}.mdat-first-in.heic`, mdatFirst);
    expect(decodesLike(`${plainPath}.mdat-first-in.heic`, pngPath)).toBeGreaterThan(30); // the fixture itself is sound
    const out = addExifToHeic(mdatFirst, liveTiff());
    fs.writeFileSync(`${plainPath}.mdat-first.heic`, out);
    expect(decodesLike(`${plainPath}.mdat-first.heic`, pngPath)).toBeGreaterThan(30);
    expect(readHeicExif(out).tiff?.makerNote?.contentIdentifier).toBe(ID);
  });
});

describe('writeHeicStill', () => {
  it('encodes, tags and atomically writes a HEIC Live Photo still', async () => {
    const outputPath = path.join(dir, 'IMG_0001.HEIC');
    await writeHeicStill(pngPath, outputPath, liveTiff(), { quality: 80 });
    const tags = await readAllTags(outputPath);
    expect(tags['Apple:ContentIdentifier']).toBe(ID);
    expect(tags['IFD0:Make']).toBe('Apple');
    expect(tags['QuickTime:MajorBrand']).toBe('heic');
    expect(tags['QuickTime:CompatibleBrands']).toEqual(expect.arrayContaining(['heic', 'MiHE']));
    expect(readHeicExif(fs.readFileSync(outputPath)).tiff?.makerNote?.contentIdentifier).toBe(ID);
    expect(decodesLike(outputPath, pngPath)).toBeGreaterThan(30);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.IMG_0001'))).toEqual([]);
  });

  it('fails with HEIF_ENCODE_FAILED on an unreadable input and leaves no output', async () => {
    const bogus = path.join(dir, 'bogus.png');
    fs.writeFileSync(bogus, 'not a png');
    const outputPath = path.join(dir, 'bogus.heic');
    await expect(writeHeicStill(bogus, outputPath, liveTiff())).rejects.toMatchObject({ code: 'HEIF_ENCODE_FAILED' });
    expect(fs.existsSync(outputPath)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.bogus'))).toEqual([]);
  });

  it('fails with HEIF_ENCODER_NOT_FOUND when heif-enc is missing', async () => {
    const saved = process.env.HEIF_ENC_PATH;
    process.env.HEIF_ENC_PATH = path.join(dir, 'no-such-heif-enc');
    try {
      await expect(writeHeicStill(pngPath, path.join(dir, 'x.heic'), liveTiff())).rejects.toMatchObject({
        code: 'HEIF_ENCODER_NOT_FOUND',
        message: expect.stringContaining('HEIF_ENC_PATH'),
      });
    } finally {
      if (saved === undefined) delete process.env.HEIF_ENC_PATH;
      else process.env.HEIF_ENC_PATH = saved;
    }
  });

  it('says how to install heif-enc when it is not on PATH', () => {
    expect(() => findHeifEnc({ PATH: dir })).toThrow(expect.objectContaining({ code: 'HEIF_ENCODER_NOT_FOUND', message: expect.stringMatching(/libheif-examples/) }));
    expect(findHeifEnc({ PATH: process.env.PATH })).toMatch(/heif-enc$/);
  });

  it('is CANCELED by an AbortSignal while heif-enc runs', async () => {
    const big = path.join(dir, 'big.png');
    run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=3840x2160', '-frames:v', '1', big]);
    const controller = new AbortController();
    const outputPath = path.join(dir, 'canceled.heic');
    const pending = writeHeicStill(big, outputPath, liveTiff(), { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: 'CANCELED' });
    expect(fs.existsSync(outputPath)).toBe(false);
  });
});
