import * as fs from 'node:fs';
import * as path from 'node:path';
import { IPHONE_MOV } from '../testing/fixtures';
import { parseBoxes } from './boxes';
import { readTopLevelBoxes } from './top-level';
import { buildChunkOffsetBox, readChunkOffsets } from './sample-tables';
import { makeFaststartMp4, makeMoovLastMov, makeTempDir, makeUdtaMetaMov } from '@vid2live/media/test-media';
import { containerBox, encodedSize, leafBox, serializeBox } from './writer';

/** The raw `moov` bytes of a file, read independently of the box reader. */
async function rawMoov(file: string): Promise<{ bytes: Buffer; parsed: ReturnType<typeof parseBoxes>[number] }> {
  const { boxes } = await readTopLevelBoxes(file);
  const moov = boxes.find((b) => b.type === 'moov')!;
  const fd = fs.openSync(file, 'r');
  const bytes = Buffer.alloc(moov.size);
  fs.readSync(fd, bytes, 0, moov.size, moov.offset);
  fs.closeSync(fd);
  return { bytes, parsed: moov };
}

describe('box writer round trips', () => {
  const dir = makeTempDir('writer');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sources: Array<[string, () => string]> = [
    ['genuine iPhone IMG_3853.MOV', () => IPHONE_MOV],
    ['ffmpeg moov-last MOV', () => makeMoovLastMov(path.join(dir, 'a.mov'))],
    ['ffmpeg faststart MP4', () => makeFaststartMp4(path.join(dir, 'b.mp4'))],
    ['ffmpeg MOV with udta/meta keys', () => makeUdtaMetaMov(path.join(dir, 'c.mov'), '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6')],
  ];

  it.each(sources)('parses and re-serialises the moov of the %s byte for byte', async (_name, make) => {
    const { bytes, parsed } = await rawMoov(make());
    // The tree really was descended (otherwise the round trip would be trivially a memcpy).
    expect(parsed.children!.length).toBeGreaterThan(2);
    const out = serializeBox(parsed);
    expect(out.length).toBe(bytes.length);
    expect(out.equals(bytes)).toBe(true);
    // …and a re-parse of the written bytes gives the same structure.
    expect(serializeBox(parseBoxes(out)[0]).equals(bytes)).toBe(true);
  });

  it('keeps 64-bit headers and size 0 as found', () => {
    const large = Buffer.alloc(20);
    large.writeUInt32BE(1, 0);
    large.write('free', 4, 'latin1');
    large.writeBigUInt64BE(20n, 8);
    const toEnd = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from('mdat', 'latin1'), Buffer.from('xyz')]);
    const bytes = Buffer.concat([large, toEnd]);
    expect(Buffer.concat(parseBoxes(bytes).map(serializeBox)).equals(bytes)).toBe(true);
  });

  it('recomputes container sizes after an edit', () => {
    const [moov] = parseBoxes(serializeBox(containerBox('moov', [leafBox('free', Buffer.alloc(4))])));
    moov.children!.push(leafBox('skip', Buffer.alloc(10)));
    const out = serializeBox(moov);
    expect(out.readUInt32BE(0)).toBe(8 + 12 + 18);
    expect(encodedSize(moov)).toBe(out.length);
  });

  it('builds stco, or co64 when an offset does not fit 32 bits', () => {
    const small = buildChunkOffsetBox([8, 0xffffffff]);
    expect(small.type).toBe('stco');
    expect(readChunkOffsets(small)).toEqual([8, 0xffffffff]);
    const big = buildChunkOffsetBox([8, 2 ** 32 + 48]);
    expect(big.type).toBe('co64');
    expect(readChunkOffsets(big)).toEqual([8, 2 ** 32 + 48]);
  });
});
