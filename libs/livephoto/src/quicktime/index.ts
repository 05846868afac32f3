/** QuickTime box reader/writer and the Apple Live Photo metadata of the video half (spec §3). */
export type { Box } from './boxes';
export { child, childrenOf, find, isQuickTimeStyleMeta, parseBoxes } from './boxes';
export type { TopLevelLayout } from './top-level';
export { readTopLevelBoxes } from './top-level';
export type { ContainerSummary } from './integrity';
export { checkContainerIntegrity } from './integrity';
export { boxHeader, containerBox, encodedSize, fullBox, leafBox, serializeBox } from './writer';
export type { DecodedMetaEntry, DecodedMetaValue, MetaItem, MetaValue } from './quicktime-meta';
export { APPLE_KEYS, QT_DATA_TYPE, VID2LIVE_KEYS, buildQuickTimeMeta, readMetaEntries } from './quicktime-meta';
export type { StillImageTimeTrackParams } from './still-image-time-track';
export { buildStillImageTimeSample, buildStillImageTimeTrack, markerDuration } from './still-image-time-track';
export type { InjectionOptions, InjectionResult, LivePhotoMovMetadata } from './inject';
export { appleCreationDate, injectLivePhotoMetadata } from './inject';
export type { LivePhotoMovInfo, LivePhotoMovTrack, StillImageTimeTrackInfo, VideoTrackInfo } from './read-live-photo-mov';
export { readLivePhotoMov } from './read-live-photo-mov';
