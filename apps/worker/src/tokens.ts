/** Injection tokens of the worker's Nest context. */
export const APP_CONFIG = Symbol('APP_CONFIG');
/** ioredis client for records, queues (producer side) and pub/sub publishing */
export const REDIS = Symbol('REDIS');
export const STORAGE = Symbol('STORAGE');
