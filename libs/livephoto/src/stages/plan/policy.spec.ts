import { parsePacketLines, type PacketInfo } from '@vid2live/media/analysis';
import { chooseCalmestWindow, chooseSharpestFrame, compressedMotion, detectSceneCuts, isEncoderRhythm } from './policy';

/** The plan stage's policy on analysis numbers (moved with the functions from libs/media/src/analysis.spec.ts). */
describe('window and key-frame policy (synthetic numbers)', () => {
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

