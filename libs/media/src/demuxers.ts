import { sourceProtocolOptions } from './source-url';

/**
 * Which ffmpeg demuxers may open a source. ffmpeg probes whatever it is given and happily "plays" text (`tty`
 * renders a .txt file as a picture of its characters), subtitles, playlists (`hls`, `dash`, `concat` open further
 * files or URLs — on a worker reading presigned URLs that is a request to anywhere) or devices. A source is a
 * camera/phone/export video, so only real audio/video containers are let through; every ffprobe and ffmpeg
 * command that opens a *source* passes `-format_whitelist`, so anything else fails before its demuxer reads a
 * header, and the probe stage reports it as INPUT_NOT_MEDIA naming the detected format.
 *
 * Names are matched element-wise by ffmpeg (`av_match_list`): `mov` admits the demuxer named
 * `mov,mp4,m4a,3gp,3g2,mj2`, `matroska` the one named `matroska,webm`. Unknown names are harmless, so names of
 * newer ffmpeg versions can sit in the lists.
 */

/** Containers and elementary streams that carry video. */
export const VIDEO_DEMUXERS: readonly string[] = [
  'mov', 'mp4', '3gp', // QuickTime / MP4 / 3GPP: phones, cameras, screen recorders
  'matroska', 'webm',
  'avi',
  'mpegts', // .ts / .m2ts / .mts (AVCHD camcorders)
  'mpeg', // MPEG program stream (.mpg, .vob, .mod)
  'mpegvideo', 'm4v', // raw MPEG-1/2 and MPEG-4 part 2 elementary streams
  'h264', 'hevc', // raw H.264 / H.265 elementary streams (dash-cam and camera-module dumps)
  'ivf', // raw VP8/VP9/AV1 in IVF
  'flv',
  'asf', // .wmv / .asf
  'ogg', // Theora
  'mxf', // broadcast / cinema cameras
  'dv', // DV camcorders
  // An animated GIF is a short moving picture (what people share as "a GIF" is often a Live Photo candidate);
  // a single-frame GIF is a still: the probe stage tells them apart by frame count (INPUT_IS_IMAGE).
  'gif',
];

/**
 * Audio-only containers. They are let through so an audio file gets the precise INPUT_NO_VIDEO rather than
 * INPUT_NOT_MEDIA (`.m4a`/`.mka`/`.ogg` are covered by the video list's mov/matroska/ogg).
 */
export const AUDIO_DEMUXERS: readonly string[] = [
  'wav', 'w64', 'aiff', 'caf', 'mp3', 'aac', 'flac', 'ac3', 'eac3', 'amr', 'wv', 'ape',
];

/**
 * Still-image demuxers, let through the probe only so an image gets INPUT_IS_IMAGE: `image2` (chosen by file
 * extension), the content-sniffing `*_pipe` demuxers, and `apng` (animated PNG: ffprobe gives it no duration,
 * so it is treated as an image). Never passed to the ffmpeg commands that decode a source.
 */
export const IMAGE_DEMUXERS: readonly string[] = [
  'image2', 'apng',
  'bmp_pipe', 'cri_pipe', 'dds_pipe', 'dpx_pipe', 'exr_pipe', 'gem_pipe', 'gif_pipe', 'hdr_pipe', 'j2k_pipe',
  'jpeg_pipe', 'jpegls_pipe', 'jpegxl_pipe', 'pam_pipe', 'pbm_pipe', 'pcx_pipe', 'pfm_pipe', 'pgm_pipe',
  'pgmyuv_pipe', 'pgx_pipe', 'phm_pipe', 'photocd_pipe', 'pictor_pipe', 'png_pipe', 'ppm_pipe', 'psd_pipe',
  'qdraw_pipe', 'qoi_pipe', 'sgi_pipe', 'sunrast_pipe', 'svg_pipe', 'tiff_pipe', 'vbn_pipe', 'webp_pipe',
  'xbm_pipe', 'xpm_pipe', 'xwd_pipe',
];

/** `-format_whitelist` value for ffprobe on a source: anything we can either convert or name precisely. */
export const PROBE_FORMAT_WHITELIST = [...VIDEO_DEMUXERS, ...AUDIO_DEMUXERS, ...IMAGE_DEMUXERS].join(',');
/** `-format_whitelist` value for ffmpeg decoding a source the probe stage accepted: video containers only. */
export const SOURCE_FORMAT_WHITELIST = VIDEO_DEMUXERS.join(',');

/**
 * ffmpeg input options that restrict which demuxer may open the next `-i` source and, given the source, which
 * protocols it may use (`file`, or `http,tcp` for the source reader's loopback proxy; see source-url.ts).
 */
export function sourceInputOptions(source?: string): string[] {
  return [...(source === undefined ? ['-protocol_whitelist', 'file'] : sourceProtocolOptions(source)), '-format_whitelist', SOURCE_FORMAT_WHITELIST];
}

export type DemuxerKind = 'video' | 'audio' | 'image';

/**
 * What ffprobe's `format_name` (a demuxer name, possibly a comma list such as `mov,mp4,m4a,3gp,3g2,mj2`) is,
 * or undefined when it is none of the allowed kinds (`tty`, `srt`, `hls`, …). Images win over everything.
 */
export function demuxerKind(formatName: string): DemuxerKind | undefined {
  const names = formatName.split(',').map((n) => n.trim()).filter(Boolean);
  // every `*_pipe` demuxer is a content-sniffed still image, including ones newer than the list above
  if (names.some((n) => IMAGE_DEMUXERS.includes(n) || n.endsWith('_pipe'))) return 'image';
  if (names.some((n) => VIDEO_DEMUXERS.includes(n))) return 'video';
  if (names.some((n) => AUDIO_DEMUXERS.includes(n))) return 'audio';
  return undefined;
}

/**
 * The demuxer ffmpeg detected when it refused a file for not being on the whitelist. Its log line is
 * `[tty @ 0x55d…] Format not on whitelist 'mov,…'`: the context in brackets is the detected demuxer.
 */
export function rejectedDemuxer(stderr: string): string | undefined {
  const m = /\[([^\]@]+?) @ 0x[0-9a-f]+\] Format not on whitelist/i.exec(stderr);
  return m?.[1]?.trim();
}
