export * from './motion-photo';
export * from './motion-photo-xmp';
