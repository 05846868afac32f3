import { MOTION_CROP_ADVANTAGE, wallpaperFraming } from './wallpaper-crop';

const landscape = { displayWidth: 1920, displayHeight: 1080 };
/** 100 analysis columns: motion `level` in [from, to), 0.2 elsewhere */
const motion = (from: number, to: number, level = 20) => Array.from({ length: 100 }, (_, i) => (i >= from && i < to ? level : 0.2));

describe('wallpaper framing', () => {
  it('is centred without a measure, on a still clip, or when motion is spread evenly', () => {
    const centredX = (1920 - 1080 * (9 / 16)) / 2;
    expect(wallpaperFraming(landscape).crop.x).toBeCloseTo(centredX, 6);
    expect(wallpaperFraming(landscape, undefined, Array(100).fill(0)).crop.x).toBeCloseTo(centredX, 6);
    expect(wallpaperFraming(landscape, undefined, Array(100).fill(12)).crop.x).toBeCloseTo(centredX, 6);
    expect(wallpaperFraming(landscape, undefined, Array(100).fill(12)).reason).toMatch(/centred/);
  });

  it('follows the motion when one side holds clearly more of it, clamped to the picture', () => {
    const right = wallpaperFraming(landscape, undefined, motion(80, 95));
    // the moving part (columns 80–95 → x 1536–1824) is inside the 607.5-px crop
    expect(right.crop.x).toBeLessThanOrEqual(1536);
    expect(right.crop.x + right.crop.width).toBeGreaterThanOrEqual(1824);
    expect(right.crop.height).toBe(1080);
    expect(right.reason).toMatch(/around the motion/);
    const edge = wallpaperFraming(landscape, undefined, motion(96, 100));
    expect(edge.crop.x + edge.crop.width).toBeCloseTo(1920, 6);
    const left = wallpaperFraming(landscape, undefined, motion(0, 5));
    expect(left.crop.x).toBe(0);
    // the same measure on a mirrored source is the other side of the picture
    expect(wallpaperFraming({ ...landscape, mirrored: true }, undefined, motion(0, 5)).crop.x + right.crop.width).toBeCloseTo(1920, 6);
  });

  it('stays centred when the best window is not clearly better than the centre', () => {
    // motion in the centre plus a little more just off it: under the advantage threshold
    const cols = motion(40, 60, 10).map((v, i) => (i >= 60 && i < 64 ? 10 * (MOTION_CROP_ADVANTAGE - 1) : v));
    expect(wallpaperFraming(landscape, undefined, cols).reason).toMatch(/centred/);
  });

  it("takes the user's crop as given after checking it, and has nothing to place on a 9:16 source", () => {
    expect(wallpaperFraming(landscape, { x: 100, y: 0, width: 607.5, height: 1080 }, motion(90, 100)).crop.x).toBe(100);
    expect(() => wallpaperFraming(landscape, { x: 1500, y: 0, width: 607.5, height: 1080 })).toThrow(/not inside/);
    expect(() => wallpaperFraming(landscape, { x: 0, y: 0, width: 800, height: 1080 })).toThrow(/not 9:16/);
    const portrait = wallpaperFraming({ displayWidth: 1080, displayHeight: 1920 }, undefined, motion(90, 100));
    expect(portrait.crop).toEqual({ x: 0, y: 0, width: 1080, height: 1920 });
  });
});
