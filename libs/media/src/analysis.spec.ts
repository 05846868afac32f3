import * as path from 'node:path';
import {
  analyseFrames,
  analysisFrameSize,
  GrayFrame,
  halveGrayFrame,
  laplacianVariance,
  meanAbsDifference,
  readPacketIndex,
} from './analysis';
import { ffmpegSync, makeTempDir, removeDir } from './test-media';

function frame(width: number, height: number, pixel: (x: number, y: number) => number): GrayFrame {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = pixel(x, y);
  return { width, height, data };
}

describe('frame scoring (synthetic frames)', () => {
  it('mean absolute difference: identical 0, black vs white 255, shifted stripes in between', () => {
    const black = frame(8, 8, () => 0);
    const white = frame(8, 8, () => 255);
    const stripes = frame(8, 8, (x) => (x % 2 ? 200 : 0));
    const shifted = frame(8, 8, (x) => ((x + 1) % 2 ? 200 : 0));
    expect(meanAbsDifference(black.data, black.data)).toBe(0);
    expect(meanAbsDifference(black.data, white.data)).toBe(255);
    expect(meanAbsDifference(stripes.data, shifted.data)).toBe(200);
    expect(() => meanAbsDifference(black.data, new Uint8Array(3))).toThrow(RangeError);
  });

  it('halving averages 2×2 blocks', () => {
    const f = frame(4, 2, (x) => (x < 2 ? 10 : 30));
    expect(Array.from(halveGrayFrame(f).data)).toEqual([10, 30]);
  });

  it('Laplacian variance: flat 0, a crisp checkerboard ≫ its blurred version', () => {
    const flat = frame(32, 32, () => 128);
    const crisp = frame(32, 32, (x, y) => (((x >> 2) + (y >> 2)) % 2 ? 255 : 0));
    const soft = frame(32, 32, (x, y) => 128 + 100 * Math.sin(x / 6) * Math.sin(y / 6));
    expect(laplacianVariance(flat)).toBe(0);
    expect(laplacianVariance(crisp)).toBeGreaterThan(20 * laplacianVariance(soft));
  });

  it('sizes analysis frames by the long side, even, aspect kept', () => {
    expect(analysisFrameSize(1920, 1080)).toEqual({ width: 320, height: 180 });
    expect(analysisFrameSize(1080, 1920)).toEqual({ width: 180, height: 320 });
    expect(analysisFrameSize(100, 100)).toEqual({ width: 320, height: 320 });
  });
});

describe('analyseFrames (one real decode)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('decodes a span on the 30 fps grid and measures static vs moving parts', async () => {
    // 3 s static bars, then a 80 px test card racing across them
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'smptebars=s=320x240:r=25:d=6',
      '-f', 'lavfi', '-i', 'testsrc=s=80x80:r=25:d=6',
      '-filter_complex', "[0:v][1:v]overlay=x='if(lt(t,3),20,20+mod((t-3)*900,200))':y=80:shortest=1,format=yuv420p",
      '-c:v', 'libx264', '-preset', 'ultrafast', path.join(dir, 'static-then-fast.mp4'),
    ]);
    const a = await analyseFrames(src, { start: 1, duration: 4, displayWidth: 320, displayHeight: 240 });
    expect(a.width).toBe(320);
    expect(a.frames).toHaveLength(120); // 25 fps source resampled to the 30 fps grid
    const calm = a.frames.slice(1, 55).map((f) => f.motion);
    const busy = a.frames.slice(65).map((f) => f.motion);
    expect(Math.max(...calm)).toBeLessThan(0.5);
    expect(Math.min(...busy)).toBeGreaterThan(2); // duplicated frames inherit motion instead of reading 0
    expect(a.frames[10].sharpness).toBeGreaterThan(50);
  });
});

describe('readPacketIndex (ffprobe, no decoding)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('lists the packets of a span from the key frame before it, with sizes and key flags', async () => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'testsrc=s=160x120:r=30:d=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', path.join(dir, 'gop.mp4'),
    ]);
    const p = await readPacketIndex(src, { start: 2.5, duration: 2 });
    expect(p[0]).toMatchObject({ time: 2, key: true });
    expect(p.filter((x) => x.key).map((x) => x.time)).toEqual([2, 4]);
    expect(p[p.length - 1].time).toBeCloseTo(4.5 - 1 / 30, 3);
    expect(p.every((x) => x.size > 0)).toBe(true);
  });
});
