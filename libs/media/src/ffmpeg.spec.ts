import * as fs from 'node:fs';
import * as path from 'node:path';
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
