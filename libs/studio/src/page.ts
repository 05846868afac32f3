import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ConvertOptions } from '@vid2live/livephoto/types';
import { StudioError } from './http';

/** What both studio backends (the CLI's local server, the API's /studio) share: the page, names, options. */

/** The directory of the page (index.html, studio.js, studio.css), from the sources or from dist/. */
export function studioWebRoot(): string {
  // libs/studio/src (sources, jest) or dist/libs/studio/src (built): the page is apps/studio/web of the same tree
  const candidates = [path.resolve(__dirname, '../../../apps/studio/web'), path.resolve(__dirname, '../../../../apps/studio/web')];
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`the studio page is missing (looked in ${candidates.join(', ')})`);
  return found;
}

/** Apple's LivePhotosKit JS (npm livephotoskit, used unmodified), served as vendor/livephotoskit.js. */
export function livePhotosKitPath(): string {
  return require.resolve('livephotoskit/livephotoskit.js');
}

export const WEB_FILE = /^[a-z0-9-]+\.(html|js|css|svg|png)$/;

/** A file name as the user may see it: no folders, no control characters, at most 120 characters. */
export function safeName(name: string): string {
  let base = path.basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f/]/g, '').trim();
  if (base === '' || base === '.' || base === '..') base = 'video';
  // file systems count bytes (255 at most), not characters: keep the end, where the extension is
  while (Buffer.byteLength(base, 'utf8') > 200) base = base.slice(1);
  return base;
}

export function stemOf(name: string): string {
  const stem = path.basename(name, path.extname(name)).replace(/[^\p{L}\p{N}_.-]+/gu, '_').replace(/^\.+/, '');
  return stem || 'LivePhoto';
}

function optionalNumber(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new StudioError(400, 'INVALID_OPTIONS', `${field} must be a number of seconds`);
  return v;
}

/** The conversion options a page may send, checked; the engine checks the ranges against the source. */
export function conversionOptionsOf(body: unknown): ConvertOptions {
  if (!body || typeof body !== 'object') throw new StudioError(400, 'INVALID_OPTIONS', 'send a JSON object');
  const b = body as Record<string, unknown>;
  const still = b.still ?? 'jpeg';
  const codec = b.codec ?? 'h264';
  if (still !== 'jpeg' && still !== 'heic') throw new StudioError(400, 'INVALID_OPTIONS', 'still must be "jpeg" or "heic"');
  if (codec !== 'h264' && codec !== 'hevc') throw new StudioError(400, 'INVALID_OPTIONS', 'codec must be "h264" or "hevc"');
  if (b.motionPhoto !== undefined && typeof b.motionPhoto !== 'boolean') throw new StudioError(400, 'INVALID_OPTIONS', 'motionPhoto must be true or false');
  const profile = b.profile ?? 'standard';
  if (profile !== 'standard' && profile !== 'wallpaper') throw new StudioError(400, 'INVALID_OPTIONS', 'profile must be "standard" or "wallpaper"');
  const wallpaper = profile === 'wallpaper';
  if (wallpaper && still !== 'heic' && b.still !== undefined) {
    throw new StudioError(400, 'INVALID_OPTIONS', 'the wallpaper profile writes a HEIC still: send still "heic" or leave it out');
  }
  return {
    start: optionalNumber(b.start, 'start'),
    duration: optionalNumber(b.duration, 'duration'),
    keyFrame: optionalNumber(b.keyFrame, 'keyFrame'),
    // the wallpaper profile always writes HEIC (docs/wallpaper.md)
    still: wallpaper ? 'heic' : still,
    codec,
    motionPhoto: b.motionPhoto === true,
    ...(wallpaper ? { profile: 'wallpaper' as const } : {}),
  };
}

