import * as fs from 'node:fs';
import * as path from 'node:path';
import { IPHONE_CONTENT_IDENTIFIER, IPHONE_MOV, IPHONE_STILL_TIME } from '../testing/fixtures';
import { readLivePhotoMov } from './read-live-photo-mov';
import { makeMoovLastMov, makeTempDir, makeUdtaMetaMov } from '@vid2live/media/test-media';

describe('readLivePhotoMov', () => {
  const dir = makeTempDir('reader');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the genuine iPhone IMG_3853.MOV', async () => {
    const info = await readLivePhotoMov(IPHONE_MOV);
    expect(info.ftypMajorBrand).toBeNull();
    expect(info.topLevel).toEqual(['wide', 'mdat', 'moov']);
    expect(info.timescale).toBe(600);
    expect(info.movieDuration).toBeCloseTo(1.4, 6);
    expect(info.metaLocation).toBe('moov');
    expect(info.metaIsFullBox).toBe(false);
    expect(info.contentIdentifier).toBe(IPHONE_CONTENT_IDENTIFIER);
    expect(Object.keys(info.keys)).toHaveLength(12);
    expect(info.keys).toMatchObject({
      'com.apple.quicktime.live-photo.auto': 1,
      'com.apple.quicktime.live-photo.vitality-scoring-version': 4,
      'com.apple.quicktime.live-photo.vitality-score': 1,
      'com.apple.quicktime.make': 'Apple',
      'com.apple.quicktime.model': 'iPhone 15 Plus',
      'com.apple.quicktime.creationdate': '2025-01-01T11:06:46+0900',
    });
    expect(info.stillImageTrack).toEqual({
      trackId: 5,
      value: -1,
      stillTime: IPHONE_STILL_TIME,
      keyDataType: 65,
      hasCdsc: false,
      handler: 'meta',
    });
    expect(info.videoTrack).toEqual({
      trackId: 1,
      codec: 'hvc1',
      width: 1920,
      height: 1440,
      matrix: [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000],
      duration: 1.4,
      tkhdFlags: 0xf,
    });
    expect(info.tracks.map((t) => [t.trackId, t.handler, t.codec])).toEqual([
      [1, 'vide', 'hvc1'],
      [2, 'soun', 'lpcm'],
      [3, 'meta', 'mebx'],
      [4, 'meta', 'mebx'],
      [5, 'meta', 'mebx'],
    ]);
  });

  it('flags content identifiers that ffmpeg put in a FullBox moov/udta/meta (pitfall P3)', async () => {
    const id = '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6';
    const info = await readLivePhotoMov(makeUdtaMetaMov(path.join(dir, 'udta.mov'), id));
    expect(info.metaLocation).toBe('udta');
    expect(info.metaIsFullBox).toBe(true);
    expect(info.contentIdentifier).toBe(id);
    expect(info.udtaKeys['com.apple.quicktime.content.identifier']).toBe(id);
    expect(info.stillImageTrack).toBeNull();
    expect(info.ftypMajorBrand).toBe('qt  ');
  });

  it('reports a plain ffmpeg MOV as having no Live Photo metadata', async () => {
    const info = await readLivePhotoMov(makeMoovLastMov(path.join(dir, 'plain.mov')));
    expect(info).toMatchObject({ metaLocation: null, contentIdentifier: null, stillImageTrack: null, timescale: 1000 });
    expect(info.videoTrack).toMatchObject({ codec: 'avc1', width: 320, height: 240, tkhdFlags: 3 });
    expect(info.movieDuration).toBeCloseTo(2, 1);
  });
});
