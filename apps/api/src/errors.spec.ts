import { ApiError, isRedisUnavailableError, toApiError } from './errors';

describe('Redis unavailable → 503 QUEUE_UNAVAILABLE', () => {
  const redisDown = [
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    new Error('Connection is closed.'),
    new Error('Command timed out'),
    Object.assign(new Error('Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'), {
      name: 'MaxRetriesPerRequestError',
    }),
    Object.assign(new Error('LOADING Redis is loading the dataset in memory'), { name: 'ReplyError' }),
    Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), { name: 'ReplyError' }),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED', syscall: 'connect' }),
  ];

  it.each(redisDown.map((e) => [e.message, e]))('%s', (_m, e) => {
    expect(isRedisUnavailableError(e)).toBe(true);
    const api = toApiError(e);
    expect(api).toBeInstanceOf(ApiError);
    expect(api.status).toBe(503);
    expect(api.code).toBe('QUEUE_UNAVAILABLE');
  });

  it('leaves other errors alone', () => {
    expect(isRedisUnavailableError(Object.assign(new Error('ERR wrong number of arguments'), { name: 'ReplyError' }))).toBe(false);
    expect(isRedisUnavailableError(new TypeError('x is undefined'))).toBe(false);
    expect(toApiError(new Error('boom')).status).toBe(500);
  });
});
