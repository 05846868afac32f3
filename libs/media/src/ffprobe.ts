import { execFile } from 'node:child_process';
import { LivePhotoError } from '@vid2live/errors';
import { resolveMediaBinaries } from './binaries';
import { PROBE_FORMAT_WHITELIST } from './demuxers';
import type { FfprobeData, FfprobeOptions, FfprobeResult } from './ffprobe-data';
import { ffmpegInput, sourceProtocolOptions } from './source-url';

export type { FfprobeData, FfprobeFormat, FfprobeOptions, FfprobeResult, FfprobeSideData, FfprobeStream } from './ffprobe-data';

/**
 * `ffprobe -v error -print_format json -show_format -show_streams -format_whitelist … FILE`.
 * `-show_streams` already includes each stream's `side_data_list` (the display matrix with its `rotation`).
 * A file ffprobe cannot read resolves with a non-zero exitCode and its stderr (the caller classifies it);
 * only a timeout, abort, kill by a signal or missing binary rejects.
 */
export function runFfprobe(file: string, opts: FfprobeOptions = {}): Promise<FfprobeResult> {
  const { ffprobe } = resolveMediaBinaries();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (opts.signal?.aborted) return Promise.reject(new LivePhotoError('CANCELED'));
  const whitelist = opts.formatWhitelist === undefined ? PROBE_FORMAT_WHITELIST : opts.formatWhitelist;
  const args = [
    '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams',
    ...(whitelist ? ['-format_whitelist', whitelist] : []),
    ...sourceProtocolOptions(file),
    ffmpegInput(file),
  ];

  return new Promise((resolve, reject) => {
    execFile(
      ffprobe.path,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, signal: opts.signal, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
        if (e?.name === 'AbortError') {
          return reject(new LivePhotoError('CANCELED', `canceled while probing ${file}`));
        }
        if (e?.code === 'ENOENT') {
          return reject(new LivePhotoError('FFMPEG_NOT_FOUND', `could not start ${ffprobe.path}`, undefined, { cause: e }));
        }
        if (e?.killed) {
          return reject(
            new LivePhotoError('FFMPEG_FAILED', `ffprobe timed out after ${timeoutMs / 1000}s on ${file}`, {
              file,
              stderr: stderr.split('\n').slice(-10),
            }),
          );
        }
        const signal = (e as { signal?: NodeJS.Signals | null } | null)?.signal;
        if (signal) {
          // Killed from outside (OOM killer, an operator, a crash): says nothing about the file, so not
          // INPUT_NOT_MEDIA but a retryable FFMPEG_FAILED.
          return reject(
            new LivePhotoError('FFMPEG_FAILED', `ffprobe was killed by ${signal} while reading ${file}`, {
              file,
              signal,
              stderr: stderr.split('\n').slice(-10),
            }),
          );
        }
        const exitCode = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
        let data: FfprobeData | undefined;
        try {
          const parsed = JSON.parse(stdout) as Partial<FfprobeData>;
          data = { streams: parsed.streams ?? [], format: parsed.format };
        } catch {
          data = undefined;
        }
        resolve({ exitCode, data: exitCode === 0 ? data : undefined, stderr });
      },
    );
  });
}
