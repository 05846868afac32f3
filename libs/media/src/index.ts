/** libs/media: the only place that spawns ffmpeg/ffprobe/heif-enc and talks to exiftool-vendored. */
export * from './binaries';
export * from './ffmpeg';
export * from './ffprobe';
export * from './demuxers';
export * from './analysis';
export { exiftool, readAllTags, closeExifTool } from './exiftool';
export type { ExifToolTags } from './exiftool';
export * from './heif-enc';
