import { promises as fs } from 'node:fs';
import type { AppConfig } from '@vid2live/config';
import type { ObjectStorage } from '@vid2live/storage';
import { SourceReader, type SourceRef } from '@vid2live/sources/source-reader';
import type { ProgressWriter } from './conversion-progress';

/**
 * Strings to replace in error messages before they are stored or logged (a proxy URL or temp path → the name of
 * the source it stands for): one entry per opened source.
 */
export type Scrub = Map<string, string>;

export function applyScrub(scrub: Scrub, message: string): string {
  let out = message;
  for (const [secret, replacement] of scrub) if (secret) out = out.split(secret).join(replacement);
  return out;
}

/** The worker's source reader, from the validated config (timeouts, sizes, the SSRF policy). */
export function sourceReaderFor(config: AppConfig, storage: ObjectStorage): SourceReader {
  return new SourceReader(storage, {
    allowPrivate: config.SOURCE_ALLOW_PRIVATE_TARGETS,
    testPublicHosts: config.SOURCE_TEST_PUBLIC_HOSTS,
    connectTimeoutMs: config.SOURCE_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: config.SOURCE_IDLE_TIMEOUT_MS,
    requestTimeoutMs: config.SOURCE_REQUEST_TIMEOUT_MS,
    downloadTimeoutMs: config.SOURCE_DOWNLOAD_TIMEOUT_MS,
    downloadMaxBytes: config.SOURCE_DOWNLOAD_MAX_BYTES,
    urlMaxBytes: config.SOURCE_URL_MAX_BYTES,
  });
}

/**
 * Opens the job's source and runs `use` on what ffmpeg may read, then closes it. The source reader owns every
 * network read of the source: S3 (one GET for a small object, ranged GETs through a loopback proxy for a large
 * one) and URLs (pinned DNS, each redirect hop re-checked, timeouts, typed HTTP errors). ffmpeg only ever sees a
 * local file or that proxy's 127.0.0.1 URL. An upstream failure during the run is what is thrown, and is never a
 * success (ffmpeg may finish a clip from a source cut short).
 */
export async function withSource<T>(
  sources: SourceReader,
  source: SourceRef,
  ctx: { workDir: string; signal: AbortSignal; progress: ProgressWriter; scrub: Scrub; whole?: boolean },
  use: (input: string, name: string) => Promise<T>,
): Promise<T> {
  const { signal, progress, scrub } = ctx;
  await fs.mkdir(ctx.workDir, { recursive: true });
  const opened = await sources.open(source, {
    workDir: ctx.workDir,
    signal,
    onDownload: (percent) => progress.report({ stage: 'download', percent }),
    ...(ctx.whole ? { whole: true } : {}),
  });
  // Errors name the source (s3://bucket/key, https://host/path), never the proxy URL or a worker's temp file.
  scrub.set(opened.input, opened.name);
  let out: T;
  try {
    out = await use(opened.input, opened.name);
  } catch (e) {
    // ffmpeg saw a 503 or a cut connection from the proxy: report what the upstream really said.
    if (!signal.aborted && opened.failure()) throw opened.failure();
    throw e;
  } finally {
    await opened.close();
  }
  if (opened.failure()) throw opened.failure();
  return out;
}
