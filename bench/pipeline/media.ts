import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Generated inputs, cached under bench/out (gitignored) between runs. */
export const INPUT_COUNT = 20;

function ffmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, _o, stderr) =>
      err ? reject(new Error(`ffmpeg ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/**
 * 20 camera-like clips, 1280×720 30 fps 6 s, H.264 ~8 Mb/s (2 s GOP) + AAC. The pattern and the tone vary per clip so
 * the engine's window/key-frame analysis does not see 20 identical files.
 */
export async function ensureClips(dir: string, log: (s: string) => void): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const patterns = ['testsrc2', 'testsrc', 'smptehdbars', 'rgbtestsrc', 'yuvtestsrc'];
  const files: string[] = [];
  const missing: Array<() => Promise<void>> = [];
  for (let i = 0; i < INPUT_COUNT; i++) {
    const file = path.join(dir, `clip-${String(i + 1).padStart(2, '0')}.mp4`);
    files.push(file);
    if (fs.existsSync(file)) continue;
    const pattern = patterns[i % patterns.length];
    // a moving element on every pattern (static bars would be an unrealistically easy encode)
    const video =
      `${pattern}=size=1280x720:rate=30:duration=6` +
      `,drawbox=x='mod(t*${80 + i * 13}\\,1180)':y=${40 + i * 30}:w=100:h=100:color=white@0.8:t=fill` +
      `,hue=h=${i * 17}` +
      // light temporal noise: the bitrate of a real 720p phone clip (~8 Mb/s, ~6 MB per file) instead of the
      // ~150 KB a clean test pattern compresses to, so moving the files through S3 costs what it would
      `,noise=alls=10:allf=t`;
    missing.push(async () => {
      await ffmpeg([
        '-f', 'lavfi', '-i', video,
        '-f', 'lavfi', '-i', `sine=frequency=${220 + i * 40}:sample_rate=48000:duration=6`,
        '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-b:v', '8M', '-maxrate', '10M', '-bufsize', '16M', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '128k', '-shortest', file + '.tmp.mp4',
      ]);
      fs.renameSync(file + '.tmp.mp4', file);
    });
  }
  if (missing.length) {
    log(`generating ${missing.length} input clip(s) in ${dir} …`);
    // two at a time on a 2-core machine
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < missing.length) await missing[next++]();
    }));
  }
  return files;
}

/**
 * The 10-minute 1080p source. The engine benchmark makes the same file (same recipe) as
 * bench/out/inputs/src-1080p-10min.mp4: reuse it when it is complete, otherwise make our own copy.
 */
export async function ensureLongSource(shared: string, own: string, log: (s: string) => void): Promise<string> {
  if (fs.existsSync(shared)) return shared;
  if (fs.existsSync(own)) return own;
  fs.mkdirSync(path.dirname(own), { recursive: true });
  log(`generating the 10-minute 1080p source (${own}); this takes a few minutes once …`);
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30:duration=600',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=600',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', own + '.tmp.mp4',
  ]);
  fs.renameSync(own + '.tmp.mp4', own);
  return own;
}

/**
 * A ~200 MB 10-minute 1080p source: the same testsrc2 picture with light temporal noise (so the fixed bitrate is
 * spent, not compressed away), libx264 ultrafast g=60 at 2.5 Mb/s ABR (maxrate 3 Mb/s) + AAC 128k, about
 * 600 s × 2.63 Mb/s ≈ 198 MB. Cached at `file`.
 */
export async function ensureLongSource200mb(file: string, log: (s: string) => void): Promise<string> {
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  log(`generating the ~200 MB 10-minute 1080p source (${file}); this takes a few minutes once …`);
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30:duration=600,noise=alls=8:allf=t',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=600',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-b:v', '2500k', '-maxrate', '3000k', '-bufsize', '5000k', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-shortest', file + '.tmp.mp4',
  ]);
  fs.renameSync(file + '.tmp.mp4', file);
  return file;
}
