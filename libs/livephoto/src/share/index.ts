import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { mediaToolsOf } from '../ports/default-media-tools';
import { makeH264PreviewMovie } from '../preview';
import { PVT_METADATA_FILE, writePvtMetadata } from '../pvt';
import type { LivePhotoResult, StageContext, VideoCodec } from '../types';
import { writeStoredZip } from './zip';

/**
 * The files that take a pair to a phone and show it in a browser, beside the pair itself (the studio's
 * "Download pair (.zip)", the `.pvt` package, and what Chromium needs to preview it). Both studio backends make them
 * with this one function: the local server in the CLI process, the service's worker for a studio conversion.
 */
export interface ShareFiles {
  /** NAME.zip: NAME.JPG|HEIC + NAME.MOV under their real names, stored uncompressed */
  zip: string;
  /** NAME.pvt.zip: NAME.pvt/{still, MOV, metadata.plist} (makelive's package layout) */
  pvt: string;
  /** NAME.preview.MOV: an H.264 copy of an HEVC MOV (same frames and timing), for browsers without HEVC */
  preview?: string;
  /** NAME.still-preview.jpg: the MOV's own frame at the key photo (a wallpaper's HEIC is a 9:16 crop) */
  stillPreview?: string;
}

/** `stem` is the pair's base name (its files are `stem.JPG|HEIC` and `stem.MOV`); files go beside them in `dir`. */
export async function writeShareFiles(
  r: Pick<LivePhotoResult, 'stillPath' | 'moviePath' | 'stillTime' | 'profile'>,
  dir: string,
  stem: string,
  opts: { codec?: VideoCodec; only?: 'pvt' } & Pick<StageContext, 'signal' | 'media'>,
): Promise<Partial<ShareFiles>> {
  const still = path.basename(r.stillPath);
  const movie = path.basename(r.moviePath);
  const out: Partial<ShareFiles> = {};
  if (opts.only === 'pvt') {
    out.pvt = await writePvtZip(r, dir, stem);
    return out;
  }
  if (opts.codec === 'hevc') {
    out.preview = path.join(dir, `${stem}.preview.MOV`);
    await makeH264PreviewMovie(r.moviePath, out.preview, { signal: opts.signal, media: opts.media });
  }
  out.zip = path.join(dir, `${stem}.zip`);
  await writeStoredZip(out.zip, [
    { name: still, path: r.stillPath },
    { name: movie, path: r.moviePath },
  ]);
  out.pvt = await writePvtZip(r, dir, stem);
  if (r.profile === 'wallpaper') {
    // A browser cannot draw HEIC and the source frame is not the 9:16 crop: the MOV's own frame at the key photo's
    // time, as a JPEG, is what a preview shows before playing.
    out.stillPreview = path.join(dir, `${stem}.still-preview.jpg`);
    await mediaToolsOf(opts).runFfmpeg(['-ss', r.stillTime.toFixed(6), '-i', r.moviePath, '-frames:v', '1', '-q:v', '3', '-y', out.stillPreview], {
      subject: movie,
      signal: opts.signal,
    });
  }
  return out;
}

/** The pair as a NAME.pvt/ package (still + MOV + metadata.plist, makelive's layout), zipped: `dir/stem.pvt.zip`. */
async function writePvtZip(r: Pick<LivePhotoResult, 'stillPath' | 'moviePath'>, dir: string, stem: string): Promise<string> {
  const zip = path.join(dir, `${stem}.pvt.zip`);
  const plistDir = path.join(dir, `${stem}.pvt-meta`);
  await fs.mkdir(plistDir, { recursive: true });
  const plist = await writePvtMetadata(plistDir);
  await writeStoredZip(zip, [
    { name: `${stem}.pvt/${path.basename(r.stillPath)}`, path: r.stillPath },
    { name: `${stem}.pvt/${path.basename(r.moviePath)}`, path: r.moviePath },
    { name: `${stem}.pvt/${PVT_METADATA_FILE}`, path: plist },
  ]);
  return zip;
}
