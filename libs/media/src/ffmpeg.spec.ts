import * as fs from 'node:fs';
import * as path from 'node:path';
import { resetMediaBinaries } from './binaries';
import { createFfmpegCommand, ffmpegInput, LineTail, parseTimemark, runFfmpeg, runFfmpegCommand, sourceProtocolOptions } from './ffmpeg';
import { makeTempDir, removeDir } from './test-media';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ffmpeg runner', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('parses timemarks and keeps a bounded stderr tail', () => {
    expect(parseTimemark('00:01:02.50')).toBeCloseTo(62.5);
    expect(parseTimemark('N/A')).toBeNaN();
    const tail = new LineTail(2);
    tail.push('a\nb\r\nc\npart');
    expect(tail.get()).toEqual(['c', 'part']);
  });

  it('names local files with file:, passes only the source reader\'s loopback URL, never an external URL', () => {
    expect(ffmpegInput('-odd name.mp4')).toBe('file:-odd name.mp4');
    expect(ffmpegInput('http://127.0.0.1:4123/abc/x.mp4')).toBe('http://127.0.0.1:4123/abc/x.mp4');
    // An external URL is a (non-existent) file name to ffmpeg: it is never fetched.
    expect(ffmpegInput('https://bucket.s3/x.mp4?sig=1')).toBe('file:https://bucket.s3/x.mp4?sig=1');
    expect(ffmpegInput('http://169.254.169.254/latest')).toBe('file:http://169.254.169.254/latest');
    expect(sourceProtocolOptions('/tmp/a.mp4')).toEqual(['-protocol_whitelist', 'file']);
    expect(sourceProtocolOptions('http://127.0.0.1:4123/abc/x.mp4').slice(0, 2)).toEqual(['-protocol_whitelist', 'http,tcp']);
  });

  it('runs ffmpeg, reports increasing progress up to 100 and streams stdout', async () => {
    const percents: number[] = [];
    let bytes = 0;
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=30:duration=2', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], {
      expectedDuration: 2,
      onProgress: (p) => percents.push(p),
      onStdout: (c) => (bytes += c.length),
    });
    expect(bytes).toBe(64 * 48 * 60);
    expect(percents[percents.length - 1]).toBe(100);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
  });

  it('fails with FFMPEG_FAILED, naming the file and carrying the stderr tail', async () => {
    const missing = path.join(dir, 'nope.mp4');
    await expect(runFfmpeg(['-i', ffmpegInput(missing), '-f', 'null', '-'], { subject: missing })).rejects.toMatchObject({
      code: 'FFMPEG_FAILED',
      message: expect.stringContaining(missing),
      details: { stderr: expect.arrayContaining([expect.stringContaining('No such file')]) },
    });
  });

  it('abort kills the child (SIGKILL) and rejects with CANCELED; the process is gone', async () => {
    const ac = new AbortController();
    let pid = 0;
    const run = runFfmpeg(['-re', '-f', 'lavfi', '-i', 'testsrc=rate=30', '-f', 'null', '-'], {
      signal: ac.signal,
      onSpawn: (p) => (pid = p),
    });
    setTimeout(() => ac.abort(), 300);
    await expect(run).rejects.toMatchObject({ code: 'CANCELED' });
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  it('warms fluent-ffmpeg\'s format and encoder checks once, both at once, before its first run', async () => {
    // an ffmpeg that writes down when each run starts and ends
    const log = path.join(dir, 'runs.log');
    const wrapper = path.join(dir, 'ffmpeg-logging');
    fs.writeFileSync(
      wrapper,
      `#!/bin/bash\necho "start $1 $(date +%s%N)" >> ${log}\n/usr/bin/env -u FFMPEG_PATH ffmpeg "$@"\nrc=$?\necho "end $1 $(date +%s%N)" >> ${log}\nexit $rc\n`,
      { mode: 0o755 },
    );
    const tiny = path.join(dir, 'tiny.mkv');
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=32x24:rate=10:duration=0.5', '-y', tiny]);
    const before = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = wrapper;
    try {
      await jest.isolateModulesAsync(async () => {
        const fresh = await import('./ffmpeg');
        await Promise.all([fresh.warmFfmpegCapabilities(), fresh.warmFfmpegCapabilities()]);
        await fresh.runFfmpegJob({
          inputs: [{ source: tiny, options: [] }],
          outputs: [{ path: path.join(dir, 'warm.mov'), options: ['-f', 'mov'] }],
        });
      });
    } finally {
      if (before === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = before;
    }
    const events = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
    const at = (kind: string, arg: string) => events.filter(([k, a]) => k === kind && a === arg).map(([, , t]) => BigInt(t));
    expect(at('start', '-formats')).toHaveLength(1);
    expect(at('start', '-encoders')).toHaveLength(1);
    // both had started before either ended, and the run came after both
    const lastStart = [...at('start', '-formats'), ...at('start', '-encoders')].reduce((a, b) => (a > b ? a : b));
    const firstEnd = [...at('end', '-formats'), ...at('end', '-encoders')].reduce((a, b) => (a < b ? a : b));
    expect(lastStart < firstEnd).toBe(true);
    expect(events.slice(-2).map(([k, a]) => `${k} ${a}`)).toEqual(['start -i', 'end -i']);
    expect(events).toHaveLength(6);
  });

  it('runs a command on its own raw frames (ownRawInput) on the still encoder, every other on the ffmpeg', async () => {
    const log = path.join(dir, 'still-encoder.log');
    const wrapper = path.join(dir, 'still-encoder.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec ffmpeg "$@"\n`, { mode: 0o755 });
    const before = process.env.STILL_ENCODER_FFMPEG_PATH;
    process.env.STILL_ENCODER_FFMPEG_PATH = wrapper;
    resetMediaBinaries();
    try {
      const raw = path.join(dir, 'frame.yuv');
      fs.writeFileSync(raw, Buffer.alloc(16 * 16 * 1.5, 128));
      const args = (out: string) => ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', '16x16', '-i', raw, '-frames:v', '1', '-y', path.join(dir, out)];
      await runFfmpeg(args('own.jpg'), { ownRawInput: true });
      await runFfmpeg(args('other.jpg'));
      expect(fs.statSync(path.join(dir, 'own.jpg')).size).toBeGreaterThan(0);
      expect(fs.statSync(path.join(dir, 'other.jpg')).size).toBeGreaterThan(0);
      const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('own.jpg');
    } finally {
      if (before === undefined) delete process.env.STILL_ENCODER_FFMPEG_PATH;
      else process.env.STILL_ENCODER_FFMPEG_PATH = before;
      resetMediaBinaries();
    }
  });

  it('runs a fluent-ffmpeg command with progress against the expected duration, and aborts it', async () => {
    const out = path.join(dir, 'fluent.mov');
    const percents: number[] = [];
    const cmd = createFfmpegCommand()
      .input('testsrc=size=320x240:rate=30:duration=1')
      .inputOptions('-f', 'lavfi')
      .output(out)
      .outputOptions('-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mov');
    // A tripwire ffprobe: fluent-ffmpeg probes the input on its own when someone listens to its 'progress' event,
    // i.e. one more read of the source per render. Ours must never run.
    const tripwire = path.join(dir, 'ffprobe-ran');
    const fakeProbe = path.join(dir, 'fake-ffprobe.sh');
    fs.writeFileSync(fakeProbe, `#!/bin/sh\ntouch '${tripwire}'\nexit 1\n`, { mode: 0o755 });
    cmd.setFfprobePath(fakeProbe);
    await runFfmpegCommand(cmd, { expectedDuration: 1, onProgress: (p) => percents.push(p) });
    expect(fs.statSync(out).size).toBeGreaterThan(0);
    expect(percents[percents.length - 1]).toBe(100);
    expect(percents.some((p) => p > 0 && p < 100)).toBe(true);
    expect(fs.existsSync(tripwire)).toBe(false);

    const ac = new AbortController();
    let pid = 0;
    const slow = createFfmpegCommand()
      .input('testsrc=rate=30')
      .inputOptions('-re', '-f', 'lavfi')
      .output(path.join(dir, 'never.mov'))
      .outputOptions('-f', 'mov');
    const run = runFfmpegCommand(slow, { signal: ac.signal, onSpawn: (p) => (pid = p) });
    setTimeout(() => ac.abort(), 500);
    await expect(run).rejects.toMatchObject({ code: 'CANCELED' });
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  it('reports a failing fluent command as FFMPEG_FAILED with stderr details', async () => {
    const cmd = createFfmpegCommand()
      .input(ffmpegInput(path.join(dir, 'absent.mp4')))
      .output(path.join(dir, 'x.mov'))
      .outputOptions('-f', 'mov');
    await expect(runFfmpegCommand(cmd, { subject: 'absent.mp4' })).rejects.toMatchObject({
      code: 'FFMPEG_FAILED',
      message: expect.stringContaining('absent.mp4'),
      details: { stderr: expect.any(Array) },
    });
  });
});
