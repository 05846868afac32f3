import { spawn } from 'node:child_process';
import ffmpegCommand, { FfmpegCommand } from 'fluent-ffmpeg';
import { LivePhotoError } from '@vid2live/errors';
import { resolveMediaBinaries } from './binaries';
import type { FfmpegJob, FfmpegRunOptions, FfmpegRunResult } from './ffmpeg-job';
import { ffmpegInput } from './source-url';

/** How many stderr lines we keep for error reports: enough for ffmpeg's reason, not the whole log. */
const STDERR_TAIL_LINES = 25;

export type { FfmpegJob, FfmpegJobInput, FfmpegJobOutput, FfmpegRunOptions, FfmpegRunResult } from './ffmpeg-job';

export { ffmpegInput, isRemoteSource, sourceProtocolOptions } from './source-url';

/** Keeps the last `max` non-empty lines of a text stream. */
export class LineTail {
  private readonly lines: string[] = [];
  private partial = '';
  constructor(private readonly max = STDERR_TAIL_LINES) {}

  push(text: string, onLine?: (line: string) => void): void {
    const parts = (this.partial + text).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line, onLine);
  }

  add(line: string, onLine?: (line: string) => void): void {
    if (!line.trim()) return;
    onLine?.(line);
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }

  get(): string[] {
    return this.partial.trim() ? [...this.lines, this.partial].slice(-this.max) : [...this.lines];
  }
}

/** `HH:MM:SS.xx` (ffmpeg's time= / fluent's timemark) → seconds; NaN when unparseable. */
export function parseTimemark(mark: string): number {
  const m = /^(-)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(mark.trim());
  if (!m) return Number.NaN;
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] ? -s : s;
}

/** Maps media time to a percent, never going backwards and never claiming 100 before the process ends. */
function progressMapper(expectedDuration: number | undefined, onProgress?: (p: number) => void) {
  let last = -1;
  return (seconds: number) => {
    if (!onProgress || !expectedDuration || !(expectedDuration > 0) || !Number.isFinite(seconds)) return;
    const p = Math.max(0, Math.min(99, Math.floor((seconds / expectedDuration) * 100)));
    if (p > last) {
      last = p;
      onProgress(p);
    }
  };
}

function failed(tool: string, subject: string | undefined, reason: string, stderrTail: string[]): LivePhotoError {
  const last = stderrTail.filter((l) => !/^\w+=/.test(l)).slice(-3).join(' | ');
  const where = subject ? ` on ${subject}` : '';
  return new LivePhotoError('FFMPEG_FAILED', `${tool} failed${where}: ${reason}${last ? ` — ${last}` : ''}`, {
    stderr: stderrTail,
    ...(subject ? { file: subject } : {}),
  });
}

/**
 * Runs ffmpeg with `args` (without the binary). Adds `-nostdin -hide_banner -nostats -progress pipe:2` so progress
 * arrives as `out_time_us=` lines on stderr while stdout stays free for raw frames.
 * Abort kills the child with SIGKILL and rejects with CANCELED once it has exited (no orphan, no zombie).
 */
export function runFfmpeg(args: string[], opts: FfmpegRunOptions = {}): Promise<FfmpegRunResult> {
  const binaries = resolveMediaBinaries();
  const ffmpeg = opts.ownRawInput ? binaries.stillEncoder : binaries.ffmpeg;
  const { signal, subject } = opts;
  if (signal?.aborted) return Promise.reject(new LivePhotoError('CANCELED'));
  const report = progressMapper(opts.expectedDuration, opts.onProgress);
  const fullArgs = ['-nostdin', '-hide_banner', '-nostats', '-progress', 'pipe:2', ...args];

  return new Promise<FfmpegRunResult>((resolve, reject) => {
    const child = spawn(ffmpeg.path, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const tail = new LineTail();
    let aborted = false;
    let callbackError: unknown;

    const onAbort = () => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      if (aborted || callbackError) return;
      if (!opts.onStdout) return;
      try {
        opts.onStdout(chunk);
      } catch (e) {
        // A consumer bug must not leave ffmpeg running: stop it and report the consumer's error.
        callbackError = e;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      tail.push(text, (line) => {
        const m = /^out_time_us=(\d+)/.exec(line);
        if (m) report(Number(m[1]) / 1e6);
      });
    });

    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(
        new LivePhotoError('FFMPEG_NOT_FOUND', `could not start ${ffmpeg.path}: ${err.message}`, undefined, { cause: err }),
      );
    });
    // 'close' fires after exit *and* after stdio drained, so all frames were delivered before we resolve.
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      const stderrTail = tail.get().filter((l) => !/^[a-z_0-9]+=/.test(l));
      if (aborted) return reject(new LivePhotoError('CANCELED', subject ? `canceled while processing ${subject}` : undefined));
      if (callbackError) return reject(callbackError);
      if (code !== 0) {
        return reject(failed('ffmpeg', subject, sig ? `killed by ${sig}` : `exit code ${code}`, stderrTail));
      }
      opts.onProgress?.(100);
      resolve({ stderrTail });
    });
  });
}

