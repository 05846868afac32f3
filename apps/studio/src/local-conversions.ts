import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LivePhotoError } from '@vid2live/errors';
import { convertToLivePhoto } from '@vid2live/livephoto/convert';
import { writeShareFiles, type ShareFiles } from '@vid2live/livephoto/share';
import type { ConvertOptions } from '@vid2live/livephoto/types';
import { StudioError } from '@vid2live/studio/http';
import { stemOf } from '@vid2live/studio/page';
import type { Limiter } from './limiter';

/** A conversion of the local studio, as `GET api/conversions/:id` shows it (docs/studio.md "conversion"). */
export interface LocalConversion {
  id: string;
  videoId: string;
  status: 'queued' | 'active' | 'completed' | 'failed';
  progress: { stage: string; percent: number };
  error?: { code: string; message: string };
  result?: Record<string, unknown> & { files: Record<string, string> };
  /** file name → path on disk */
  files: Map<string, string>;
}

const MAX_CONVERSIONS_KEPT = 200;
/** conversions queued or running at once; more are refused with 429 (each one is an ffmpeg run) */
const MAX_CONVERSIONS_PENDING = 20;

/**
 * The local studio's conversions: the embedded engine, one at a time (`heavy`), the pair and its share files
 * (zip, .pvt zip, browser previews) under `<workDir>/conversions/<id>/`; the oldest finished ones are forgotten.
 */
export class LocalConversions {
  private readonly all = new Map<string, LocalConversion>();

  constructor(
    private readonly workDir: string,
    private readonly heavy: Limiter,
    private readonly signal: AbortSignal,
    /** engine messages name the user's file, never a path in the studio's work folder */
    private readonly rewrite: (message: string) => string,
  ) {}

  get(id: string): LocalConversion | undefined {
    return this.all.get(id);
  }

  start(v: { id: string; name: string; path: string }, options: ConvertOptions): LocalConversion {
    const id = randomBytes(10).toString('hex');
    const pending = [...this.all.values()].filter((c) => c.status === 'queued' || c.status === 'active').length;
    if (pending >= MAX_CONVERSIONS_PENDING) {
      throw new StudioError(429, 'TOO_MANY_CONVERSIONS', `${pending} conversions are waiting; try again when some are done`);
    }
    const c: LocalConversion = { id, videoId: v.id, status: 'queued', progress: { stage: 'queued', percent: 0 }, files: new Map() };
    this.all.set(id, c);
    // forget the oldest finished ones (never a queued or running one: its files are still being written)
    for (const [oldId, old] of this.all) {
      if (this.all.size <= MAX_CONVERSIONS_KEPT) break;
      if (old.status !== 'completed' && old.status !== 'failed') continue;
      this.all.delete(oldId);
      void fs.rm(path.join(this.workDir, 'conversions', oldId), { recursive: true, force: true });
    }
    void this.heavy
      .run(() => this.run(c, v, options))
      .catch((e: unknown) => {
        c.status = 'failed';
        const known = e instanceof LivePhotoError || e instanceof StudioError;
        c.error = known
          ? { code: (e as LivePhotoError).code, message: this.rewrite((e as Error).message) }
          : { code: 'INTERNAL', message: 'the conversion failed unexpectedly; see the studio terminal' };
        if (!known) process.stderr.write(`studio: conversion ${id} failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      });
    return c;
  }

  private async run(c: LocalConversion, v: { path: string; name: string }, options: ConvertOptions): Promise<void> {
    const signal = this.signal;
    const dir = path.join(this.workDir, 'conversions', c.id);
    const stem = stemOf(v.name);
    c.status = 'active';
    await fs.mkdir(path.join(dir, 'work'), { recursive: true });
    const r = await convertToLivePhoto(
      { source: v.path, outputDir: dir, baseName: stem, options, workDir: path.join(dir, 'work') },
      { signal, onProgress: (p) => (c.progress = { stage: p.stage, percent: Math.round(p.percent) }) },
    );
    c.progress = { stage: 'preview', percent: 100 };
    const still = path.basename(r.stillPath);
    const movie = path.basename(r.moviePath);
    c.files.set(still, r.stillPath).set(movie, r.moviePath);
    const share = await writeShareFiles(r, dir, stem, { codec: options.codec, signal });
    const files: Record<string, string> = { still, video: movie, preview: movie };
    for (const [role, file] of Object.entries(share) as Array<[keyof ShareFiles, string]>) {
      files[role] = path.basename(file);
      c.files.set(files[role], file);
    }
    if (r.motionPhotoPath) {
      files.motionPhoto = path.basename(r.motionPhotoPath);
      c.files.set(files.motionPhoto, r.motionPhotoPath);
    }
    c.result = {
      name: stem,
      contentIdentifier: r.contentIdentifier,
      stillTime: r.stillTime,
      clip: r.clip,
      width: r.width,
      height: r.height,
      reasons: r.reasons,
      warnings: r.warnings,
      files,
    };
    c.progress = { stage: 'done', percent: 100 };
    c.status = 'completed';
  }

  view(c: LocalConversion): Record<string, unknown> {
    return {
      id: c.id,
      videoId: c.videoId,
      status: c.status,
      progress: c.progress,
      ...(c.error ? { error: c.error } : {}),
      ...(c.result ? { result: c.result } : {}),
    };
  }
}
