/** The shapes of an ffmpeg run, without running anything (the engine's MediaTools port is typed with them). */

export interface FfmpegRunOptions {
  signal?: AbortSignal;
  /** seconds of media the command is expected to produce; progress percent is measured against it */
  expectedDuration?: number;
  /** percent 0..100, monotonically increasing */
  onProgress?: (percent: number) => void;
  /** raw stdout (for `pipe:1` outputs); when absent stdout is discarded */
  onStdout?: (chunk: Buffer) => void;
  /** the file being processed, named in error messages */
  subject?: string;
  /** the child's pid once started (logging, and tests that check a killed process is gone) */
  onSpawn?: (pid: number) => void;
  /**
   * the command reads only raw frames this process wrote (`-f rawvideo` of a known size), never an upload: it runs
   * on the still encoder (MediaBinaries.stillEncoder, a statically linked ffmpeg where one is installed), so its
   * options must be ones ffmpeg 4.1 knows
   */
  ownRawInput?: boolean;
}

export interface FfmpegRunResult {
  stderrTail: string[];
}

/** One `-i` of an ffmpeg job: the source (a local path or the source reader's loopback URL) and its input options. */
export interface FfmpegJobInput {
  /** named on the command line with ffmpegInput (`file:` prefix for a local path) */
  source: string;
  /** options placed before this `-i` */
  options: string[];
}

export interface FfmpegJobOutput {
  path: string;
  /** options placed before this output */
  options: string[];
}

/** An ffmpeg command as data: what the render, the previews and the proxies ask libs/media to run. */
export interface FfmpegJob {
  inputs: FfmpegJobInput[];
  /** `-filter_complex` graph, when there is one */
  complexFilter?: string;
  outputs: FfmpegJobOutput[];
}
