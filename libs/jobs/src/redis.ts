import Redis, { type RedisOptions } from 'ioredis';
import { errorText, urlCredentials } from '@vid2live/config/redact';

/**
 * Redis connections that never print a secret. ioredis attaches the failed command to its errors — for a
 * rejected password that is `command: { name: 'auth', args: [<password>] }` — and anything that dumps the error
 * object (`console.error(err)`, BullMQ's fallback when a Queue has no `error` listener, `util.inspect`) prints it.
 * So every client and every BullMQ Queue/FlowProducer/Worker the apps create gets an `error` listener that:
 *  - blanks the command's arguments in place, before any later listener or rejected promise sees the error,
 *  - logs one scrubbed line (`name: message`, the URL's password and any other given secret replaced),
 *  - repeats the same line at most once per `REPEAT_WINDOW_MS` (a reconnect loop is not a log flood).
 */
export type RedisLog = (message: string) => void;

export const REPEAT_WINDOW_MS = 10_000;

export interface ErrorEmitter {
  on(event: 'error', listener: (e: Error) => void): unknown;
}

/** Replaces the arguments ioredis attached to an error (`err.command.args`) with placeholders, in place. */
export function redactRedisError(e: unknown): void {
  const cmd = (e as { command?: { name?: unknown; args?: unknown } } | undefined)?.command;
  if (cmd && typeof cmd === 'object' && Array.isArray(cmd.args)) cmd.args = cmd.args.map(() => '[redacted]');
  const previous = (e as { previousErrors?: unknown } | undefined)?.previousErrors;
  if (Array.isArray(previous)) previous.forEach(redactRedisError);
}

/** Attaches the redacting, de-duplicating `error` listener described above. */
export function watchRedisErrors(emitter: ErrorEmitter, log: RedisLog, label: string, secrets: Iterable<string> = []): void {
  const known = [...secrets];
  let last = '';
  let lastAt = 0;
  let repeated = 0;
  emitter.on('error', (e: Error) => {
    redactRedisError(e);
    const text = `${label}: ${errorText(e, known)}`;
    const now = Date.now();
    if (text === last && now - lastAt < REPEAT_WINDOW_MS) {
      repeated++;
      return;
    }
    log(repeated ? `${text} (the previous error repeated ${repeated} more time(s))` : text);
    last = text;
    lastAt = now;
    repeated = 0;
  });
}

/** A client whose errors are logged through `watchRedisErrors` (the URL's password is one of the secrets). */
export function createRedis(url: string, options: RedisOptions, log: RedisLog, label = 'redis', secrets: Iterable<string> = []): Redis {
  const redis = new Redis(url, options);
  watchRedisErrors(redis, log, label, [...urlCredentials(url), ...secrets]);
  return redis;
}
