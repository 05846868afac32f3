import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeExifTool, readAllTags } from '@vid2live/media/exiftool';
import { LivePhotoError } from '@vid2live/errors';
import { IPHONE_MOV } from '../testing/fixtures';
import { Box, child, find } from './boxes';
import { readTopLevelBoxes } from './top-level';
import { appleCreationDate, injectLivePhotoMetadata } from './inject';
import { stillTimeUnits } from './still-image-time-track';
import { QUICKTIME_EPOCH_OFFSET_SECONDS, readMovieHeader, tracksOf, withHeaderTimes } from './movie';
import { readPresentationTimes } from './sample-tables';
import { readLivePhotoMov } from './read-live-photo-mov';
import {
  decodeErrors,
  frameHashes,
  frameIndexAt,
  makeFaststartMp4,
  makeLargeRawMov,
  makeMoovLastMov,
  makeTempDir,
  makeUdtaMetaMov,
  videoFrameStarts,
} from '@vid2live/media/test-media';
import { fullBox, u32s } from './writer';

/** Creation and modification time of a `mvhd`/`tkhd`/`mdhd` (QuickTime seconds; 0 = unset): the oracle for `withHeaderTimes`. */
function readHeaderTimes(box: Box): { creationTime: number; modificationTime: number } {
  const d = box.data;
  if (!d || !['mvhd', 'tkhd', 'mdhd'].includes(box.type)) throw new Error(`'${box.type}' has no creation time`);
  if (d[0] === 1) return { creationTime: Number(d.readBigUInt64BE(4)), modificationTime: Number(d.readBigUInt64BE(12)) };
  return { creationTime: d.readUInt32BE(4), modificationTime: d.readUInt32BE(8) };
}

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

/** Creation/modification times of `mvhd` and of every `tkhd` and `mdhd` in a file. */
async function headerTimes(file: string): Promise<Array<[string, number, number]>> {
  const moov = (await readTopLevelBoxes(file)).boxes.find((b) => b.type === 'moov')!;
  const boxes: Box[] = [child(moov, 'mvhd')!];
  for (const trak of tracksOf(moov)) boxes.push(child(trak, 'tkhd')!, find(trak, 'mdia', 'mdhd')!);
  return boxes.map((b) => {
    const t = readHeaderTimes(b);
    return [b.type, t.creationTime, t.modificationTime];
  });
}

