/**
 * Bounded, deterministic fuzz test of the parsers an untrusted upload reaches: a few hundred mutations (seeded
 * PRNG) of the genuine iPhone pair, of a small ffmpeg-made MP4 and of a Motion Photo JPEG, through
 * `inspectLivePhoto` / `inspectMotionPhoto` and the probe stage's `checkContainerIntegrity`. Every case must end,
 * within its time limit, in a report or a typed LivePhotoError: an "unreadable" issue must carry the typed code
 * (a RangeError or TypeError turned into a message is a crash too), and RSS must stay bounded.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { isLivePhotoError } from '@vid2live/errors';
import { buildAppleMakerNote, buildExifTiff, listJpegSegments, writeJpegExif } from './exif';
import { inspectLivePhoto, inspectMotionPhoto, InspectReport } from './inspect';
import { writeMotionPhoto } from './motion-photo';
import { parseBoxes, type Box } from './quicktime/boxes';
import { checkContainerIntegrity } from './quicktime/integrity';
import { makeFaststartMp4 } from '@vid2live/media/test-media';
import { IPHONE_HEIC, IPHONE_MOV } from './testing/fixtures';

/** Fixed so CI is deterministic; FUZZ_SEED / FUZZ_SCALE explore further locally. */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2024);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
/** Per case: inspect of a few-MB file takes ~10 ms; anything near this is a hang or a quadratic walk. */
const CASE_LIMIT_MS = 2000;
/**
 * Live memory (V8 heap + Buffers) after a forced GC may grow by at most this over the run: a leak or an unbounded
 * allocation shows up there. RSS alone is not a bound on our code: Node 24's V8 lets a busy heap's RSS grow
 * +215 MB before it collects (Node 20: +47 MB) for the same cases and the same live memory.
 */
const LIVE_GROWTH_LIMIT = 100 * 1024 * 1024;
/** …and RSS, garbage included, may never grow past this (the bound for inspect is < 200 MB per input). */
const RSS_GROWTH_LIMIT = 400 * 1024 * 1024;

