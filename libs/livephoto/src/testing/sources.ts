import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Synthetic sources made with ffmpeg's lavfi in the tests themselves (no binary fixtures in the repo).
 * Each has a capture time and a GPS position so the pair stage has metadata to carry.
 */
export type SourceKind =
  | 'landscape-1080p-audio'
  | 'portrait-rotated'
  | 'vfr'
  | 'no-audio'
  | '4k'
  | 'one-second'
  | '10-bit'
  | 'long-1080p';

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const META = [
  '-metadata', 'creation_time=2025-06-01T10:20:30.000000Z',
  '-metadata', 'location=+48.8584+002.2945+035.000/',
];

/** A moving, textured picture (so motion/sharpness analysis has something to measure) plus a tone. */
function lavfiVideo(size: string, seconds: number, rate = 30): string[] {
  return ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`];
}
const tone = (seconds: number) => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`];
const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

export function makeSource(kind: SourceKind, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const out = (name: string) => path.join(dir, name);
  switch (kind) {
    case 'landscape-1080p-audio': {
      const f = out('landscape.mp4');
      ffmpeg([...lavfiVideo('1920x1080', 4), ...tone(4), ...h264, '-c:a', 'aac', '-shortest', ...META, f]);
      return f;
    }
    case 'portrait-rotated': {
      // A landscape-coded stream with rotation metadata, stream-copied: what phones record.
      const coded = out('portrait-coded.mp4');
      ffmpeg([...lavfiVideo('640x360', 4), ...tone(4), ...h264, '-c:a', 'aac', '-shortest', coded]);
      const f = out('portrait.mov');
      ffmpeg(['-i', coded, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', ...META, f]);
      return f;
    }
    case 'vfr': {
      // Frame durations alternate between 1/30 s and 1/15 s-ish: a variable frame rate stream.
      const f = out('vfr.mkv');
      ffmpeg([
        ...lavfiVideo('640x360', 4),
        '-vf', "setpts='(N+floor(N/3))/(30*TB)'",
        '-fps_mode', 'vfr', ...h264, f,
      ]);
      return f;
    }
    case 'no-audio': {
      const f = out('silent.mov');
      ffmpeg([...lavfiVideo('640x360', 4), ...h264, ...META, f]);
      return f;
    }
    case '4k': {
      const f = out('uhd.mp4');
      ffmpeg([...lavfiVideo('3840x2160', 2), ...tone(2), ...h264, '-c:a', 'aac', '-shortest', f]);
      return f;
    }
    case 'one-second': {
      const f = out('short.mp4');
      ffmpeg([...lavfiVideo('640x360', 1), ...tone(1), ...h264, '-c:a', 'aac', '-shortest', f]);
      return f;
    }
    case '10-bit': {
      const f = out('tenbit.mp4');
      ffmpeg([...lavfiVideo('640x360', 3), '-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-x265-params', 'log-level=error', '-tag:v', 'hvc1', f]);
      return f;
    }
    case 'long-1080p': {
      const f = out('long.mp4');
      ffmpeg([...lavfiVideo('1920x1080', 600, 30), ...h264, '-g', '60', f]);
      return f;
    }
  }
}

export type BadInputKind = 'empty' | 'text' | 'jpeg' | 'audio-only' | 'truncated-mp4' | 'zero-length-video';

export function makeBadInput(kind: BadInputKind, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const out = (name: string) => path.join(dir, name);
  switch (kind) {
    case 'empty': {
      const f = out('empty.mp4');
      fs.writeFileSync(f, '');
      return f;
    }
    case 'text': {
      const f = out('notes.mp4');
      fs.writeFileSync(f, 'this is not a video, just some words in a file\n'.repeat(50));
      return f;
    }
    case 'jpeg': {
      const f = out('photo.jpg');
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1', f]);
      return f;
    }
    case 'audio-only': {
      const f = out('voice.m4a');
      ffmpeg([...tone(2), '-c:a', 'aac', f]);
      return f;
    }
    case 'truncated-mp4': {
      const whole = out('whole.mp4');
      ffmpeg([...lavfiVideo('640x360', 3), ...h264, whole]);
      const bytes = fs.readFileSync(whole);
      const f = out('truncated.mp4');
      fs.writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      return f;
    }
    case 'zero-length-video': {
      const f = out('zero.mp4');
      ffmpeg([...lavfiVideo('640x360', 1), '-frames:v', '0', ...h264, f]);
      return f;
    }
  }
}
