/**
 * Regenerates fixtures/*.json (and fixtures/rendered/*): what ffprobe and the plan stage's analyses answered for
 * the real clips of `../shared/fixtures/real-media/`, the genuine iPhone clip, clips generated like the
 * real-process specs generate them, and bad inputs. The fast tests replay these through the MediaTools port.
 *
 * Run it again after changing what the engine asks of the tools (another analysis span, other probe options):
 *
 *   npm run record:media-fixtures
 *
 * from the repository root (tsc into a temporary folder, then node; needs ffmpeg/ffprobe/heif-enc and ../shared
 * beside the repository). `… record-fixtures.js NAME…` records only those sources (`rendered`: the stand-ins).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMediaTools, resolveMediaBinaries } from '@vid2live/media';
import type { FrameAnalysisRequest, PacketIndexRequest } from '@vid2live/media/measures';
import type { MediaTools } from '../ports/media-tools';
import { planClip, type PlanTuning } from '../stages/plan';
import { sourceInfoFromFfprobe } from '../stages/probe';
import { readMp4PacketIndex } from '../stages/sample-index';
import type { PlanOptions } from '../types';
import { analysisKey, packetKey, recordedPath, type MediaRecording } from './media-recording';

/** Run from the repository root (npm run): the compiled script lives in a temporary folder. */
const REPO = process.cwd();
const FIXTURE_DIR = path.join(REPO, 'libs', 'livephoto', 'src', 'recorded', 'fixtures');
const RENDERED_DIR = path.join(FIXTURE_DIR, 'rendered');

function sharedDir(name: string): string {
  for (let dir = REPO; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'fixtures', name);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`shared/fixtures/${name} not found beside the repository`);
  }
}

const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const tiny = ['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=2'];
const COARSE: PlanTuning = { fullAnalysisMaxMegapixels: 0 };

interface Plan {
  options: PlanOptions;
  tuning?: PlanTuning;
}
interface Source {
  name: string;
  /** a file that exists, or ffmpeg arguments (without the output) that make it */
  file?: string;
  make?: (out: string, dir: string) => void;
  origin: string;
  plans?: Plan[];
}

const ffmpeg = (args: string[]) => execFileSync(resolveMediaBinaries().ffmpeg.path, ['-hide_banner', '-v', 'error', '-y', ...args], { stdio: 'pipe' });
const generated = (args: string[]) => ({ make: (out: string) => ffmpeg([...args, out]), origin: `ffmpeg ${args.join(' ')}` });
const AUTO: Plan[] = [{ options: {} }];

const staticThenFast = [
  '-f', 'lavfi', '-i', 'smptebars=s=320x240:r=30:d=8', '-f', 'lavfi', '-i', 'testsrc=s=80x80:r=30:d=8',
  '-filter_complex', "[0:v][1:v]overlay=x='if(lt(t,4),20,20+mod((t-4)*900,200))':y=80:shortest=1,format=yuv420p", ...x264,
];
const hardCut = [
  '-f', 'lavfi', '-i', 'smptebars=s=320x240:r=30:d=4', '-f', 'lavfi', '-i', 'rgbtestsrc=s=320x240:r=30:d=4',
  '-f', 'lavfi', '-i', 'testsrc=s=80x80:r=30:d=8', '-filter_complex',
  "[0:v][1:v]concat=n=2:v=1[bg];[bg][2:v]overlay=x='if(lt(t,2.5)+gt(t,5.5),20+mod(t*900,200),20)':y=80:shortest=1,format=yuv420p", ...x264,
];

