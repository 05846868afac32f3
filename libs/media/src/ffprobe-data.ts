/** The shapes of an ffprobe run and of the JSON it prints (pure: runFfprobe in ffprobe.ts runs it). */

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
