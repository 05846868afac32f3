import type { SourceColor } from './stages/color';
import type { MediaTools } from './ports/media-tools';

/** Shared stage contracts of the engine. Every stage is a typed function that reports progress. */

export type StageName = 'probe' | 'plan' | 'render' | 'pair' | 'motion-photo' | 'upload' | 'download';

/** Progress of one stage, percent in 0..100. */
export interface StageProgress {
  stage: StageName;
  percent: number;
}

export type ProgressReporter = (p: StageProgress) => void;

export interface StageContext {
  signal?: AbortSignal;
  onProgress?: ProgressReporter;
  /** ffprobe/ffmpeg/heif-enc as the engine reaches them (ports/media-tools.ts); libs/media's real tools when absent */
  media?: MediaTools;
}

export interface GpsPosition {
  latitude: number;
  longitude: number;
  altitude?: number;
}

export interface SourceInfo {
  path: string;
  sizeBytes: number;
  formatName: string;
  /** seconds */
  duration: number;
  /** coded size of the video stream */
  width: number;
  height: number;
  /** clockwise display rotation in degrees (0, 90, 180, 270) from the display matrix / rotate tag */
  rotation: 0 | 90 | 180 | 270;
  /** true when the display matrix also mirrors the picture */
  mirrored: boolean;
  /** ffmpeg filters (transpose/hflip/vflip) turning the coded frame upright (autorotate is off in the render) */
  orientationFilters: string[];
  /** pixel aspect ratio (1 = square pixels; 64:27 anamorphic = 2.37) */
  sampleAspectRatio: number;
  /** upright size a viewer shows: the sample aspect ratio applied, then the rotation */
  displayWidth: number;
  displayHeight: number;
  /** ffprobe index of the video stream used (the main one when the file has several) */
  videoStreamIndex: number;
  /** what the pixels mean (matrix, range, primaries, transfer, HDR) */
  color: SourceColor;
  /** average frame rate in frames/second */
  fps: number;
  /** true when r_frame_rate and avg_frame_rate disagree notably (variable frame rate) */
  variableFrameRate: boolean;
  frameCount?: number;
  videoCodec: string;
  pixelFormat: string;
  bitDepth: number;
  hasAudio: boolean;
  audioCodec?: string;
  /** capture time: ISO 8601 string as found in the source (keeps the offset when the source has one) */
  captureTime?: string;
  gps?: GpsPosition;
  make?: string;
  model?: string;
}

export interface PlanOptions {
  /** seconds into the source where the clip starts; automatic when undefined */
  start?: number;
  /** clip length in seconds, 1..5, default 3 */
  duration?: number;
  /** key-frame (still) time in seconds into the SOURCE, or 'auto' (sharpest frame near the clip middle) */
  keyFrame?: number | 'auto';
}

export interface PlanWarning {
  code:
    | 'SOURCE_TOO_LONG'
    | 'SOURCE_SHORTER_THAN_CLIP'
    | 'CLIP_SHAKY'
    | 'MOTION_TOO_FAST'
    | 'KEY_FRAME_BLURRED'
    | 'SCENE_CUT_IN_CLIP'
    | 'KEY_FRAME_CLAMPED'
    /** the source is shorter than the shortest Live Photo: its last frame is held */
    | 'SOURCE_EXTENDED'
    /** an HDR (PQ/HLG/Dolby Vision) source was tone mapped to SDR */
    | 'HDR_TONE_MAPPED'
    /** the capture time is written in UTC: the source has no zone and no GPS position to derive one */
    | 'CAPTURE_TIME_UTC'
    /** a Live Photo pair turned into a Motion Photo had no still-image time: no key frame is marked */
    | 'STILL_TIME_UNKNOWN';
  message: string;
}

