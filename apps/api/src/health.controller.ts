import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { resolveMediaBinaries } from '@vid2live/media/binaries';
import { READINESS_SCHEMA } from './openapi';
import { StorageGateway } from './storage.gateway';
import { REDIS } from './tokens';

interface CheckResult {
  ok: boolean;
  ms: number;
  detail: string;
}

const CHECK_TIMEOUT_MS = 2_000;

/** Runs one probe under a deadline; a hung dependency must not hang the readiness probe. */
async function probe(fn: (signal: AbortSignal) => Promise<string>): Promise<CheckResult> {
  const started = Date.now();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(ac.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`));
        }, CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, ms: Date.now() - started, detail };
  } catch (e) {
    return { ok: false, ms: Date.now() - started, detail: (e as Error).message || String(e) };
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly storage: StorageGateway,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up (no dependency checks)' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Redis answers PING, S3 answers, ffmpeg is present: 200, else 503 with per-check detail' })
  @ApiResponse({ status: 200, description: 'every check passed', schema: READINESS_SCHEMA })
  @ApiResponse({ status: 503, description: 'a check failed (`status: "unavailable"`; the failed check says why)', schema: READINESS_SCHEMA })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: 'ok' | 'unavailable'; checks: Record<string, CheckResult> }> {
    const [redis, s3, ffmpeg] = await Promise.all([
      probe(async () => `PING → ${await this.redis.ping()}`),
      probe((signal) => this.storage.ping(signal)),
      probe(async () => {
        const b = resolveMediaBinaries();
        return `ffmpeg ${b.ffmpeg.path} (${b.ffmpeg.source}), ffprobe ${b.ffprobe.path} (${b.ffprobe.source})`;
      }),
    ]);
    const checks = { redis, s3, ffmpeg };
    const ok = Object.values(checks).every((c) => c.ok);
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks };
  }
}
