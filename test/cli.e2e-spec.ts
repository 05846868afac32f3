import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBadInput, makeSource } from '@vid2live/media/test-media';
import { extractMotionPhotoVideo, realMedia } from '@vid2live/livephoto/testing/real-media';

/** Runs the built CLI exactly as a user would (`npx vid2live …` resolves to bin/vid2live.js). */
const BIN = path.join(__dirname, '..', 'bin', 'vid2live.js');
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-cli-'));
const videos = path.join(tmp, 'videos');
const live = path.join(tmp, 'live');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  makeSource('no-audio', path.join(videos, 'trip'));
  makeSource('portrait-rotated', videos);
  makeBadInput('truncated-mp4', path.join(videos, 'broken'));
  fs.writeFileSync(path.join(videos, 'README.txt'), 'not a video');
});

describe('vid2live convert (embedded)', () => {
  let first: ReturnType<typeof cli>;
  beforeAll(() => {
    first = cli(['convert', videos, '-o', live, '--json']);
  });

  it('converts the folder recursively, keeps sub-folders, and fails the broken file alone', () => {
    expect(first.code).toBe(1); // one file failed
    const summary = JSON.parse(first.stdout);
    // portrait.mov (+ the portrait-coded.mp4 it was made from) + trip/silent.mov + broken/whole.mp4 + broken/truncated.mp4
    expect(summary.files.map((f: { source: string }) => path.relative(videos, f.source)).sort()).toEqual(
      ['broken/truncated.mp4', 'broken/whole.mp4', 'portrait-coded.mp4', 'portrait.mov', 'trip/silent.mov'],
    );
    expect(summary.total).toBe(5);
    expect(summary.converted).toBe(4);
    expect(summary.failed).toBe(1);
    expect(summary.skippedNonVideo.map((f: string) => path.basename(f))).toEqual(['README.txt']);
    const failed = summary.files.find((f: { status: string }) => f.status === 'failed');
    expect(failed.error.code).toBe('INPUT_TRUNCATED');
    expect(failed.error.message).toContain('truncated.mp4');
    for (const rel of ['portrait', 'portrait-coded', 'trip/silent', 'broken/whole']) {
      expect(fs.existsSync(path.join(live, `${rel}.JPG`))).toBe(true);
      expect(fs.existsSync(path.join(live, `${rel}.MOV`))).toBe(true);
    }
    expect(fs.existsSync(path.join(live, 'broken', 'truncated.JPG'))).toBe(false);
    // the automatic plan says why it chose what it chose
    const converted = summary.files.find((f: { status: string }) => f.status === 'converted');
    expect(converted.reasons.length).toBeGreaterThan(0);
    expect(converted.contentIdentifier).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  });

  it('is resumable: a second run keeps the valid pairs and only retries the failure', () => {
    const before = fs.statSync(path.join(live, 'portrait.MOV')).mtimeMs;
    const again = cli(['convert', videos, '-o', live, '--json']);
    const summary = JSON.parse(again.stdout);
    expect(summary.skipped).toBe(4);
    expect(summary.converted).toBe(0);
    expect(summary.failed).toBe(1);
    expect(fs.statSync(path.join(live, 'portrait.MOV')).mtimeMs).toBe(before);
  });

  it('prints plain progress lines and a summary without a TTY', () => {
    const out = path.join(tmp, 'plain');
    const r = cli(['convert', path.join(videos, 'portrait.mov'), '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ffmpeg: .*ffprobe: /);
    expect(r.stderr).toContain('portrait.mov → portrait.JPG + portrait.MOV');
    expect(r.stdout).toContain('1 file(s): 1 converted, 0 already valid, 0 failed');
  });

  it('draws progress bars on a terminal and still prints every file\'s line and the summary', () => {
    // `script` runs the CLI on a pseudo-terminal, so stderr.isTTY is true as for a person at a shell.
    const out = path.join(tmp, 'tty');
    const cmd = [process.execPath, BIN, 'convert', path.join(videos, 'trip'), path.join(videos, 'portrait.mov'), '-o', out, '--concurrency', '2']
      .map((a) => `'${a}'`)
      .join(' ');
    const res = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 300_000 });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/[█░]{8,}/); // a bar was drawn
    expect(res.stdout).toContain('silent.mov → silent.JPG + silent.MOV');
    expect(res.stdout).toContain('portrait.mov → portrait.JPG + portrait.MOV');
    expect(res.stdout).toContain('2 file(s): 2 converted, 0 already valid, 0 failed');
  });

  it('prints its version', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version);
  });

  it('rejects bad options with a clear message and exit code', () => {
    const r = cli(['convert', videos, '-o', live, '--duration', '9']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--duration must be a number of seconds between 1 and 5');
  });

  it('says clearly when no ffmpeg can be found', () => {
    const r = cli(['convert', path.join(videos, 'portrait.mov'), '-o', path.join(tmp, 'noff')], {
      FFMPEG_PATH: '/nonexistent/ffmpeg',
      FFPROBE_PATH: '/nonexistent/ffprobe',
      PATH: '/nonexistent',
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('FFMPEG_NOT_FOUND');
  });
});

describe('vid2live inspect', () => {
  it('exit 0 and a VALID report for a converted pair; JSON on request', () => {
    const r = cli(['inspect', path.join(live, 'portrait.JPG'), path.join(live, 'portrait.MOV')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^VALID Apple Live Photo pair/);
    const j = cli(['inspect', path.join(live, 'portrait.JPG'), path.join(live, 'portrait.MOV'), '--json']);
    const report = JSON.parse(j.stdout);
    expect(report.valid).toBe(true);
    expect(report.contentIdentifier).toMatch(/^[0-9A-F-]{36}$/);
  });

  it('exit 1 for halves of two different pairs', () => {
    const r = cli(['inspect', path.join(live, 'portrait.JPG'), path.join(live, 'trip', 'silent.MOV')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('CONTENT_ID_MISMATCH');
  });
});

describe('vid2live convert: resume checks what a pair was made from, not just its name', () => {
  const srcDir = path.join(tmp, 'resume-src');
  const out = path.join(tmp, 'resume-out');
  const clip = path.join(srcDir, 'clip.mov');
  type Outcome = { status: string; contentIdentifier: string; redone?: string; error?: { code: string } };
  const run = (...extra: string[]) => {
    const r = cli(['convert', clip, '-o', out, '--json', ...extra]);
    const summary = JSON.parse(r.stdout) as { files: Outcome[] };
    return { code: r.code, file: summary.files[0], stderr: r.stderr };
  };
  let first: Outcome;

  beforeAll(() => {
    fs.mkdirSync(srcDir, { recursive: true });
    fs.copyFileSync(makeSource('no-audio', path.join(tmp, 'resume-a')), clip);
    first = run().file;
  });

  it('same source, same options → the second run keeps the pair untouched', () => {
    expect(first.status).toBe('converted');
    expect(first.redone).toBeUndefined();
    const before = fs.statSync(path.join(out, 'clip.MOV')).mtimeMs;
    const again = run();
    expect(again.code).toBe(0);
    expect(again.file).toMatchObject({ status: 'skipped', contentIdentifier: first.contentIdentifier });
    expect(fs.statSync(path.join(out, 'clip.MOV')).mtimeMs).toBe(before);
  });

  it('a different video saved under the converted name → converted again, with a new identifier', () => {
    // another clip (rotated, with audio) copied over clip.mov: same name, other bytes
    fs.copyFileSync(makeSource('portrait-rotated', path.join(tmp, 'resume-b')), clip);
    const r = run();
    expect(r.code).toBe(0);
    expect(r.file.status).toBe('converted');
    expect(r.file.redone).toMatch(/different source file or with different options/);
    expect(r.file.contentIdentifier).not.toBe(first.contentIdentifier);
    const inspect = cli(['inspect', path.join(out, 'clip.JPG'), path.join(out, 'clip.MOV'), '--json']);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ valid: true, contentIdentifier: r.file.contentIdentifier });
  });

  it('same source with other options (--duration) → converted again; repeated with them → kept', () => {
    const before = run();
    expect(before.file.status).toBe('skipped');
    const shorter = run('--duration', '2');
    expect(shorter.file.status).toBe('converted');
    expect(shorter.file.redone).toMatch(/different source file or with different options/);
    expect(run('--duration', '2').file.status).toBe('skipped');
  });

  it('says why in the plain output line', () => {
    const r = cli(['convert', clip, '-o', out]); // back to the default duration: redone
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/clip\.mov → clip\.JPG \+ clip\.MOV .*\[redone: the pair in the output folder was made from a different source/);
  });
});

describe('vid2live convert: only real media containers', () => {
  const dir = path.join(tmp, 'inputs');
  const out = path.join(tmp, 'inputs-out');
  type Outcome = { source: string; status: string; error?: { code: string; message: string } };
  let files: Record<string, Outcome>;

  beforeAll(() => {
    fs.mkdirSync(dir, { recursive: true });
    // ffmpeg's tty demuxer would "play" this as a picture of its text
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'these are not the frames you are looking for\n'.repeat(200));
    const real = realMedia('pixel-motion-photo-shortened.jpg');
    extractMotionPhotoVideo(real, path.join(dir, 'pixel-embedded.mp4'));
    const args = [
      path.join(dir, 'notes.txt'),
      path.join(dir, 'pixel-embedded.mp4'),
      real,
      realMedia('bear-vp9-odd-dimensions.webm'),
      realMedia('sowt-with-video.mov'),
    ];
    const r = cli(['convert', ...args, '-o', out, '--json']);
    expect(r.code).toBe(1);
    files = Object.fromEntries((JSON.parse(r.stdout).files as Outcome[]).map((f) => [path.basename(f.source), f]));
  });

  it('a text file named on the command line → INPUT_NOT_MEDIA naming the format, nothing written', () => {
    expect(files['notes.txt']).toMatchObject({ status: 'failed', error: { code: 'INPUT_NOT_MEDIA' } });
    expect(files['notes.txt'].error!.message).toContain('notes.txt');
    expect(files['notes.txt'].error!.message).toContain("'tty'");
    expect(fs.existsSync(path.join(out, 'notes.JPG'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'notes.MOV'))).toBe(false);
  });

  it('the cut-short video of a real Pixel Motion Photo → INPUT_TRUNCATED (not FFMPEG_FAILED); the Motion Photo JPEG itself → INPUT_TRUNCATED too', () => {
    expect(files['pixel-embedded.mp4']).toMatchObject({ status: 'failed', error: { code: 'INPUT_TRUNCATED' } });
    expect(files['pixel-embedded.mp4'].error!.message).toContain('pixel-embedded.mp4');
    expect(files['pixel-motion-photo-shortened.jpg']).toMatchObject({ status: 'failed', error: { code: 'INPUT_TRUNCATED' } });
    expect(files['pixel-motion-photo-shortened.jpg'].error!.message).toContain('pixel-motion-photo-shortened.jpg');
  });

  it('real WebM and QuickTime clips are still converted', () => {
    expect(files['bear-vp9-odd-dimensions.webm'].status).toBe('converted');
    expect(files['sowt-with-video.mov'].status).toBe('converted');
  });
});
