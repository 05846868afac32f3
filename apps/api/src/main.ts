import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ConfigError, configSecrets, errorText, loadConfig, redactedConfig, type AppConfig } from '@vid2live/config';
import { ADMIN_BASE_PATH, mountQueueDashboard } from './admin';
import { AppModule } from './app.module';
import { mountStudio } from './studio/studio.routes';

/** Literal secrets of the loaded config, scrubbed from the last-resort error output below. */
let secrets: string[] = [];

async function bootstrap(): Promise<void> {
  // Validate before anything connects anywhere: a bad value stops the process with the variable's name.
  let config: AppConfig;
  try {
    config = loadConfig('api');
    secrets = configSecrets(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`vid2live api: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  // JSON lines, like the worker's, so one log pipeline parses both.
  const levels = { debug: ['error', 'warn', 'log', 'debug'], info: ['error', 'warn', 'log'], warn: ['error', 'warn'], error: ['error'] } as const;
  const logger = new ConsoleLogger({ json: true, logLevels: [...levels[config.LOG_LEVEL]] });
  const log = new Logger('api');

  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    // Fastify's own request logging is off: it would print headers, Authorization included.
    new FastifyAdapter({ logger: false, bodyLimit: 1024 * 1024, trustProxy: true, maxParamLength: 256 }),
    { logger },
  );
  log.log(`config ${JSON.stringify(redactedConfig(config))}`);
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('vid2live')
      .setDescription(
        `Videos → Apple Live Photos, in bulk. Every /v1 call needs \`Authorization: Bearer <key>\`; the queue dashboard is at ${ADMIN_BASE_PATH}.`,
      )
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  await mountQueueDashboard(app);
  await mountStudio(app);

  await app.listen(config.PORT, '0.0.0.0');
  log.log(`listening on :${config.PORT}`);
}

bootstrap().catch((e: unknown) => {
  process.stderr.write(`vid2live api failed to start: ${errorText(e, secrets, { stack: true })}\n`);
  process.exit(1);
});
