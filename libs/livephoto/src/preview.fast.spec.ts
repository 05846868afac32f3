import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyseMoment, extractPreviewFrame, makeH264PreviewMovie, makePlaybackProxy, makeThumbnailStrip } from './preview';
import { loadRecording, writeRecordedSource } from './recorded/media-recording';
import { replayMediaTools } from './recorded/replay-media-tools';
import { planClip } from './stages/plan';

/**
 * The studio's data (preview.ts) on recorded answers: the moment analysis is the plan's own choice and curves, and
 * the previews ask ffmpeg for the render's colour conversion and geometry. preview.spec.ts runs the same on real
 * files and measures the pictures.
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-preview-fast-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function moment(name: string) {
  const rec = loadRecording(name);
  const dir = fs.mkdtempSync(path.join(tmp, 'm-'));
  const source = writeRecordedSource(rec, dir);
  const media = replayMediaTools(rec);
  return { ...(await analyseMoment(source, { media })), media, dir };
}

describe('analyseMoment on recorded answers', () => {
  it('the genuine iPhone clip: the curves the planner chose on, and its own automatic choice', async () => {
    const { info, analysis, media } = await moment('IMG_3853.MOV');
    const plan = await planClip(info, {}, { media });
    expect(analysis.source).toMatchObject({ width: 1920, height: 1440, displayWidth: 1920, displayHeight: 1440, codec: 'hevc', hdr: null, hasAudio: true });
    expect(analysis.limits).toEqual({ minClipSeconds: 1, maxClipSeconds: 5, fps: 30 });
    const curves = analysis.curves!;
    expect(curves.kind).toBe('decoded');
    expect(curves.fps).toBe(30);
    expect(curves.motion.length).toBe(42); // 1.4 s at 30 fps
    expect(curves.sharpness.length).toBe(curves.motion.length);
    expect(curves.sharpness.every((s) => s !== null && s > 0)).toBe(true);
    expect(analysis.suggestion.start).toBeCloseTo(plan.start, 5);
    expect(analysis.suggestion.duration).toBeCloseTo(plan.duration, 5);
    expect(analysis.suggestion.keyFrame).toBeCloseTo(plan.start + plan.stillOffset, 5);
    expect(analysis.suggestion.reasons).toEqual(plan.reasons);
    expect(analysis.suggestion.warnings).toEqual([]);
    expect(JSON.parse(JSON.stringify(analysis))).toEqual(analysis);
  });

  it("warns HDR_TONE_MAPPED exactly when the render tone maps, in the render's words", async () => {
    const hdr = (await moment('hlg10-color-test.mp4')).analysis.suggestion.warnings.filter((w) => w.code === 'HDR_TONE_MAPPED');
    expect(hdr).toHaveLength(1);
    expect(hdr[0].message).toMatch(/the source is HLG HDR; it was tone mapped to SDR BT\.709/);
    expect((await moment('sowt-with-video.mov')).analysis.suggestion.warnings.map((w) => w.code)).not.toContain('HDR_TONE_MAPPED');
  });

  it('the AV1 HDR10 clip was chosen on its compressed stream: sizes for every frame, sharpness where it decoded', async () => {
    const { analysis } = await moment('hdr10-av1.mp4');
    const curves = analysis.curves!;
    expect(curves.kind).toBe('compressed');
    const measured = curves.sharpness.filter((s) => s !== null);
    expect(measured.length).toBeGreaterThan(10);
    expect(measured.length).toBeLessThan(curves.sharpness.length);
  });
});

describe('previews: what ffmpeg is asked for', () => {
  it('a frame: seek, the upright converted picture (mirroring matrix applied), as a JPEG', async () => {
    const { info, media, dir } = await moment('sample_rotate_and_reflect.mp4');
    const out = path.join(dir, 'frame.jpg');
    await extractPreviewFrame(info, 0.5, 320, out, { media });
    const [job] = media.jobs;
    expect(job.inputs).toEqual([{ source: info.path, options: ['-ss', '0.500000', '-noautorotate', '-protocol_whitelist', 'file', '-format_whitelist', expect.any(String)] }]);
    expect(job.complexFilter).toMatch(new RegExp(`^\\[0:${info.videoStreamIndex}\\]zscale=w=\\d+:h=\\d+:f=bicubic:min=\\w+:rin=\\w+:pin=709:.*format=yuv420p,transpose=cclock_flip,setsar=1,colorspace=.*format=yuvj420p\\[v\\]$`));
    expect(job.outputs).toEqual([{ path: out, options: expect.arrayContaining(['-map', '[v]', '-frames:v', '1', '-c:v', 'mjpeg']) }]);
    expect(fs.statSync(out).size).toBeGreaterThan(0);
    await expect(extractPreviewFrame(info, 99, 320, out, { media })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(extractPreviewFrame(info, Number.NaN, 320, out, { media })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    expect(media.jobs).toHaveLength(1);
  });

  it('a strip of a short source: one decode, one tile per slot; a long source: one short seek per tile', async () => {
    const short = await moment('sowt-with-video.mov');
    const strip = await makeThumbnailStrip(short.info, path.join(short.dir, 'strip.jpg'), 12, 90, { media: short.media });
    expect(strip.count).toBe(12);
    expect(strip.times).toHaveLength(12);
    expect(strip.tileWidth).toBe(2 * Math.round((90 * short.info.displayWidth) / short.info.displayHeight / 2));
    expect(short.media.jobs.at(-1)!.inputs).toHaveLength(1);
    expect(short.media.jobs.at(-1)!.complexFilter).toContain('tile=12x1');

    const rec = loadRecording('long.mp4');
    const media = replayMediaTools(rec);
    const dir = fs.mkdtempSync(path.join(tmp, 'long-'));
    const { info } = await analyseMoment(writeRecordedSource(rec, dir), { media });
    const long = await makeThumbnailStrip(info, path.join(dir, 'strip.jpg'), 12, 90, { media });
    const job = media.jobs.at(-1)!;
    expect(job.inputs).toHaveLength(12);
    expect(job.inputs.map((i) => i.options.slice(0, 2))).toEqual(long.times.map((t) => ['-ss', t.toFixed(6)]));
    expect(job.complexFilter).toContain('hstack=inputs=12');
  });

  it('an H.264 playback proxy (upright, SDR, ≤ 640) and an H.264 copy of a MOV', async () => {
    const { info, media, dir } = await moment('hlg10-color-test.mp4');
    await makePlaybackProxy(info, path.join(dir, 'proxy.mp4'), { media });
    const proxy = media.jobs.at(-1)!;
    expect(proxy.complexFilter).toContain('tonemap=mobius');
    expect(proxy.complexFilter).toContain('zscale=w=640:h=360:');
    expect(proxy.outputs[0].options).toEqual(expect.arrayContaining(['-c:v', 'libx264', '-movflags', '+faststart', '-f', 'mp4']));
    const mov = path.join(dir, 'in.MOV');
    fs.writeFileSync(mov, 'a Live Photo MOV');
    await makeH264PreviewMovie(mov, path.join(dir, 'preview.mov'), { media });
    const copy = media.jobs.at(-1)!;
    expect(copy.inputs[0].source).toBe(mov);
    expect(copy.complexFilter).toBeUndefined();
    expect(copy.outputs[0].options).toEqual(expect.arrayContaining(['-c:v', 'libx264', '-r', '30', '-c:a', 'copy', '-f', 'mov']));
  });
});
