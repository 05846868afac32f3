import * as fs from 'node:fs';
import * as path from 'node:path';
import ffmpegCommand from 'fluent-ffmpeg';
import { LivePhotoError } from '@vid2live/errors';

/**
 * Optional npm packages that carry a binary: ffmpeg-static (downloads at install, where it can), and
 * `@ffprobe-installer/ffprobe` and `@ffmpeg-installer/ffmpeg`, whose statically linked binaries are inside the npm
 * tarballs of their platform packages (nothing downloads).
 */
export type BinaryPackage = 'ffmpeg-static' | '@ffprobe-installer/ffprobe' | '@ffmpeg-installer/ffmpeg';

export type MediaBinarySource = 'env' | BinaryPackage | 'PATH';

export interface MediaBinary {
  path: string;
  source: MediaBinarySource;
}

export interface MediaBinaries {
  ffmpeg: MediaBinary;
  ffprobe: MediaBinary;
  /**
   * the ffmpeg of commands that read only files this process wrote (FfmpegRunOptions.ownRawInput: the automatic
   * still from the render's raw frames). Its input is raw pixels of a known size, not an upload's container or
   * codec, so an old statically linked build serves: it starts in ~10 ms where Debian's ffmpeg takes ~0.15 s.
   */
  stillEncoder: MediaBinary;
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
 * Both packages are optional dependencies; a missing package (or one without a binary for this platform, or one
 * installed with --ignore-scripts, which leaves @ffprobe-installer's binary not executable) must not break
 * start-up, so the require is guarded and the file checked. ffmpeg-static exports the path string,
 * `@ffprobe-installer/ffprobe` an object `{ path }`.
 */
function pathFromOptionalPackage(pkg: BinaryPackage): string | undefined {
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

/** A binary named by an env variable. One that points nowhere is a configuration mistake: said, not fallen back from. */
function binaryFromEnv(envName: string, file: string): MediaBinary {
  if (!isExecutableFile(file)) {
    throw new LivePhotoError('FFMPEG_NOT_FOUND', `${envName}=${file} is not an executable file; ${INSTALL_HINT}`, { [envName]: file });
  }
  return { path: file, source: 'env' };
}

function resolveOne(
  name: 'ffmpeg' | 'ffprobe',
  env: NodeJS.ProcessEnv,
  staticPackage: BinaryPackage,
  fromPackages: (pkg: BinaryPackage) => string | undefined,
): MediaBinary {
  const envName = name === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
  const fromEnv = env[envName];
  if (fromEnv) return binaryFromEnv(envName, fromEnv);
  const fromPackage = fromPackages(staticPackage);
  if (fromPackage) return { path: fromPackage, source: staticPackage };
  const fromPath = findOnPath(name, env.PATH ?? '');
  if (fromPath) return { path: fromPath, source: 'PATH' };
  throw new LivePhotoError('FFMPEG_NOT_FOUND', `${name} was not found (${envName}, ${staticPackage}, PATH); ${INSTALL_HINT}`);
}

/**
 * The still encoder: STILL_ENCODER_FFMPEG_PATH (empty: the ffmpeg above), else ffmpeg-static's ffmpeg when that is
 * the ffmpeg (static and newer), else `@ffmpeg-installer/ffmpeg` (a static 4.1 build of 2018), else the ffmpeg above.
 */
function resolveStillEncoder(
  env: NodeJS.ProcessEnv,
  ffmpeg: MediaBinary,
  fromPackages: (pkg: BinaryPackage) => string | undefined,
): MediaBinary {
  const fromEnv = env.STILL_ENCODER_FFMPEG_PATH;
  if (fromEnv !== undefined) return fromEnv === '' ? ffmpeg : binaryFromEnv('STILL_ENCODER_FFMPEG_PATH', fromEnv);
  if (ffmpeg.source === 'ffmpeg-static') return ffmpeg;
  const fromPackage = fromPackages('@ffmpeg-installer/ffmpeg');
  return fromPackage ? { path: fromPackage, source: '@ffmpeg-installer/ffmpeg' } : ffmpeg;
}

/**
 * Resolve without memoising (for tests and diagnostics with a custom environment; `fromPackages` stands in for
 * the optional packages, e.g. `() => undefined` for a machine without them).
 */
export function locateMediaBinaries(
  env: NodeJS.ProcessEnv = process.env,
  fromPackages: (pkg: BinaryPackage) => string | undefined = pathFromOptionalPackage,
): MediaBinaries {
  const ffmpeg = resolveOne('ffmpeg', env, 'ffmpeg-static', fromPackages);
  return {
    ffmpeg,
    ffprobe: resolveOne('ffprobe', env, '@ffprobe-installer/ffprobe', fromPackages),
    stillEncoder: resolveStillEncoder(env, ffmpeg, fromPackages),
  };
}

let resolved: MediaBinaries | undefined;

/**
 * ffmpeg + ffprobe used by every media call, in priority order env → ffmpeg-static / @ffprobe-installer → PATH
 * (and the still encoder, see resolveStillEncoder).
 * The packaged ffprobe is preferred to the system's because it is statically linked: it starts in ~2 ms, where
 * Debian's (215 shared libraries) takes ~0.1 s of CPU before it reads a byte, and a conversion runs it once or twice.
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

/**
 * One line for the CLI/worker start-up log, e.g. `ffmpeg: /usr/bin/ffmpeg (PATH), ffprobe: /usr/bin/ffprobe (PATH)`,
 * plus `, still encoder: … (…)` when that is not the ffmpeg.
 */
export function describeMediaBinaries(): string {
  const b = resolveMediaBinaries();
  const still = b.stillEncoder.path === b.ffmpeg.path ? '' : `, still encoder: ${b.stillEncoder.path} (${b.stillEncoder.source})`;
  return `ffmpeg: ${b.ffmpeg.path} (${b.ffmpeg.source}), ffprobe: ${b.ffprobe.path} (${b.ffprobe.source})${still}`;
}
