/**
 * libs/media: the only place that spawns ffmpeg/ffprobe/heif-enc. Its ExifTool wrapper (`@vid2live/media/exiftool`)
 * is for tests and benchmarks only: production never reads or writes metadata with ExifTool, so exiftool-vendored
 * is a dev dependency and the image needs no perl.
 */
export * from './binaries';
export * from './ffmpeg';
export * from './ffprobe';
export * from './demuxers';
export * from './analysis';
export * from './heif-enc';
export * from './media-tools';
