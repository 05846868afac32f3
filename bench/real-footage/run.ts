/**
 * Real-footage benchmark: prints figures, asserts nothing (see BENCHMARKS.md).
 *
 * 1. Cost of HDR tone mapping vs the SDR path: one real picture (the genuine iPhone clip's first frame) made into
 *    three 1080p 3 s HEVC Main 10 sources that differ only in their transfer — SDR BT.709, HDR10/PQ and HLG
 *    (graded with reference white at 203 cd/m²) — converted with a fixed start and key frame (no analysis), runs
 *    interleaved, median of R. Ratios are against the SDR source in the same run.
 * 2. Picture figures on the same sources: mean chroma of the still / of the SDR truth, and mean |ΔY′|, for the
 *    tone-mapped output and for the old behaviour (the HDR code values relabelled BT.709).
 * 3. Every real-media fixture: outcome, wall time, output bitrate and still sizes (JPEG and HEIC).
 * Usage: npm run build && node dist/bench/real-footage/run.js [--runs 3]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { convertToLivePhoto, isLivePhotoError } from '@vid2live/livephoto';
import { IPHONE_MOV, REAL_MEDIA_DIR } from '@vid2live/livephoto/testing/fixtures';
import { decodeRgb, meanChroma, meanLumaError } from '@vid2live/livephoto/testing/picture';

const args = process.argv.slice(2);
const RUNS = args.includes('--runs') ? Math.max(1, Number(args[args.indexOf('--runs') + 1]) || 3) : 3;
const ROOT = path.resolve(__dirname, '..', '..', '..');
const WORK = path.join(ROOT, 'bench', 'out', 'real-footage');

function ffmpeg(a: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...a], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function ffprobe(file: string): { streams: Array<Record<string, string>>; format: Record<string, string> } {
  return JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { encoding: 'utf8' }),
  );
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

interface Graded {
  name: string;
  file: string;
}

function makeSources(): { sdrPicture: string; sources: Graded[] } {
  fs.mkdirSync(WORK, { recursive: true });
  const sdrPicture = path.join(WORK, 'sdr.png');
  if (!fs.existsSync(sdrPicture)) ffmpeg(['-i', IPHONE_MOV, '-frames:v', '1', '-vf', 'scale=1920:1080', sdrPicture]);
  const x265 = (trc: string, prim: string, matrix: string) => [
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `log-level=error:colorprim=${prim}:transfer=${trc}:colormatrix=${matrix}:range=limited`,
    '-color_primaries', prim, '-color_trc', trc, '-colorspace', matrix, '-color_range', 'tv', '-pix_fmt', 'yuv420p10le',
  ];
  const variants: [string, string, string[]][] = [
    ['SDR BT.709 10-bit', 'format=yuv420p10le', x265('bt709', 'bt709', 'bt709')],
    [
      'HDR10 (PQ)',
      'format=gbrpf32le,zscale=tin=709:pin=709:t=linear:p=709:npl=203,zscale=p=2020:t=smpte2084:m=2020_ncl:r=limited:npl=203,format=yuv420p10le',
      x265('smpte2084', 'bt2020', 'bt2020nc'),
    ],
    [
      'HLG',
      'format=gbrpf32le,zscale=tin=709:pin=709:t=smpte2084:p=709:npl=203,zscale=p=2020:t=arib-std-b67:m=2020_ncl:r=limited:npl=1000,format=yuv420p10le',
      x265('arib-std-b67', 'bt2020', 'bt2020nc'),
    ],
  ];
  const sources = variants.map(([name, vf, enc], i) => {
    const file = path.join(WORK, `graded-${i}.mov`);
    if (!fs.existsSync(file)) ffmpeg(['-loop', '1', '-i', sdrPicture, '-t', '3', '-r', '30', '-vf', vf, ...enc, file]);
    return { name, file };
  });
  return { sdrPicture, sources };
}

async function convertTimed(source: string, outDir: string, baseName: string, options = {}): Promise<{ ms: number; still: string; movie: string }> {
  const t0 = performance.now();
  const r = await convertToLivePhoto({ source, outputDir: outDir, baseName, options });
  return { ms: performance.now() - t0, still: r.stillPath, movie: r.moviePath };
}

async function toneMappingCost(): Promise<string[]> {
  const { sdrPicture, sources } = makeSources();
  const out = path.join(WORK, 'out');
  const times = new Map<string, number[]>(sources.map((s) => [s.name, []]));
  const stills = new Map<string, string>();
  for (let run = 0; run < RUNS; run++) {
    for (const s of sources) {
      const r = await convertTimed(s.file, out, s.name.replace(/\W+/g, '_'), { start: 0, keyFrame: 1.5, duration: 3 });
      times.get(s.name)!.push(r.ms);
      stills.set(s.name, r.still);
    }
  }
  const base = median(times.get(sources[0].name)!);
  const truth = decodeRgb(sdrPicture, 480, 270);
  const lines = [
    `tone mapping vs SDR path (1080p 3 s HEVC Main 10, fixed start/key frame, median of ${RUNS}, interleaved):`,
    'source             | convert ms | ×SDR | still chroma/truth | mean |ΔY′| | relabelled chroma/truth | relabelled |ΔY′|',
  ];
  for (const s of sources) {
    const t = median(times.get(s.name)!);
    const still = decodeRgb(stills.get(s.name)!, 480, 270);
    const relabelled = decodeRgb(s.file, 480, 270, { filters: 'scale=in_color_matrix=bt709:in_range=tv' });
    lines.push(
      `${s.name.padEnd(18)} | ${t.toFixed(0).padStart(10)} | ${(t / base).toFixed(2)} | ${(meanChroma(still) / meanChroma(truth))
        .toFixed(2)
        .padStart(18)} | ${meanLumaError(still, truth).toFixed(1).padStart(10)} | ${(meanChroma(relabelled) / meanChroma(truth))
        .toFixed(2)
        .padStart(23)} | ${meanLumaError(relabelled, truth).toFixed(1).padStart(16)}`,
    );
  }
  return lines;
}

async function fixtures(): Promise<string[]> {
  const out = path.join(WORK, 'fixtures');
  fs.rmSync(out, { recursive: true, force: true });
  const files = [
    ...fs.readdirSync(REAL_MEDIA_DIR).filter((f) => !/^(LICENSE|NOTICE)/.test(f)).map((f) => path.join(REAL_MEDIA_DIR, f)),
    IPHONE_MOV,
  ];
  const lines = [
    'real-media fixtures (automatic mode, H.264; JPEG and HEIC stills of the same frame):',
    'file                                  | outcome          | wall ms | MOV video Mb/s | JPEG KB | HEIC KB | HEIC/JPEG',
  ];
  for (const file of files) {
    const name = path.basename(file);
    const base = path.parse(name).name;
    try {
      const t0 = performance.now();
      const r = await convertToLivePhoto({ source: file, outputDir: out, baseName: base });
      const ms = performance.now() - t0;
      const heic = await convertToLivePhoto({ source: file, outputDir: out, baseName: `${base}-heic`, options: { still: 'heic' } });
      const video = ffprobe(r.moviePath).streams.find((s) => s.codec_type === 'video')!;
      const mbps = Number(video.bit_rate) / 1e6;
      const jpegKB = fs.statSync(r.stillPath).size / 1024;
      const heicKB = fs.statSync(heic.stillPath).size / 1024;
      lines.push(
        `${name.padEnd(37)} | ${'pair'.padEnd(16)} | ${ms.toFixed(0).padStart(7)} | ${mbps.toFixed(1).padStart(14)} | ${jpegKB
          .toFixed(0)
          .padStart(7)} | ${heicKB.toFixed(0).padStart(7)} | ${(heicKB / jpegKB).toFixed(2).padStart(9)}`,
      );
    } catch (e) {
      if (!isLivePhotoError(e)) throw e;
      lines.push(`${name.padEnd(37)} | ${e.code.padEnd(16)} |`);
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const lines = [...(await toneMappingCost()), '', ...(await fixtures())];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