/** `time=00:00:01.50` in ffmpeg's periodic stats line (`frame= 45 fps=… time=… bitrate=…`). */
const STATS_TIME = /\btime=(\d+:\d{2}:\d{2}(?:\.\d+)?)/;

let capabilities: Promise<void> | undefined;

/**
 * fluent-ffmpeg checks the output formats and encoders of a command against `ffmpeg -formats` and `ffmpeg -encoders`
 * before it runs it, once per process (it caches both): two ffmpeg starts of ~0.12 s each with Debian's ffmpeg (215
 * shared libraries to load, CPU bound: two at once take as long as one after the other on 2 cores). The worker and the
 * CLI call this when they start, so the checks are paid once per process and not inside the first conversion;
 * runFfmpegJob waits for it, so fluent finds them cached. Never rejects: a failure (no ffmpeg) is left to fluent's own
 * check, which reports it as before.
 */
export function warmFfmpegCapabilities(): Promise<void> {
  capabilities ??= (async () => {
    try {
      resolveMediaBinaries(); // points fluent at our ffmpeg
    } catch {
      return;
    }
    const asked = (ask: (cb: (err: Error | null) => void) => void) => new Promise<void>((done) => ask(() => done()));
    await Promise.all([asked((cb) => ffmpegCommand.availableFormats(cb)), asked((cb) => ffmpegCommand.availableEncoders(cb))]);
  })();
  return capabilities;
}

/** A fluent-ffmpeg command bound to the resolved binaries. */
export function createFfmpegCommand(): FfmpegCommand {
  const { ffmpeg, ffprobe } = resolveMediaBinaries();
  return ffmpegCommand().setFfmpegPath(ffmpeg.path).setFfprobePath(ffprobe.path);
}

/**
 * Runs a fluent-ffmpeg command to completion: percent from the `time=` of ffmpeg's stats lines against
 * `expectedDuration`, abort → SIGKILL → CANCELED, failures → FFMPEG_FAILED with the stderr tail in `details.stderr`.
 * We deliberately do not listen to fluent's 'progress' event: a listener makes fluent run its own ffprobe of the
 * input (for a percent relative to the whole input, wrong for a trimmed clip anyway) — one more open and read of
 * the source per render, which for a presigned S3 URL is one more round of GETs.
 */
export function runFfmpegCommand(command: FfmpegCommand, opts: FfmpegRunOptions = {}): Promise<FfmpegRunResult> {
  const { signal, subject } = opts;
  if (signal?.aborted) return Promise.reject(new LivePhotoError('CANCELED'));
  const report = progressMapper(opts.expectedDuration, opts.onProgress);
  const tail = new LineTail();

  return new Promise<FfmpegRunResult>((resolve, reject) => {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      command.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    command
      // An abort during fluent's capability checks comes before there is a process to kill.
      .on('start', () => {
        if (aborted) command.kill('SIGKILL');
        const pid = (command as unknown as { ffmpegProc?: { pid?: number } }).ffmpegProc?.pid;
        if (pid !== undefined) opts.onSpawn?.(pid);
      })
      .on('stderr', (line: string) => {
        tail.add(line);
        const time = STATS_TIME.exec(line);
        if (time) report(parseTimemark(time[1]));
      })
      // fluent emits 'error'/'end' only after the process has exited.
      .on('error', (err: Error) => {
        signal?.removeEventListener('abort', onAbort);
        if (aborted) {
          reject(new LivePhotoError('CANCELED', subject ? `canceled while processing ${subject}` : undefined));
          return;
        }
        if (/ENOENT|Cannot find ffmpeg/i.test(err.message)) {
          reject(new LivePhotoError('FFMPEG_NOT_FOUND', err.message, undefined, { cause: err }));
          return;
        }
        reject(failed('ffmpeg', subject, err.message.split('\n')[0], tail.get()));
      })
      .on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        if (aborted) {
          reject(new LivePhotoError('CANCELED'));
          return;
        }
        opts.onProgress?.(100);
        resolve({ stderrTail: tail.get() });
      });
    command.run();
  });
}

/**
 * Runs an ffmpeg job described as data (inputs with their options, one filter graph, outputs with theirs): the
 * fluent-ffmpeg command is built here, exactly as `createFfmpegCommand().input(…).inputOptions(…)…` would, and run
 * by runFfmpegCommand. Each input is named with ffmpegInput (`file:` for local paths).
 */
export async function runFfmpegJob(job: FfmpegJob, opts: FfmpegRunOptions = {}): Promise<FfmpegRunResult> {
  // fluent checks the formats and encoders before its first run in a process: the warm-up's two ffmpeg starts
  await warmFfmpegCapabilities();
  const command = createFfmpegCommand();
  for (const input of job.inputs) {
    command.input(ffmpegInput(input.source));
    if (input.options.length > 0) command.inputOptions(...input.options);
  }
  if (job.complexFilter !== undefined) command.complexFilter(job.complexFilter);
  for (const output of job.outputs) {
    command.output(output.path);
    if (output.options.length > 0) command.outputOptions(...output.options);
  }
  return runFfmpegCommand(command, opts);
}
