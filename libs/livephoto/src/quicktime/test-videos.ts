/**
 * Test-only helpers: small real videos made by the system ffmpeg (no mocks), and frame hashes to prove
 * that rewritten files still decode to the same pictures. Not exported from index.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const FFMPEG = fs.existsSync('/usr/bin/ffmpeg') ? '/usr/bin/ffmpeg' : 'ffmpeg';

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vid2live-${prefix}-`));
}

function ffmpeg(args: string[]): void {
  execFileSync(FFMPEG, ['-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const TEST_SOURCE = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine'];

/** H.264 + AAC QuickTime as ffmpeg writes it: `ftyp qt`, `wide`, `mdat`, `moov` last; timescale 1000. */
export function makeMoovLastMov(file: string, seconds = 2): string {
  ffmpeg([...TEST_SOURCE, '-t', String(seconds), '-c:v', 'libx264', '-c:a', 'aac', '-f', 'mov', file]);
  return file;
}

/** Faststart MP4 with brand `isom`: `ftyp isom`, `moov`, `free`, `mdat`. */
export function makeFaststartMp4(file: string, seconds = 2): string {
  ffmpeg([...TEST_SOURCE, '-t', String(seconds), '-c:v', 'libx264', '-c:a', 'aac', '-movflags', '+faststart', '-brand', 'isom', '-f', 'mp4', file]);
  return file;
}

/** ffmpeg's pitfall-P3 form: the content identifier in an ISO FullBox `moov/udta/meta`. */
export function makeUdtaMetaMov(file: string, contentIdentifier: string): string {
  ffmpeg([
    ...TEST_SOURCE,
    '-t', '1',
    '-c:v', 'libx264',
    '-an',
    '-movflags', 'use_metadata_tags',
    '-metadata', `com.apple.quicktime.content.identifier=${contentIdentifier}`,
    '-metadata', 'com.example.keep-me=yes',
    '-f', 'mov',
    file,
  ]);
  return file;
}

/** Uncompressed `2vuy` video: 153 600 B/frame, i.e. ~51 MB for 11 s. Cheap to encode, big on disk. */
export function makeLargeRawMov(file: string, seconds = 11): string {
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', String(seconds), '-c:v', 'rawvideo', '-pix_fmt', 'uyvy422', '-f', 'mov', file]);
  return file;
}

/** Per-frame MD5s of one stream kind (`v` or `a`), timestamps included; comment lines dropped. */
export function frameHashes(file: string, stream: 'v' | 'a' = 'v'): string[] {
  const out = execFileSync(FFMPEG, ['-v', 'error', '-i', file, '-map', `0:${stream}`, '-f', 'framemd5', '-'], {
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** Full decode; returns ffmpeg's error output (empty when the file decodes cleanly). */
export function decodeErrors(file: string): string {
  const r = spawnSync(FFMPEG, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  return `${r.status === 0 ? '' : `exit ${r.status} `}${r.stderr ?? ''}`.trim();
}

/**
 * Presentation start of every video frame as ffmpeg's demuxer reports it (edit list applied), in the stream's
 * time base `num/den` s: an oracle independent of our own sample-table reader.
 */
export function videoFrameStarts(file: string): { pts: number[]; num: number; den: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=time_base:frame=pts', '-of', 'json', file], {
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
  const json = JSON.parse(out) as { streams: Array<{ time_base: string }>; frames: Array<{ pts?: number }> };
  const [num, den] = json.streams[0].time_base.split('/').map(Number);
  const pts = json.frames.map((f) => f.pts).filter((p): p is number => typeof p === 'number').sort((a, b) => a - b);
  return { pts, num, den };
}

/**
 * Index of the frame shown at movie time `units / timescale` s (the frame whose presentation interval contains
 * it), compared exactly in integers; -1 before the first frame.
 */
export function frameIndexAt(units: number, timescale: number, frames: { pts: number[]; num: number; den: number }): number {
  // t ≥ pts·num/den  ⇔  units·den ≥ pts·num·timescale
  let index = -1;
  for (let k = 0; k < frames.pts.length && units * frames.den >= frames.pts[k] * frames.num * timescale; k++) index = k;
  return index;
}
