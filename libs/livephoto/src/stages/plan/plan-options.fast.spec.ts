import { SourceInfo } from '../../types';
import { sourceColorOf } from '../color';
import { planClip } from '.';

/**
 * The plan's options and the paths that decode nothing (moved from plan.spec.ts: they start no process). The
 * automatic choices on decoded frames are in plan.spec.ts (real ffmpeg) and plan.fast.spec.ts (recorded frames).
 */

/** A SourceInfo for a file that does not exist: any decode attempt would fail, so passing = nothing decoded. */
function phantom(duration: number, extra: Partial<SourceInfo> = {}): SourceInfo {
  return {
    path: '/nonexistent/phantom.mp4', sizeBytes: 1, formatName: 'mov,mp4', duration,
    width: 320, height: 240, rotation: 0, mirrored: false, orientationFilters: [], sampleAspectRatio: 1,
    displayWidth: 320, displayHeight: 240, videoStreamIndex: 0, color: sourceColorOf({ width: 320, height: 240 }), fps: 30,
    variableFrameRate: false, videoCodec: 'h264', pixelFormat: 'yuv420p', bitDepth: 8, hasAudio: false, ...extra,
  };
}

const codes = (p: { warnings: { code: string }[] }) => p.warnings.map((w) => w.code);

describe('planClip: options and the no-decode fast path', () => {
  it.each([
    [{ duration: 0.5 }, /duration must be between 1 and 5/],
    [{ duration: 6 }, /duration must be between 1 and 5/],
    [{ duration: Number.NaN }, /duration/],
    [{ start: -1 }, /start must be/],
    [{ start: 10 }, /not inside/],
    [{ start: 2, keyFrame: 1 }, /outside the clip 2.00–5.00/],
    [{ start: 2, keyFrame: 5.5 }, /outside the clip/],
    [{ keyFrame: 12 }, /past the end/],
    [{ keyFrame: 'soon' as unknown as number }, /'auto' or a time/],
    [{ start: 9.95 }, /leaves only 0.05 s/],
  ])('rejects %j with INVALID_OPTIONS', async (options, message) => {
    await expect(planClip(phantom(10), options)).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringMatching(message) });
  });

  it('refuses a source under 0.1 s (3 frames) with CLIP_TOO_SHORT', async () => {
    await expect(planClip(phantom(0.08), { start: 0, keyFrame: 0.03 })).rejects.toMatchObject({ code: 'CLIP_TOO_SHORT' });
  });

  it('holds the last frame of a source shorter than 1 s: the clip is 1 s, the still a real frame', async () => {
    const plan = await planClip(phantom(0.4), { keyFrame: 0.3 });
    expect(plan).toMatchObject({ start: 0, duration: 1, sourceDuration: 0.4, stillFrameIndex: 9 });
    expect(codes(plan)).toEqual(['SOURCE_EXTENDED']);
  });

  it('a user start near the end: the rest of the source, held to 1 s', async () => {
    const plan = await planClip(phantom(10), { start: 9.5, keyFrame: 9.9 });
    expect(plan).toMatchObject({ start: 9.5, duration: 1, sourceDuration: 0.5, stillFrameIndex: 12 });
    expect(codes(plan).sort()).toEqual(['SOURCE_EXTENDED', 'SOURCE_SHORTER_THAN_CLIP']);
  });

  it('refuses clip durations outside 1–5 s, whatever the source length', async () => {
    await expect(planClip(phantom(0.6), { duration: 0.8 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('uses start + key frame as given, snapped to the 30 fps grid, without decoding', async () => {
    const plan = await planClip(phantom(10), { start: 1, keyFrame: 2.52 });
    expect(plan).toMatchObject({ start: 1, duration: 3, stillFrameIndex: 46, stillOffset: 46 / 30, warnings: [] });
    expect(plan.reasons.join(' ')).toMatch(/chosen by the user/);
  });

  it('clamps a key frame at the very end of the clip to its last frame (KEY_FRAME_CLAMPED)', async () => {
    const plan = await planClip(phantom(10), { start: 1, duration: 2, keyFrame: 3 });
    expect(plan.stillFrameIndex).toBe(59);
    expect(codes(plan)).toEqual(['KEY_FRAME_CLAMPED']);
  });

  it('shortens a clip that would run past the end (SOURCE_SHORTER_THAN_CLIP) and warns on long sources', async () => {
    const plan = await planClip(phantom(600), { start: 598.5, keyFrame: 599 });
    expect(plan.duration).toBeCloseTo(1.5, 6);
    expect(plan.stillFrameIndex).toBe(15);
    expect(codes(plan).sort()).toEqual(['SOURCE_SHORTER_THAN_CLIP', 'SOURCE_TOO_LONG']);
  });

  it('takes the whole source when it is shorter than the default clip, saying so as a reason', async () => {
    const plan = await planClip(phantom(2), { keyFrame: 1 });
    expect(plan).toMatchObject({ start: 0, duration: 2, sourceDuration: 2, stillFrameIndex: 30 });
    expect(codes(plan)).toEqual([]);
    expect(plan.reasons.join(' ')).toMatch(/shorter than the 3.00 s clip; using all of it/);
  });

  it('takes a window that ends exactly at the source end as whole (1.4 − 0.2 s in floating point is 1.1999999999999997)', async () => {
    const plan = await planClip(phantom(1.4), { start: 0.2, duration: 1.2, keyFrame: 0.7 });
    expect(plan).toMatchObject({ start: 0.2, duration: 1.2, stillFrameIndex: 15 });
    expect(codes(plan)).toEqual([]);
  });

  it('warns SOURCE_SHORTER_THAN_CLIP only when the user asked for the longer duration', async () => {
    const plan = await planClip(phantom(2), { keyFrame: 1, duration: 3 });
    expect(plan).toMatchObject({ start: 0, duration: 2 });
    expect(codes(plan)).toEqual(['SOURCE_SHORTER_THAN_CLIP']);
  });
});
