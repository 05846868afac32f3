import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '../../../media/src/exiftool';
import { LivePhotoError } from '../errors';
import { IPHONE_MOV } from '../testing/fixtures';
import { readTopLevelBoxes } from './boxes';
import { appleCreationDate, injectLivePhotoMetadata } from './inject';
import { readLivePhotoMov } from './read-live-photo-mov';
import { decodeErrors, frameHashes, makeFaststartMp4, makeLargeRawMov, makeMoovLastMov, makeTempDir, makeUdtaMetaMov } from './test-videos';

const ID_A = '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6';
const ID_B = 'CEEE58DF-95FE-4D41-8B9A-F0AF1103A2DC';

/** The ExifTool group of the track whose timed metadata carries StillImageTime, e.g. `Track3`. */
function stillImageTimeTracks(tags: Record<string, unknown>): string[] {
  return Object.keys(tags)
    .filter((k) => /^Track\d+:StillImageTime$/.test(k))
    .map((k) => k.split(':')[0]);
}

function contentIdentifierTags(tags: Record<string, unknown>): unknown[] {
  return Object.entries(tags)
    .filter(([k]) => /:ContentIdentifier$/.test(k))
    .map(([, v]) => v);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LivePhotoError);
  expect((err as LivePhotoError).code).toBe(code);
}