describe('injectLivePhotoMetadata: creation time in the movie headers', () => {
  const dir = makeTempDir('inject-time');
  const source = makeMoovLastMov(path.join(dir, 'src.mov'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const captured = new Date('2016-05-31T17:01:35Z');
  const qt = Math.floor(captured.getTime() / 1000) + QUICKTIME_EPOCH_OFFSET_SECONDS;

  it('dates mvhd and every tkhd/mdhd (the new marker track too) with the capture instant', async () => {
    // ffmpeg leaves them 0 without source metadata
    expect((await headerTimes(source)).every(([, c, m]) => c === 0 && m === 0)).toBe(true);
    const out = path.join(dir, 'dated.mov');
    await injectLivePhotoMetadata(source, out, { contentIdentifier: ID_A, stillTime: 1, creationTime: captured });
    const times = await headerTimes(out);
    expect(times.map(([type]) => type)).toEqual(['mvhd', 'tkhd', 'mdhd', 'tkhd', 'mdhd', 'tkhd', 'mdhd']);
    expect(times.every(([, c, m]) => c === qt && m === qt)).toBe(true);
    // what ffprobe (and so every ffmpeg-based gallery) reads back
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format_tags=creation_time:stream_tags=creation_time', '-of', 'json', out], { encoding: 'utf8' }));
    expect(probe.format.tags.creation_time).toBe('2016-05-31T17:01:35.000000Z');
    expect(probe.streams.map((s: { tags?: { creation_time?: string } }) => s.tags?.creation_time)).toEqual([
      '2016-05-31T17:01:35.000000Z',
      '2016-05-31T17:01:35.000000Z',
      '2016-05-31T17:01:35.000000Z',
    ]);
    expect(frameHashes(out, 'v')).toEqual(frameHashes(source, 'v'));
  });

  it('leaves the header times alone without a creation time, and rejects an invalid date', async () => {
    const out = path.join(dir, 'undated.mov');
    await injectLivePhotoMetadata(source, out, { contentIdentifier: ID_A, stillTime: 1 });
    expect((await headerTimes(out)).every(([, c, m]) => c === 0 && m === 0)).toBe(true);
    await expectCode(
      injectLivePhotoMetadata(source, path.join(dir, 'bad.mov'), { contentIdentifier: ID_A, stillTime: 1, creationTime: new Date('nope') }),
      'INVALID_OPTIONS',
    );
    await expectCode(
      injectLivePhotoMetadata(source, path.join(dir, 'bad.mov'), { contentIdentifier: ID_A, stillTime: 1, creationTime: new Date('1900-01-01T00:00:00Z') }),
      'INVALID_OPTIONS',
    );
  });

  it('writes version 0 (u32) and version 1 (u64) headers of mvhd, tkhd and mdhd', () => {
    // v0: creation, modification, then the box's own fields; v1: the two times as u64
    const v0 = (type: string) => fullBox(type, 0, 0, Buffer.concat([u32s(0, 0, 600, 1800), Buffer.alloc(80)]));
    const v1 = (type: string) => fullBox(type, 1, 0, Buffer.concat([u32s(0, 0, 0, 0, 600, 0, 1800), Buffer.alloc(80)]));
    for (const type of ['mvhd', 'tkhd', 'mdhd']) {
      const a = withHeaderTimes(v0(type), qt);
      expect(readHeaderTimes(a)).toEqual({ creationTime: qt, modificationTime: qt });
      expect(a.data!.readUInt32BE(12)).toBe(600); // the next field is untouched
      const b = withHeaderTimes(v1(type), qt);
      expect(readHeaderTimes(b)).toEqual({ creationTime: qt, modificationTime: qt });
      expect(b.data!.readUInt32BE(4)).toBe(0); // high word of the u64
      expect(b.data!.readUInt32BE(8)).toBe(qt);
      expect(b.data!.readUInt32BE(20)).toBe(600);
      // a date past 2040-02-06 does not fit version 0: left as it was; version 1 takes it
      const late = 0x1_0000_0000 + 5;
      expect(readHeaderTimes(withHeaderTimes(v0(type), late))).toEqual({ creationTime: 0, modificationTime: 0 });
      expect(readHeaderTimes(withHeaderTimes(v1(type), late))).toEqual({ creationTime: late, modificationTime: late });
    }
    expect(() => withHeaderTimes(fullBox('stts', 0, 0, u32s(0)), qt)).toThrow(LivePhotoError);
  });
});

describe('injectLivePhotoMetadata: the still-image-time marker lands on the still frame', () => {
  const dir = makeTempDir('inject-frames');
  // ffmpeg's default movie timescale 1000: frame n starts at n/30 s = 33.33…·n ticks, between ticks for n % 3 ≠ 0
  const source = makeMoovLastMov(path.join(dir, 'src.mov'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('for every frame of a 30 fps movie in timescale 1000 (B-frames, edit list)', async () => {
    const frames = videoFrameStarts(source);
    expect(frames.pts).toHaveLength(60);
    const out = path.join(dir, 'out.mov');
    const wrong: number[] = [];
    for (let n = 0; n < frames.pts.length; n++) {
      await injectLivePhotoMetadata(source, out, { contentIdentifier: ID_A, stillTime: n / 30 });
      const info = await readLivePhotoMov(out);
      expect(info.timescale).toBe(1000);
      const S = Math.round(info.stillImageTrack!.stillTime * info.timescale);
      if (frameIndexAt(S, info.timescale, frames) !== n) wrong.push(n);
    }
    expect(wrong).toEqual([]);
  });

  it('computes S from the video track timing: first tick at or after the frame start', async () => {
    const moov = (await readTopLevelBoxes(source)).boxes.find((b) => b.type === 'moov')!;
    const T = readMovieHeader(moov).timescale;
    const video = readPresentationTimes(tracksOf(moov)[0], T)!;
    expect(video.frames).toHaveLength(60);
    // frame 1 starts at 33.33 ms: plain rounding gives 33 (inside frame 0), the frame needs 34
    expect(Math.round((1 / 30) * T)).toBe(33);
    expect(stillTimeUnits(1 / 30, T, video)).toBe(34);
    expect(stillTimeUnits(2 / 30, T, video)).toBe(67);
    expect(stillTimeUnits(1.2, T, video)).toBe(1200);
    // a time inside a frame keeps its rounding; past the last frame, and without timing, plain rounding
    expect(stillTimeUnits(1.21, T, video)).toBe(1210);
    expect(stillTimeUnits(2.5, T, video)).toBe(2500);
    expect(stillTimeUnits(1 / 30, T, null)).toBe(33);
    // a movie timescale of 600 holds every 30 fps frame start exactly
    expect(stillTimeUnits(7 / 30, 600, null)).toBe(140);
  });
});
