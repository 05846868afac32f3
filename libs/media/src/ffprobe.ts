import { execFile } from 'node:child_process';
import { LivePhotoError } from '@vid2live/errors';
import { resolveMediaBinaries } from './binaries';
import { PROBE_FORMAT_WHITELIST } from './demuxers';
import { ffmpegInput, sourceProtocolOptions } from './ffmpeg';

/** The part of ffprobe's JSON we read (ffprobe prints numbers as strings in many places). */
export interface FfprobeSideData {
  side_data_type?: string;
  rotation?: number;
  [key: string]: unknown;
}

export interface FfprobeStream {
  index: number;
  codec_name?: string;
  codec_type?: 'video' | 'audio' | 'subtitle' | 'data' | 'attachment' | string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  bits_per_raw_sample?: string;
  /** colour description as ffprobe names it (bt709, smpte170m, bt2020nc…; tv/pc; smpte2084, arib-std-b67…) */
  color_space?: string;
  color_range?: string;
  color_primaries?: string;
  color_transfer?: string;
  /** "64:27"; "N/A" or absent for square pixels */
  sample_aspect_ratio?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: FfprobeSideData[];
}

export interface FfprobeFormat {
  filename?: string;
  format_name?: string;
  duration?: string;
  size?: string;
  tags?: Record<string, string>;
}

export interface FfprobeData {
  streams: FfprobeStream[];
  format?: FfprobeFormat;
}

/** ffprobe ran to the end: `data` when it could parse the file, otherwise its complaint in `stderr`. */
export interface FfprobeResult {
  exitCode: number;
  data?: FfprobeData;
  stderr: string;
}

export interface FfprobeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * `-format_whitelist`: the demuxers allowed to open the file. Defaults to every container a source may be
   * (video, audio-only, still image; see demuxers.ts), so text, playlists and devices are refused before their
   * demuxer runs; `null` lets ffprobe pick any demuxer.
   */
  formatWhitelist?: string | null;
}

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
