import * as path from 'node:path';
import {
  analyseFrames,
  analysisFrameSize,
  chooseCalmestWindow,
  chooseSharpestFrame,
  compressedMotion,
  isEncoderRhythm,
  detectSceneCuts,
  GrayFrame,
  halveGrayFrame,
  laplacianVariance,
  meanAbsDifference,
  PacketInfo,
  parsePacketLines,
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

  it('detects a hard cut but not the steady peaks of fast motion', () => {
    const motion = Array.from({ length: 90 }, (_, i) => (i === 0 ? 0 : 8 + (i % 7 === 0 ? 5 : 0)));
    expect(detectSceneCuts(motion)).toEqual([]);
    motion[45] = 70;
    expect(detectSceneCuts(motion)).toEqual([45]);
    const calm = Array.from({ length: 60 }, () => 0.2);
    calm[30] = 11; // below the absolute minimum: a flash of small change, not a cut
    expect(detectSceneCuts(calm)).toEqual([]);
  });

  it('chooses the calmest window, avoiding a cut even when the cut window is calmer', () => {
    // moving (5) except a still stretch 30..59 that is split by a cut at 45; every 20-frame window inside the
    // still stretch contains the cut, and the cut (15) costs less than the motion a clean window must include
    const motion = Array.from({ length: 90 }, (_, i): number => (i === 0 ? 0 : i >= 30 && i < 60 ? 0 : 5));
    motion[45] = 15;
    const cuts = detectSceneCuts(motion);
    expect(cuts).toEqual([45]);
    const w = chooseCalmestWindow(motion, { length: 20, cuts });
    expect(w.cuts).toEqual([]);
    expect(w.startIndex + 19 < 45 || w.startIndex >= 45).toBe(true);
    expect(w.meanMotion).toBeCloseTo(20 / 19, 5);
    // without knowing about the cut, the window across it would have won
    const naive = chooseCalmestWindow(motion, { length: 20 });
    expect(naive.startIndex < 45 && naive.startIndex + 19 >= 45).toBe(true);
  });

  it('centres the window on a uniformly static source and honours mustContain', () => {
    const still = Array.from({ length: 300 }, () => 0);
    expect(chooseCalmestWindow(still, { length: 90 }).startIndex).toBe(105);
    const w = chooseCalmestWindow(still, { length: 90, mustContain: 10 });
    expect(w.startIndex).toBeLessThanOrEqual(10);
  });

  it('picks the sharpest frame in range', () => {
    expect(chooseSharpestFrame([5, 9, 1, 30, 2], 0, 2)).toBe(1);
    expect(chooseSharpestFrame([5, 9, 1, 30, 2], 2, 10)).toBe(3);
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

describe('compressed-domain motion (synthetic packets)', () => {
  /** 30 fps packets: key every `gop` frames (plus `extraKeys`), inter-frame sizes from `size(i)` */
  function stream(n: number, size: (i: number) => number, gop = 60, extraKeys: number[] = []): PacketInfo[] {
    return Array.from({ length: n }, (_, i) => {
      const key = i % gop === 0 || extraKeys.includes(i);
      return { time: i / 30, size: key ? 50_000 : size(i), key };
    });
  }
  const grid = (frames: number) => ({ start: 0, frames, pixels: 1000 });

  it('tells an encoder rhythm of frame-size spikes from scene cuts', () => {
    expect(isEncoderRhythm([1.37, 1.5, 1.63, 1.77, 1.9])).toBe(true); // every 4 frames (AV1 alt-ref/overlay)
    expect(isEncoderRhythm([0.2, 0.4, 0.6, 0.7, 0.9, 1.0])).toBe(true); // more than one a second
    expect(isEncoderRhythm([1.5])).toBe(false);
    expect(isEncoderRhythm([1.5, 6.2])).toBe(false);
    expect(isEncoderRhythm([1.5, 4.1, 9.8])).toBe(false); // three cuts at irregular times
  });

  it('stays linear on a crafted stream of 200 000 key frames (no n² neighbour scan, no argument-spread overflow)', () => {
    const packets = Array.from({ length: 200_000 }, (_, i) => ({ time: i / 30, size: 1000 + (i % 7), key: true }));
    const started = Date.now();
    const m = compressedMotion(packets, grid(360));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(m.keyTimes).toHaveLength(200_000);
  });

  it('puts inter-frame sizes on the 30 fps grid (per 1000 px), key frames take their neighbours', () => {
    const m = compressedMotion(stream(120, (i) => (i < 60 ? 100 : 2000)), grid(120));
    expect(m.motion[0]).toBe(0);
    expect(m.motion[10]).toBe(100);
    expect(m.motion[90]).toBe(2000);
    expect(m.motion[60]).toBe((100 + 2000) / 2); // the key frame: mean of the inter frames around it
    expect(m.keyTimes).toEqual([0, 2]);
    expect(m.cuts).toEqual([]);
  });

  it('a single costly inter frame is a cut; a run of them (a fade) and steady fast motion are not', () => {
    const cut = compressedMotion(stream(120, (i) => (i === 45 ? 30_000 : 300)), grid(120));
    expect(cut.cuts).toEqual([45]);
    expect(cut.cutKinds.get(45)).toBe('spike');
    const fade = compressedMotion(stream(120, (i) => (i >= 40 && i < 52 ? 30_000 : 300)), grid(120));
    expect(fade.cuts).toEqual([]);
    const fast = compressedMotion(stream(120, (i) => 20_000 + (i % 7) * 1000), grid(120));
    expect(fast.cuts).toEqual([]);
  });

  it('a key frame earlier than the cadence is a probable cut', () => {
    const m = compressedMotion(stream(240, () => 300, 60, [100]), grid(240));
    expect(m.cuts).toEqual([100]);
    expect(m.cutKinds.get(100)).toBe('early-key');
  });

  it('a 25 fps stream: grid frames without a new picture repeat the previous motion', () => {
    const packets = Array.from({ length: 50 }, (_, i) => ({ time: i / 25, size: i === 0 ? 50_000 : 500 + i, key: i === 0 }));
    const m = compressedMotion(packets, grid(60));
    expect(m.motion.slice(1).every((v) => v > 0)).toBe(true);
    expect(m.motion.filter((v, i) => i > 0 && v === m.motion[i - 1]).length).toBeGreaterThan(5);
  });

  it('parses ffprobe compact packet lines, sorted by presentation time', () => {
    const p = parsePacketLines('pts_time=0.080000|dts_time=0.000000|size=900|flags=__\npts_time=0.000000|dts_time=-0.04|size=5000|flags=K__\n');
    expect(p).toEqual([
      { time: 0, size: 5000, key: true },
      { time: 0.08, size: 900, key: false },
    ]);
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