describe('injectLivePhotoMetadata', () => {
  const dir = makeTempDir('inject');
  const moovLast = makeMoovLastMov(path.join(dir, 'moov-last.mov'));
  const faststart = makeFaststartMp4(path.join(dir, 'faststart.mp4'));
  afterAll(async () => {
    await closeExifTool();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe.each([
    ['ffmpeg moov-last MOV', moovLast],
    ['ffmpeg faststart isom MP4 (moov first)', faststart],
  ])('into an %s', (_name, source) => {
    const out = path.join(dir, `${path.basename(source)}.live.mov`);
    let result: Awaited<ReturnType<typeof injectLivePhotoMetadata>>;

    beforeAll(async () => {
      result = await injectLivePhotoMetadata(source, out, {
        contentIdentifier: ID_A,
        stillTime: 1.2,
        creationDate: '2025-01-01T11:06:46+09:00',
        make: 'Apple',
        model: 'iPhone 15 Plus',
        liveAuto: true,
      });
    });

    it('returns the still time in movie units and the track ids', () => {
      expect(result).toEqual({ stillTimeUnits: 1200, timescale: 1000, trackId: 3, videoTrackId: 1 });
      expect(fs.existsSync(`${out}.tmp`)).toBe(false);
    });

    it('writes ftyp qt, the media, the marker mdat and moov last', async () => {
      const { boxes } = await readTopLevelBoxes(out);
      expect(boxes[0].type).toBe('ftyp');
      expect(boxes[0].data).toEqual(Buffer.from('qt  \0\0\0\0qt  ', 'latin1'));
      expect(boxes[boxes.length - 1].type).toBe('moov');
      expect(boxes[boxes.length - 2]).toMatchObject({ type: 'mdat', size: 17 });
    });

    it('reads back as a Live Photo video with our own reader', async () => {
      const info = await readLivePhotoMov(out);
      expect(info.ftypMajorBrand).toBe('qt  ');
      expect(info.metaLocation).toBe('moov');
      expect(info.metaIsFullBox).toBe(false);
      expect(info.contentIdentifier).toBe(ID_A);
      expect(info.keys).toEqual({
        'com.apple.quicktime.content.identifier': ID_A,
        'com.apple.quicktime.creationdate': '2025-01-01T11:06:46+0900',
        'com.apple.quicktime.make': 'Apple',
        'com.apple.quicktime.model': 'iPhone 15 Plus',
        'com.apple.quicktime.live-photo.auto': 1,
      });
      expect(info.stillImageTrack).toEqual({
        trackId: 3,
        value: -1,
        stillTime: 1.2,
        keyDataType: 65,
        hasCdsc: true,
        cdscTrackId: 1,
        handler: 'meta',
      });
      expect(info.tracks.map((t) => t.tkhdFlags)).toEqual([0xf, 0xf, 0xf]);
      expect(info.movieDuration).toBeCloseTo(2, 1);
    });

    it('reads back with ExifTool like a genuine iPhone MOV', async () => {
      const tags = await readAllTags(out);
      expect(tags['Keys:ContentIdentifier']).toBe(ID_A);
      const [track, ...others] = stillImageTimeTracks(tags);
      expect(others).toEqual([]);
      expect(tags[`${track}:StillImageTime`]).toBe(-1);
      expect(Number(tags[`${track}:TrackDuration`])).toBeCloseTo(1.2, 2);
      expect(tags[`${track}:MetaFormat`]).toBe('mebx');
    });

    it('still decodes to exactly the same video and audio frames (chunk offsets patched)', () => {
      expect(decodeErrors(out)).toBe('');
      const video = frameHashes(source, 'v');
      expect(video.length).toBeGreaterThan(50);
      expect(frameHashes(out, 'v')).toEqual(video);
      expect(frameHashes(out, 'a')).toEqual(frameHashes(source, 'a'));
    });

    it('re-injecting replaces the marker track and the identifier instead of adding more', async () => {
      const again = path.join(dir, `${path.basename(source)}.again.mov`);
      const second = await injectLivePhotoMetadata(out, again, { contentIdentifier: ID_B, stillTime: 0.5 });
      expect(second).toMatchObject({ trackId: 3, stillTimeUnits: 500 });
      // The previous marker mdat is dropped and one new one added: same size as the first output.
      expect(fs.statSync(again).size).toBe(fs.statSync(out).size - (await metaSizeDelta(out, again)));
      const info = await readLivePhotoMov(again);
      expect(info.tracks.filter((t) => t.codec === 'mebx')).toHaveLength(1);
      expect(info.stillImageTrack).toMatchObject({ value: -1, stillTime: 0.5 });
      expect(info.keys).toEqual({ 'com.apple.quicktime.content.identifier': ID_B });
      const tags = await readAllTags(again);
      expect(contentIdentifierTags(tags)).toEqual([ID_B]);
      expect(stillImageTimeTracks(tags)).toHaveLength(1);
      expect(frameHashes(again, 'v')).toEqual(frameHashes(source, 'v'));
    });
  });

  /** Bytes by which the moov of `b` is smaller than that of `a` (only the metadata differs). */
  async function metaSizeDelta(a: string, b: string): Promise<number> {
    const moovSize = async (f: string) => (await readTopLevelBoxes(f)).boxes.find((x) => x.type === 'moov')!.size;
    return (await moovSize(a)) - (await moovSize(b));
  }

  it('replaces the still-image-time track of a genuine iPhone MOV and keeps its other tracks', async () => {
    const out = path.join(dir, 'iphone.live.mov');
    const result = await injectLivePhotoMetadata(IPHONE_MOV, out, { contentIdentifier: ID_A, stillTime: 1.0 });
    expect(result).toEqual({ stillTimeUnits: 600, timescale: 600, trackId: 5, videoTrackId: 1 });
    const info = await readLivePhotoMov(out);
    expect(info.ftypMajorBrand).toBe('qt  ');
    expect(info.tracks.map((t) => [t.trackId, t.codec])).toEqual([
      [1, 'hvc1'],
      [2, 'lpcm'],
      [3, 'mebx'],
      [4, 'mebx'],
      [5, 'mebx'],
    ]);
    expect(info.stillImageTrack).toMatchObject({ trackId: 5, value: -1, stillTime: 1, cdscTrackId: 1 });
    expect(info.contentIdentifier).toBe(ID_A);
    expect(decodeErrors(out)).toBe('');
    expect(frameHashes(out, 'v')).toEqual(frameHashes(IPHONE_MOV, 'v'));
  });

  it("removes the identifier from ffmpeg's udta/meta but keeps its other keys", async () => {
    const source = makeUdtaMetaMov(path.join(dir, 'udta.mov'), ID_B);
    const out = path.join(dir, 'udta.live.mov');
    await injectLivePhotoMetadata(source, out, { contentIdentifier: ID_A, stillTime: 0.5 });
    const info = await readLivePhotoMov(out);
    expect(info.metaLocation).toBe('moov');
    expect(info.contentIdentifier).toBe(ID_A);
    expect(info.udtaKeys['com.apple.quicktime.content.identifier']).toBeUndefined();
    expect(info.udtaKeys['com.example.keep-me']).toBe('yes');
    const tags = await readAllTags(out);
    expect(contentIdentifierTags(tags)).toEqual([ID_A]);
  });

  it('handles a size-0 (to end of file) mdat and a 64-bit largesize mdat', async () => {
    // Faststart file: mdat is the last box, so its size field may say 0.
    const toEnd = path.join(dir, 'size0.mp4');
    const bytes = fs.readFileSync(faststart);
    const mdat = (await readTopLevelBoxes(faststart)).boxes.find((b) => b.type === 'mdat')!;
    bytes.writeUInt32BE(0, mdat.offset);
    fs.writeFileSync(toEnd, bytes);
    // Moov-last file: `wide` + 32-bit mdat header become one 16-byte largesize header (payload unmoved).
    const large = path.join(dir, 'largesize.mov');
    const mov = fs.readFileSync(moovLast);
    const layout = (await readTopLevelBoxes(moovLast)).boxes;
    const wide = layout.find((b) => b.type === 'wide')!;
    const movMdat = layout.find((b) => b.type === 'mdat')!;
    expect(movMdat.offset).toBe(wide.offset + 8);
    mov.writeUInt32BE(1, wide.offset);
    mov.write('mdat', wide.offset + 4, 'latin1');
    mov.writeBigUInt64BE(BigInt(movMdat.size + 8), wide.offset + 8);
    fs.writeFileSync(large, mov);
    expect((await readTopLevelBoxes(large)).boxes.find((b) => b.type === 'mdat')).toMatchObject({ largeSize: true });

    for (const [source, original] of [
      [toEnd, faststart],
      [large, moovLast],
    ]) {
      const out = `${source}.live.mov`;
      await injectLivePhotoMetadata(source, out, { contentIdentifier: ID_A, stillTime: 1 });
      expect(decodeErrors(out)).toBe('');
      expect(frameHashes(out, 'v')).toEqual(frameHashes(original, 'v'));
      expect((await readLivePhotoMov(out)).stillImageTrack).toMatchObject({ value: -1, stillTime: 1 });
    }
  });

  it('can write over its own input (via the .tmp file and rename)', async () => {
    const file = path.join(dir, 'in-place.mov');
    fs.copyFileSync(moovLast, file);
    await injectLivePhotoMetadata(file, file, { contentIdentifier: ID_A, stillTime: 1 });
    expect((await readLivePhotoMov(file)).contentIdentifier).toBe(ID_A);
    expect(frameHashes(file, 'v')).toEqual(frameHashes(moovLast, 'v'));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects a truncated source with INPUT_TRUNCATED and leaves no output behind', async () => {
    const cut = path.join(dir, 'cut.mov');
    const bytes = fs.readFileSync(moovLast);
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 500)); // loses the end of moov
    const out = path.join(dir, 'cut.live.mov');
    await expectCode(injectLivePhotoMetadata(cut, out, { contentIdentifier: ID_A, stillTime: 1 }), 'INPUT_TRUNCATED');
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.tmp`)).toBe(false);
  });

  it('rejects bad options with INVALID_OPTIONS', async () => {
    const out = path.join(dir, 'bad.mov');
    await expectCode(injectLivePhotoMetadata(moovLast, out, { contentIdentifier: ID_A.toLowerCase(), stillTime: 1 }), 'INVALID_OPTIONS');
    await expectCode(injectLivePhotoMetadata(moovLast, out, { contentIdentifier: ID_A, stillTime: 5 }), 'INVALID_OPTIONS');
    await expectCode(injectLivePhotoMetadata(moovLast, out, { contentIdentifier: ID_A, stillTime: -1 }), 'INVALID_OPTIONS');
    await expectCode(
      injectLivePhotoMetadata(moovLast, out, { contentIdentifier: ID_A, stillTime: 1, creationDate: '2025-01-01T11:06:46' }),
      'INVALID_OPTIONS',
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it('formats creation dates the way Apple stores them', () => {
    expect(appleCreationDate('2025-01-01T11:06:46+09:00')).toBe('2025-01-01T11:06:46+0900');
    expect(appleCreationDate('2026-06-23T23:58:20.123-0330')).toBe('2026-06-23T23:58:20-0330');
    expect(appleCreationDate('2025-01-01T02:06:46Z')).toBe('2025-01-01T02:06:46+0000');
  });

  it('streams a ~50 MB movie with bounded memory', async () => {
    const source = makeLargeRawMov(path.join(dir, 'large.mov'));
    const size = fs.statSync(source).size;
    expect(size).toBeGreaterThan(45 * 1024 * 1024);
    const out = path.join(dir, 'large.live.mov');

    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakBuffers = before.arrayBuffers;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    }, 1);
    try {
      await injectLivePhotoMetadata(source, out, { contentIdentifier: ID_A, stillTime: 5.5 });
    } finally {
      clearInterval(sampler);
    }
    // Loading mdat would add the whole file (~51 MB) to both figures.
    expect(peakBuffers - before.arrayBuffers).toBeLessThan(8 * 1024 * 1024);
    expect(peakRss - before.rss).toBeLessThan(size / 3);
    expect(fs.statSync(out).size).toBeGreaterThan(size);
    expect(frameHashes(out, 'v')).toEqual(frameHashes(source, 'v'));
  });
});
