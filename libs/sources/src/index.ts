export * from './errors';
export * from './pinned-http';
export * from './range-proxy';
export * from './source-reader';
