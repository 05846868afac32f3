import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, configSecrets, errorText, loadConfig, redactedConfig, type AppConfig } from '@vid2live/config';
import { hostname } from 'node:os';
import type Redis from 'ioredis';
import { collectProcessMetrics } from '@vid2live/jobs/metrics';
import { startMetricsRelay } from '@vid2live/jobs/metrics-relay';
import { describeMediaBinaries } from '@vid2live/media/binaries';
import { warmFfmpegCapabilities } from '@vid2live/media/ffmpeg';
import { WorkerHost } from './worker-host';
import { REDIS } from './tokens';
import { WorkerModule } from './worker.module';

/** Literal secrets of the loaded config, scrubbed from the last-resort error output. */
let secrets: string[] = [];

/** `npm run start:worker`: a Nest application context (no HTTP) running the conversion, batch and webhook workers. */
export async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig('worker');
  } catch (e) {
    // Names the variable and the rule, never the value.
    console.error(e instanceof ConfigError ? e.message : errorText(e, [], { stack: true }));
    process.exit(1);
  }
  secrets = configSecrets(config);
  const levels = { debug: ['error', 'warn', 'log', 'debug'], info: ['error', 'warn', 'log'], warn: ['error', 'warn'], error: ['error'] } as const;
  const logger = new ConsoleLogger({ json: true, logLevels: [...levels[config.LOG_LEVEL]] });
  const log = new Logger('main');
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger });
  log.log(`config ${JSON.stringify(redactedConfig(config))}`);
  try {
    log.log(describeMediaBinaries());
    // once per process, not per conversion: fluent-ffmpeg's format and encoder checks, before the first job
    void warmFfmpegCapabilities();
  } catch (e) {
    // The worker can still run batches' listing and webhooks; conversions will fail with FFMPEG_NOT_FOUND.
    log.error(`media binaries: ${(e as Error).message}`);
  }
  collectProcessMetrics();
  // Workers serve no HTTP: their stage timings and webhook counts reach the api's /metrics through Redis.
  const relay = startMetricsRelay(app.get<Redis>(REDIS), config.QUEUE_PREFIX, `${hostname()}:${process.pid}`);

  const host = app.get(WorkerHost);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.log(`${signal} received`);
    try {
      await host.shutdown(config.WORKER_SHUTDOWN_TIMEOUT_MS);
      await relay.stop();
      await app.close();
    } catch (e) {
      log.error(`shutdown: ${errorText(e, secrets)}`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await host.start();
}

if (require.main === module) {
  void bootstrap().catch((e) => {
    // Never the error object: ioredis errors carry the failed command's arguments (AUTH: the password).
    console.error(errorText(e, secrets, { stack: true }));
    process.exit(1);
  });
}
