import type { FfmpegJob, FfmpegRunOptions, FfmpegRunResult } from '@vid2live/media/ffmpeg-job';
import type { FfprobeOptions, FfprobeResult } from '@vid2live/media/ffprobe-data';
import type { EncodeHeicOptions } from '@vid2live/media/heif-params';
import type { FrameAnalysis, FrameAnalysisRequest, PacketIndexRequest, PacketInfo } from '@vid2live/media/measures';

/**
 * The engine's port to the media tools: everything it asks of ffprobe, ffmpeg and heif-enc, as the stages call it.
 * libs/media implements it (`createMediaTools()` of `@vid2live/media`); the caller injects it as `StageContext.media`
 * (absent: the real tools, see ./default-media-tools.ts). Tests inject recorded answers (src/recorded/), so
 * plan/pair/convert logic runs without a process.
 *
 * The stages (`stages/**`), convert.ts and preview.ts reach the tools only through this port: the dependency rule
 * `engine-uses-media-through-its-port` (.dependency-cruiser.cjs) forbids them the process-running modules of
 * libs/media; its pure modules (source-url, demuxers, measures, the *-data/-job/-params shapes) stay importable.
 */
export interface MediaTools {
  /** `ffprobe -show_format -show_streams` as JSON; a file ffprobe cannot read resolves with its exit code and stderr */
  probe(source: string, options?: FfprobeOptions): Promise<FfprobeResult>;
  /** one decode of a span into small gray frames: motion and sharpness per frame on the 30 fps grid */
  analyseFrames(source: string, request: FrameAnalysisRequest): Promise<FrameAnalysis>;
  /** the compressed video packets of a span (sizes, key flags, times), no decoding */
  readPacketIndex(source: string, request: PacketIndexRequest): Promise<PacketInfo[]>;
  /** ffmpeg with plain arguments (re-muxing, a format change of a rendered file) */
  runFfmpeg(args: string[], options?: FfmpegRunOptions): Promise<FfmpegRunResult>;
  /** ffmpeg with inputs, one filter graph and outputs: the render, the previews, the proxies */
  runFfmpegJob(job: FfmpegJob, options?: FfmpegRunOptions): Promise<FfmpegRunResult>;
  /** a PNG/JPEG into a single-image HEIC with heif-enc */
  encodeHeic(input: string, output: string, options?: EncodeHeicOptions): Promise<void>;
  /**
   * start, without waiting, what the first ffmpeg job of a process waits for (the real tools: fluent-ffmpeg's format
   * and encoder checks, two ffmpeg starts): a caller that converts calls it once when it starts
   */
  warmUp?(): void;
}

export type { EncodeHeicOptions, FfmpegJob, FfmpegRunOptions, FfmpegRunResult, FfprobeOptions, FfprobeResult };
export type { FrameAnalysis, FrameAnalysisRequest, PacketIndexRequest, PacketInfo };
