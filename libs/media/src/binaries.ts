import * as fs from 'node:fs';
import * as path from 'node:path';
import ffmpegCommand from 'fluent-ffmpeg';
import { LivePhotoError } from '@vid2live/errors';

export type MediaBinarySource = 'env' | 'ffmpeg-static' | 'ffprobe-static' | 'PATH';

export interface MediaBinary {
  path: string;
  source: MediaBinarySource;
}

export interface MediaBinaries {
  ffmpeg: MediaBinary;
  ffprobe: MediaBinary;
}

const INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: `apt-get install ffmpeg`, macOS: `brew install ffmpeg`) ' +
  'or point FFMPEG_PATH / FFPROBE_PATH at the binaries';

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Like `which`: the first executable `name` on PATH. */
export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * ffmpeg-static / ffprobe-static are optional dependencies; a missing package must not break start-up,
 * so the require is guarded. ffmpeg-static exports the path string, ffprobe-static `{ path }`.
 */
function pathFromOptionalPackage(pkg: 'ffmpeg-static' | 'ffprobe-static'): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod: unknown = require(pkg);
    const p =
      typeof mod === 'string'
        ? mod
        : mod && typeof (mod as { path?: unknown }).path === 'string'
          ? (mod as { path: string }).path
          : undefined;
    return p && isExecutableFile(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

function resolveOne(
  name: 'ffmpeg' | 'ffprobe',
  env: NodeJS.ProcessEnv,
  staticPackage: 'ffmpeg-static' | 'ffprobe-static',
): MediaBinary {
  const envName = name === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
  const fromEnv = env[envName];
  if (fromEnv) {
    // An explicit setting that points nowhere is a configuration mistake: say so instead of silently falling back.
    if (!isExecutableFile(fromEnv)) {
      throw new LivePhotoError('FFMPEG_NOT_FOUND', `${envName}=${fromEnv} is not an executable file; ${INSTALL_HINT}`, {
        [envName]: fromEnv,
      });
    }
    return { path: fromEnv, source: 'env' };
  }
  const fromPackage = pathFromOptionalPackage(staticPackage);
  if (fromPackage) return { path: fromPackage, source: staticPackage };
  const fromPath = findOnPath(name, env.PATH ?? '');
  if (fromPath) return { path: fromPath, source: 'PATH' };
  throw new LivePhotoError('FFMPEG_NOT_FOUND', `${name} was not found (${envName}, ${staticPackage}, PATH); ${INSTALL_HINT}`);
}

/** Resolve without memoising (for tests and diagnostics with a custom environment). */
export function locateMediaBinaries(env: NodeJS.ProcessEnv = process.env): MediaBinaries {
  return {
    ffmpeg: resolveOne('ffmpeg', env, 'ffmpeg-static'),
    ffprobe: resolveOne('ffprobe', env, 'ffprobe-static'),
  };
}

let resolved: MediaBinaries | undefined;

/**
 * ffmpeg + ffprobe used by every media call, in priority order env → ffmpeg-static/ffprobe-static → PATH.
 * Memoised; also configures fluent-ffmpeg so commands built with it use the same binaries.
 * Throws LivePhotoError FFMPEG_NOT_FOUND.
 */
export function resolveMediaBinaries(): MediaBinaries {
  if (!resolved) {
    const found = locateMediaBinaries(process.env);
    ffmpegCommand.setFfmpegPath(found.ffmpeg.path);
    ffmpegCommand.setFfprobePath(found.ffprobe.path);
    resolved = found;
  }
  return resolved;
}

/** Forget the memoised result (after changing FFMPEG_PATH in tests). */
export function resetMediaBinaries(): void {
  resolved = undefined;
}

/** One line for the CLI/worker start-up log, e.g. `ffmpeg: /usr/bin/ffmpeg (PATH), ffprobe: /usr/bin/ffprobe (PATH)`. */
export function describeMediaBinaries(): string {
  const b = resolveMediaBinaries();
  return `ffmpeg: ${b.ffmpeg.path} (${b.ffmpeg.source}), ffprobe: ${b.ffprobe.path} (${b.ffprobe.source})`;
}
