import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { E2E_TMP } from './stack';

/**
 * Source videos made with ffmpeg's lavfi (moving test pattern + a tone), cached under .tmp/e2e/media so the test
 * files share them. Small on purpose: 640×360, a few seconds, H.264 + AAC.
 */
export function makeVideo(opts: { seconds?: number; size?: string; audio?: boolean } = {}): string {
  const { seconds = 4, size = '640x360', audio = true } = opts;
  const dir = path.join(E2E_TMP, 'media');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `testsrc-${size}-${seconds}s${audio ? '-aac' : ''}.mp4`);
  if (fs.existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.part.mp4`;
  execFileSync(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30:duration=${seconds}`,
      ...(audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`] : []),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
      ...(audio ? ['-c:a', 'aac', '-shortest'] : []),
      '-metadata', 'creation_time=2025-06-01T10:20:30.000000Z',
      tmp,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  fs.renameSync(tmp, file); // atomic: a concurrent test file never reads a half-written source
  return file;
}

/** Not a video at all: text with a .mp4 name (the engine answers INPUT_NOT_MEDIA). */
export function makeTextFile(): string {
  const file = path.join(E2E_TMP, 'media', 'notes.mp4');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'this is not a video, just some words in a file\n'.repeat(50));
  return file;
}