export interface ClipPlan {
  /** seconds into the source */
  start: number;
  /** seconds of the output clip (MIN_CLIP_SECONDS..MAX_CLIP_SECONDS) */
  duration: number;
  /** seconds read from the source from `start`; shorter than `duration` when the last frame is held */
  sourceDuration: number;
  /** key-frame time relative to the clip start, snapped to the 30 fps output grid */
  stillOffset: number;
  /** index of the still frame in the 30 fps output */
  stillFrameIndex: number;
  /** how the window / frame were chosen, in words */
  reasons: string[];
  warnings: PlanWarning[];
}

export type StillFormat = 'jpeg' | 'heic';
export type VideoCodec = 'h264' | 'hevc';

/**
 * `standard`: an ordinary Live Photo. `wallpaper`: the lock-screen Live Wallpaper profile of docs/wallpaper.md —
 * portrait 1080×1920, 60 fps H.264, 1 s, still at 0.5 s, HEIC still, live-photo-info track. It copies the structure
 * of generated files reported to work as wallpapers; it is not verified on a device.
 */
export type ConvertProfile = 'standard' | 'wallpaper';

/** A rectangle of the upright source picture (display pixels, origin top left). */
export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ConvertOptions extends PlanOptions {
  still?: StillFormat;
  codec?: VideoCodec;
  motionPhoto?: boolean;
  /** default `standard` */
  profile?: ConvertProfile;
  /**
   * wallpaper only: the part of the upright source to frame (9:16, ±1 %); centred on the picture when absent
   */
  crop?: CropRect;
}

/** The wallpaper profile's fixed parameters (docs/wallpaper.md says where each comes from). */
export const WALLPAPER_PROFILE = {
  width: 1080,
  height: 1920,
  fps: 60,
  /** default clip length in seconds (the template's 60 live-photo-info samples; TouSC 0.92 s, ChasonJiang ≥ 1.05 s) */
  duration: 1,
  /** still time in seconds into the clip (TouSC, ChasonJiang, TouSC issue #2) */
  stillOffset: 0.5,
  codec: 'h264' as VideoCodec,
  still: 'heic' as StillFormat,
} as const;

export interface LivePhotoResult {
  contentIdentifier: string;
  stillPath: string;
  moviePath: string;
  motionPhotoPath?: string;
  /** seconds from the start of the MOV at which the still was taken */
  stillTime: number;
  clip: { start: number; duration: number };
  width: number;
  height: number;
  warnings: PlanWarning[];
  reasons: string[];
  /** `wallpaper` when the wallpaper profile made the pair */
  profile?: ConvertProfile;
  /** the wallpaper's 9:16 crop of the upright source (given, around the motion, or centred) */
  crop?: CropRect;
}

/** The engine's output video frame rate. */
export const OUTPUT_FPS = 30;
/** QuickTime movie timescale Apple uses. */
export const MOVIE_TIMESCALE = 600;
export const DEFAULT_CLIP_SECONDS = 3;
export const MIN_CLIP_SECONDS = 1;
export const MAX_CLIP_SECONDS = 5;
export const MAX_LONG_SIDE = 1920;

/** What convertToLivePhoto converts (convert.ts); here so the engine's modules share it without a cycle. */
export interface ConvertRequest {
  /**
   * a local path, or the source reader's loopback URL (`http://127.0.0.1:<port>/…`, libs/sources): ffmpeg never
   * opens an external URL; anything else is read as a file name
   */
  source: string;
  outputDir: string;
  /** output file name without extension: NAME.JPG|HEIC + NAME.MOV (+ NAME.MP.jpg) */
  baseName: string;
  options?: ConvertOptions;
  /** reuse a given identifier (a retried job keeps its id); a fresh upper-case UUID otherwise */
  contentIdentifier?: string;
  /**
   * `conversionFingerprint(source, options)`, recorded in the MOV so a later run can tell whether the pair
   * still matches its source and options (the CLI's resume check); not recorded when absent
   */
  fingerprint?: string;
  /** where intermediates go; a private temp folder by default */
  workDir?: string;
}
