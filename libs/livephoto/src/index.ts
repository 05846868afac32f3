/** The Live Photo engine: plain TypeScript, no framework. */
export * from '@vid2live/errors';
export * from './types';
export type { MediaTools } from './ports/media-tools';
export * from './convert';
export * from './inspect';
export * from './wallpaper-check';
export * from './pvt';
export * from './fingerprint';
export { probeSource } from './stages/probe';
export { planClip } from './stages/plan';
export { renderClip } from './stages/render';
export { pairLivePhoto, newContentIdentifier } from './stages/pair';
export * as quicktime from './quicktime';
export * as exif from './exif';
export * as heif from './heif';
export * as motionPhoto from './motion-photo';
export * from './preview';