function sources(): Source[] {
  const real = sharedDir('real-media');
  const iphone = sharedDir('iphone-live-photo');
  const realClip = (name: string): Source => ({ name, file: path.join(real, name), origin: 'shared/fixtures/real-media', plans: AUTO });
  return [
    ...[
      'bear-vp9-odd-dimensions.webm', 'dolbyVision-hdr.MOV', 'hdr10-av1.mp4', 'hlg10-color-test.mp4',
      'pixel-motion-photo-2-hevc-tracks.mp4', 'portrait_4k60.mp4', 'roadtrip-vp92-10bit.webm', 'sample_android_slow_motion.mp4',
      'sample_rotate_and_reflect.mp4', 'sample_sef_slow_motion.mp4', 'sowt-with-video.mov',
    ].map(realClip),
    { name: 'IMG_3853.MOV', file: path.join(iphone, 'IMG_3853.MOV'), origin: 'shared/fixtures/iphone-live-photo', plans: AUTO },
    // the plan stage's generated clips (plan.spec.ts), full decode and compressed-stream pass
    { name: 'static-then-fast.mp4', ...generated(staticThenFast), plans: [{ options: {} }, { options: {}, tuning: COARSE }] },
    { name: 'cut.mp4', ...generated(hardCut), plans: [{ options: {} }, { options: { start: 2.5, keyFrame: 'auto' } }, { options: {}, tuning: COARSE }] },
    {
      name: 'blur.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=3', '-vf', "boxblur=8:enable='between(t,1,2)'", ...x264]),
      plans: [{ options: { start: 0, duration: 3 } }],
    },
    {
      name: 'blur-part.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=3', '-vf', "boxblur=8:enable='between(t,1,1.45)'", ...x264]),
      plans: [{ options: { start: 0 } }],
    },
    { name: 'dark.mp4', ...generated(['-f', 'lavfi', '-i', 'color=c=0x101010:s=320x240:r=30:d=3', ...x264]), plans: AUTO },
    {
      name: 'slowdown.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=3', '-vf', "crop=320:240:x='min(300,300*(1-pow(1-t/3,2)))':y=60", ...x264]),
      plans: [{ options: { start: 0 } }],
    },
    { name: 'noise-2s.mp4', ...generated(['-f', 'lavfi', '-i', 'nullsrc=s=320x240:r=30:d=2,geq=lum=random(1)*255:cb=128:cr=128', ...x264]), plans: AUTO },
    {
      name: 'noise-5s.mp4',
      ...generated(['-f', 'lavfi', '-i', 'nullsrc=s=320x240:r=30:d=5,geq=lum=random(1)*255:cb=128:cr=128', ...x264]),
      plans: [{ options: {}, tuning: COARSE }],
    },
    {
      name: 'shaky.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc2=s=400x300:r=30:d=3', '-vf', "crop=320:240:x='40+40*sin(n*n*0.37)':y='30+30*cos(n*1.91)'", ...x264]),
      plans: AUTO,
    },
    {
      name: 'refocus.mp4',
      ...generated([
        '-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=6', '-filter_complex',
        "split[a][b];[b]boxblur=8[bb];[a][bb]blend=all_expr='A*clip((T-2.6)/0.4,0,1)+B*(1-clip((T-2.6)/0.4,0,1))',format=yuv420p", ...x264,
      ]),
      plans: [{ options: {} }, { options: {}, tuning: COARSE }],
    },
    {
      name: 'long.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc=s=160x120:r=30:d=60', ...x264, '-g', '300']),
      plans: [{ options: {} }, { options: {}, tuning: COARSE }, { options: { keyFrame: 31 }, tuning: COARSE }],
    },
    // the probe stage's generated clips (probe.spec.ts) and the colour/geometry ones of real-media.spec.ts
    {
      name: 'tagged.mov',
      ...generated([
        ...tiny, '-f', 'lavfi', '-i', 'sine=d=2', ...x264, '-c:a', 'aac', '-shortest', '-movflags', 'use_metadata_tags',
        '-metadata', 'com.apple.quicktime.creationdate=2025-01-01T11:06:46+0900',
        '-metadata', 'com.apple.quicktime.location.ISO6709=+39.9990+116.3477+054.305/',
        '-metadata', 'com.apple.quicktime.make=Apple', '-metadata', 'com.apple.quicktime.model=iPhone 15 Plus',
      ]),
    },
    { name: 'plain.mp4', ...generated([...tiny, ...x264, '-metadata', 'creation_time=2024-05-06T07:08:09Z']) },
    {
      name: 'rotated.mp4',
      make: (out, dir) => {
        const coded = path.join(dir, 'coded.mp4');
        ffmpeg([...tiny, ...x264, coded]);
        ffmpeg(['-i', coded, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', out]);
      },
      origin: `ffmpeg ${[...tiny, ...x264].join(' ')}, then -c copy -metadata:s:v:0 rotate=90`,
    },
    { name: 'vfr.mp4', ...generated([...tiny, '-vf', "setpts='N/(30*TB)+if(gt(N,30),0.02*N/TB,0)'", '-fps_mode', 'vfr', ...x264]) },
    {
      name: 'ten.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc=s=320x240:r=30:d=0.5', '-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-x265-params', 'log-level=error']),
    },
    {
      name: 'bt601.mp4',
      ...generated([
        '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=2', '-vf', 'scale=out_color_matrix=bt601:out_range=tv,format=yuv420p',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-colorspace', 'smpte170m', '-color_primaries', 'smpte170m', '-color_trc', 'smpte170m', '-color_range', 'tv',
      ]),
    },
    {
      name: 'anamorphic.mp4',
      ...generated(['-f', 'lavfi', '-i', 'testsrc2=size=720x480:rate=30:duration=2', '-vf', 'setsar=64/27', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p']),
    },
    { name: 'anim.gif', ...generated(['-f', 'lavfi', '-i', 'testsrc=s=64x48:r=10:d=2']) },
    // bad inputs (probe.spec.ts): what ffprobe says about each
    { name: 'notes.mp4', make: (out) => fs.writeFileSync(out, 'these are not the frames you are looking for\n'.repeat(20)), origin: 'text, 20 lines' },
    { name: 'notes.txt', make: (out) => fs.writeFileSync(out, 'these are not the frames you are looking for\n'.repeat(200)), origin: 'text, 200 lines' },
    {
      name: 'subs.srt',
      make: (out) => fs.writeFileSync(out, '1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 --> 00:00:04,000\nWorld\n'),
      origin: 'two SubRip cues',
    },
    {
      name: 'list.m3u8',
      make: (out) => fs.writeFileSync(out, '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n'),
      origin: 'an HLS playlist',
    },
    { name: 'photo.jpg', ...generated(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1']) },
    { name: 'photo.png', ...generated(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1']) },
    {
      name: 'photo-named.mp4',
      make: (out, dir) => {
        ffmpeg(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1', path.join(dir, 'p.jpg')]);
        fs.copyFileSync(path.join(dir, 'p.jpg'), out);
      },
      origin: 'a JPEG (ffmpeg testsrc 64x48) named .mp4',
    },
    { name: 'still.gif', ...generated(['-f', 'lavfi', '-i', 'testsrc=s=64x48', '-frames:v', '1']) },
    { name: 'voice.m4a', ...generated(['-f', 'lavfi', '-i', 'sine=d=1']) },
    { name: 'voice.wav', ...generated(['-f', 'lavfi', '-i', 'sine=d=1']) },
    { name: 'zero.mp4', ...generated(['-f', 'lavfi', '-i', 'testsrc', '-frames:v', '0']) },
    {
      name: 'cut-moov-last.mp4',
      make: (out, dir) => {
        const whole = path.join(dir, 'whole.mp4');
        ffmpeg([...tiny, ...x264, whole]);
        const bytes = fs.readFileSync(whole);
        fs.writeFileSync(out, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      },
      origin: `the first 60 % of ffmpeg ${[...tiny, ...x264].join(' ')} (moov last)`,
    },
  ];
}

/** Real tools that write down what they answered. Packet indexes: what the plan's packetIndex() would get. */
function recorder(real: MediaTools, rec: MediaRecording, file: string, formatName: string): MediaTools {
  return {
    ...real,
    async analyseFrames(source: string, request: FrameAnalysisRequest) {
      const result = await real.analyseFrames(file, request);
      rec.analyses.push({ request: analysisKey(request), result });
      return result;
    },
    async readPacketIndex(source: string, request: PacketIndexRequest) {
      const own = await readMp4PacketIndex(file, formatName, request.streamIndex ?? 0, request.start, request.duration);
      const result = own ?? (await real.readPacketIndex(file, request));
      rec.packets.push({ request: packetKey(request), result });
      return result;
    },
  };
}

async function record(real: MediaTools, s: Source, dir: string): Promise<MediaRecording> {
  const file = s.file ?? path.join(dir, s.name);
  if (!s.file) s.make!(file, dir);
  const bytes = fs.readFileSync(file);
  const probe = await real.probe(file, { timeoutMs: 30_000 });
  const virtual = recordedPath(s.name);
  const scrub = (text: string) => text.split(`file:${file}`).join(`file:${virtual}`).split(file).join(virtual);
  if (probe.data?.format?.filename) probe.data.format.filename = scrub(probe.data.format.filename);
  probe.stderr = scrub(probe.stderr);
  const rec: MediaRecording = {
    name: s.name,
    origin: s.origin,
    sizeBytes: bytes.length,
    head: bytes.subarray(0, 64).toString('base64'),
    probe,
    analyses: [],
    packets: [],
  };
  if (s.plans && probe.data) {
    const info = sourceInfoFromFfprobe(virtual, bytes.length, probe.data);
    // The plan reads MP4 sample tables of `source.path` itself; pointed at the recorded path it finds nothing and
    // asks the tools, which answer from the real file (the same sample tables, else ffprobe).
    for (const plan of s.plans) {
      await planClip(info, plan.options, { media: recorder(real, rec, file, info.formatName) }, plan.tuning);
    }
  }
  // the same request twice (two plans) is recorded once
  const unique = <T extends { request: unknown }>(list: T[]) => list.filter((a, i) => list.findIndex((b) => JSON.stringify(b.request) === JSON.stringify(a.request)) === i);
  rec.analyses = unique(rec.analyses);
  rec.packets = unique(rec.packets);
  return rec;
}

/**
 * Small real outputs for the replayed ffmpeg/heif-enc runs: a 5 s (the longest clip) 64×48 H.264 MOV like the
 * render's, stills, an MP4, a HEIC.
 */
async function makeRenderedStandIns(real: MediaTools): Promise<void> {
  fs.mkdirSync(RENDERED_DIR, { recursive: true });
  const src = ['-f', 'lavfi', '-i', 'testsrc=s=64x48:r=30:d=5'];
  ffmpeg([...src, '-vf', 'hue=s=0', '-c:v', 'libx264', '-crf', '45', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30', '-an', '-movie_timescale', '600', '-map_metadata', '-1', '-f', 'mov', path.join(RENDERED_DIR, 'clip.mov')]);
  ffmpeg(['-i', path.join(RENDERED_DIR, 'clip.mov'), '-map', '0', '-c', 'copy', '-f', 'mp4', '-brand', 'isom', '-movflags', '+faststart', path.join(RENDERED_DIR, 'motion.mp4')]);
  ffmpeg([...src, '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '2', '-f', 'image2', path.join(RENDERED_DIR, 'still.jpg')]);
  ffmpeg([...src, '-frames:v', '1', '-c:v', 'png', '-f', 'image2', path.join(RENDERED_DIR, 'still.png')]);
  await real.encodeHeic(path.join(RENDERED_DIR, 'still.png'), path.join(RENDERED_DIR, 'still.heic'));
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-record-'));
  const real = createMediaTools();
  const only = process.argv.slice(2);
  try {
    for (const s of sources()) {
      if (only.length > 0 && !only.includes(s.name)) continue;
      const rec = await record(real, s, dir);
      fs.writeFileSync(path.join(FIXTURE_DIR, `${s.name}.json`), `${JSON.stringify(rec)}\n`);
      console.log(`${s.name}: probe exit ${rec.probe.exitCode}, ${rec.analyses.length} analyses, ${rec.packets.length} packet indexes`);
    }
    if (only.length === 0 || only.includes('rendered')) await makeRenderedStandIns(real);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