// A real collection between samples, so "live" means live (jest does not pass --expose-gc).
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
const liveBytes = () => {
  collectGarbage();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** mulberry32: small, seeded, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Header offsets of every box in a box tree (absolute), to aim mutations at structure rather than media data. */
function headerOffsets(boxes: Box[]): number[] {
  const out: number[] = [];
  const pending = [...boxes];
  while (pending.length) {
    const b = pending.pop()!;
    out.push(b.offset);
    for (const c of b.children ?? []) pending.push(c);
  }
  return out;
}

/** Every ISO-BMFF header position reachable by a flat scan of `buf[start, end)` that descends into any box. */
function scanHeaders(buf: Buffer, start: number, end: number): number[] {
  const out: number[] = [];
  const stack: Array<[number, number]> = [[start, end]];
  while (stack.length && out.length < 5000) {
    const [s, e] = stack.pop()!;
    for (let at = s; at + 8 <= e; ) {
      const size = buf.readUInt32BE(at);
      if (size < 8 || at + size > e) break;
      out.push(at);
      if (size > 16 && size < 1 << 20) stack.push([at + 8, at + size], [at + 12, at + size]);
      at += size;
    }
  }
  return out;
}

interface Target {
  name: string;
  bytes: Buffer;
  /** offsets of box headers / segment starts worth aiming at */
  hotspots: number[];
  /** [start, end) of the structural region (moov, meta, JPEG header) */
  region: [number, number];
}

const INTERESTING_U32 = [0, 1, 7, 8, 9, 15, 16, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 0x10000, 0xffff];
const CONTAINER_TYPES = ['udta', 'moov', 'trak', 'mdia', 'minf', 'stbl', 'meta', 'ilst', 'stsd', 'keys', 'iprp', 'ipco', 'iinf', 'iloc'];

function mutate(t: Target, rnd: () => number): { bytes: Buffer; how: string } {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const inRegion = () => t.region[0] + Math.floor(rnd() * Math.max(1, t.region[1] - t.region[0]));
  const out = Buffer.from(t.bytes);
  const ops = 1 + Math.floor(rnd() * 3);
  const how: string[] = [];
  let result = out;
  for (let k = 0; k < ops; k++) {
    const op = Math.floor(rnd() * 8);
    const hot = t.hotspots.length ? pick(t.hotspots) : inRegion();
    switch (op) {
      case 0: {
        const at = inRegion();
        for (let i = 0; i < 1 + Math.floor(rnd() * 8) && at + i < result.length; i++) result[at + i] = Math.floor(rnd() * 256);
        how.push(`bytes@${at}`);
        break;
      }
      case 1:
      case 2: {
        const v = rnd() < 0.7 ? pick(INTERESTING_U32) : Math.floor(rnd() * 0x100000000);
        if (hot + 4 <= result.length) result.writeUInt32BE(v >>> 0, hot);
        how.push(`size@${hot}=${v}`);
        break;
      }
      case 3: {
        if (hot + 8 <= result.length) result.write(pick(CONTAINER_TYPES), hot + 4, 'latin1');
        how.push(`type@${hot}`);
        break;
      }
      case 4: {
        const at = inRegion();
        result = result.subarray(0, Math.max(1, at));
        how.push(`truncate@${at}`);
        break;
      }
      case 5: {
        // Splice a copy of a structural slice somewhere else (nested/duplicated boxes).
        const from = inRegion();
        const len = 1 + Math.floor(rnd() * 256);
        const at = inRegion();
        result = Buffer.concat([result.subarray(0, at), result.subarray(from, from + len), result.subarray(at)]);
        how.push(`splice ${from}+${len}@${at}`);
        break;
      }
      case 6: {
        // 64-bit largesize header
        if (hot + 16 <= result.length) {
          result.writeUInt32BE(1, hot);
          result.writeBigUInt64BE(BigInt(Math.floor(rnd() * 2 ** 40)), hot + 8);
        }
        how.push(`largesize@${hot}`);
        break;
      }
      default: {
        const at = inRegion();
        if (at + 4 <= result.length) result.writeUInt32BE(pick(INTERESTING_U32) >>> 0, at);
        how.push(`u32@${at}`);
      }
    }
  }
  return { bytes: result, how: how.join(', ') };
}

/** Issues that say "could not read the file" must come from a typed LivePhotoError. */
function untypedFailures(r: InspectReport, file: string): string[] {
  const fromException = (e: { code: string; message: string }) =>
    e.code === 'STILL_UNREADABLE' || e.code === 'MOVIE_UNREADABLE' || (e.code === 'NOT_MOTION_PHOTO' && e.message.startsWith(`${file}: `));
  return r.errors.filter((e) => fromException(e) && !e.errorCode).map((e) => `${e.code}: ${e.message}`);
}

async function withinLimit<T>(what: string, run: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CASE_LIMIT_MS} ms`)), CASE_LIMIT_MS);
  });
  try {
    const value = await Promise.race([run(), timeout]);
    return { value, ms: Date.now() - started };
  } catch (error) {
    if (error instanceof Error && error.message.includes('no answer within')) throw error;
    return { error, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

let mp4: Target;
let motionPhoto: Target;
let jpegStill: string;
let mov: Target;
let heic: Target;
let heicExif: Target;
let jpegLive: Target;

beforeAll(async () => {
  const movBytes = fs.readFileSync(IPHONE_MOV);
  const movTop = parseBoxes(movBytes.subarray(3430587), 0, movBytes.length - 3430587, 3430587, [], { copy: false });
  mov = { name: 'iphone.mov', bytes: movBytes, hotspots: headerOffsets(movTop), region: [3430587, movBytes.length] };

  const heicBytes = fs.readFileSync(IPHONE_HEIC);
  const ftypSize = heicBytes.readUInt32BE(0);
  const metaEnd = ftypSize + heicBytes.readUInt32BE(ftypSize);
  heic = { name: 'iphone.heic', bytes: heicBytes, hotspots: scanHeaders(heicBytes, 0, metaEnd), region: [0, metaEnd + 64] };
  // The Exif item (TIFF, IFDs, Apple MakerNote) lives in mdat: a second target aims there.
  const exifAt = heicBytes.indexOf('Exif\0\0', metaEnd, 'latin1');
  heicExif = { name: 'iphone-exif.heic', bytes: heicBytes, hotspots: [], region: [exifAt - 4, exifAt + 2048] };

  const mp4Path = makeFaststartMp4(path.join(tmp, 'small.mp4'), 1);
  const mp4Bytes = fs.readFileSync(mp4Path);
  const mp4Top = parseBoxes(mp4Bytes, 0, mp4Bytes.length, 0, [], { copy: false });
  const moov = mp4Top.find((b) => b.type === 'moov')!;
  mp4 = { name: 'small.mp4', bytes: mp4Bytes, hotspots: headerOffsets(mp4Top), region: [0, moov.offset + moov.size] };

  jpegStill = path.join(tmp, 'still.jpg');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '1', jpegStill]);
  // A Live Photo JPEG still: Exif with an Apple MakerNote (content identifier), fuzzed in its header.
  const makerNote = buildAppleMakerNote('71DCA213-5710-4A6C-BC6D-CE6306AEB8D8');
  const liveJpeg = writeJpegExif(fs.readFileSync(jpegStill), buildExifTiff({ model: 'iPhone', makerNote, imageWidth: 320, imageHeight: 240 }));
  const sos = listJpegSegments(liveJpeg).pop()!;
  jpegLive = { name: 'live.jpg', bytes: liveJpeg, hotspots: listJpegSegments(liveJpeg).map((seg) => seg.offset + 2), region: [0, sos.offset + sos.length] };
  const mpPath = path.join(tmp, 'motion.MP.jpg');
  await writeMotionPhoto({ jpeg: fs.readFileSync(jpegStill), mp4Path, outputPath: mpPath, presentationTimestampUs: 500000 });
  const mpBytes = fs.readFileSync(mpPath);
  const jpegEnd = mpBytes.length - mp4Bytes.length;
  const segs: number[] = [];
  for (let at = 2; at + 4 < jpegEnd && mpBytes[at] === 0xff && mpBytes[at + 1] !== 0xda; at += 2 + mpBytes.readUInt16BE(at + 2)) segs.push(at + 2);
  motionPhoto = { name: 'motion.MP.jpg', bytes: mpBytes, hotspots: [...segs, jpegEnd, ...headerOffsets(mp4Top).map((o) => o + jpegEnd)], region: [0, Math.min(mpBytes.length, jpegEnd + 4096)] };
});

describe('fuzzing the parsers (seeded, bounded)', () => {
  it('survives a few hundred mutations of the genuine pair, a generated MP4 and a Motion Photo', async () => {
    const rnd = prng(SEED);
    const plan: Array<{ target: Target; count: number }> = [
      { target: mov, count: 100 },
      { target: heic, count: 80 },
      { target: heicExif, count: 50 },
      { target: jpegLive, count: 50 },
      { target: mp4, count: 100 },
      { target: motionPhoto, count: 60 },
    ];
    const failures: string[] = [];
    const rssStart = process.memoryUsage().rss;
    let rssMax = rssStart;
    const liveStart = liveBytes();
    let liveMax = liveStart;
    let slowest = { ms: 0, what: '' };
    let cases = 0;
    const outcomes: Record<string, number> = {};
    const tally = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);

    for (const { target, count } of plan) {
      const file = path.join(tmp, `case-${target.name}`);
      for (let i = 0; i < count * SCALE; i++) {
        const { bytes, how } = mutate(target, rnd);
        fs.writeFileSync(file, bytes);
        const label = `${target.name} #${i} (${how})`;
        const runs: Array<[string, () => Promise<unknown>]> = [];
        if (target === mov) runs.push(['inspect', () => inspectLivePhoto(IPHONE_HEIC, file)]);
        if (target === heic || target === heicExif || target === jpegLive) runs.push(['inspect', () => inspectLivePhoto(file, IPHONE_MOV)]);
        if (target === mp4) {
          runs.push(['integrity', () => checkContainerIntegrity(file)]);
          runs.push(['inspect', () => inspectLivePhoto(jpegStill, file)]);
        }
        if (target === motionPhoto) runs.push(['motion-photo', () => inspectMotionPhoto(file)]);
        for (const [kind, run] of runs) {
          cases++;
          const r = await withinLimit(label, run);
          if (r.ms > slowest.ms) slowest = { ms: r.ms, what: `${kind} ${label}` };
          if (r.ms > CASE_LIMIT_MS / 2) failures.push(`${kind} ${label}: took ${r.ms} ms`);
          if (r.error !== undefined) {
            if (!isLivePhotoError(r.error)) failures.push(`${kind} ${label}: untyped ${(r.error as Error)?.stack ?? r.error}`);
            else tally(`${kind}:${r.error.code}`);
          } else if (kind !== 'integrity') {
            const report = r.value as InspectReport;
            failures.push(...untypedFailures(report, file).map((f) => `${kind} ${label}: ${f}`));
            tally(`${kind}:${report.valid ? 'valid' : 'invalid'}`);
          } else {
            tally('integrity:ok');
          }
          rssMax = Math.max(rssMax, process.memoryUsage().rss);
          if (cases % 25 === 0) liveMax = Math.max(liveMax, liveBytes());
        }
      }
    }
    process.stdout.write(`fuzz: ${cases} cases, slowest ${slowest.ms} ms (${slowest.what}), RSS +${Math.round((rssMax - rssStart) / 1048576)} MB, live +${Math.round((liveMax - liveStart) / 1048576)} MB, outcomes ${JSON.stringify(outcomes)}\n`);
    // Visible in the test output when something regresses.
    if (failures.length) console.error(failures.slice(0, 20).join('\n'));
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThanOrEqual(400);
    expect(liveMax - liveStart).toBeLessThan(LIVE_GROWTH_LIMIT);
    expect(rssMax - rssStart).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(slowest.ms).toBeLessThan(CASE_LIMIT_MS / 2);
    // Mutations must reach the parsers' error paths, not only produce clean reports.
    expect(Object.keys(outcomes).length).toBeGreaterThan(4);
  }, 90_000);
});
