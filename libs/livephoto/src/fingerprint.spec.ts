import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { convertToLivePhoto } from './convert';
import {
  canonicalConversionOptions,
  conversionFingerprint,
  ENGINE_FORMAT_VERSION,
  FINGERPRINT_KEY,
  readPairFingerprint,
  sha256File,
} from './fingerprint';
import { inspectLivePhoto } from './inspect';
import { readLivePhotoMov } from './quicktime';
import { IPHONE_MOV } from './testing/fixtures';
import { makeSource } from '@vid2live/media/test-media';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-fingerprint-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('conversion fingerprint', () => {
  const a = path.join(tmp, 'a.bin');
  const b = path.join(tmp, 'b.bin');
  const big = path.join(tmp, 'big.bin');
  beforeAll(() => {
    fs.writeFileSync(a, Buffer.from('the same bytes'));
    fs.writeFileSync(b, Buffer.from('the same bytes!'));
    // bigger than one read chunk, so the streaming path is exercised
    fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024 + 17, 7));
  });

  it('hashes the full bytes in chunks (same digest as hashing them at once)', async () => {
    expect(await sha256File(big)).toBe(createHash('sha256').update(fs.readFileSync(big)).digest('hex'));
  });

  it('is stable for the same bytes and options, and carries the engine version', async () => {
    const f = await conversionFingerprint(a, { duration: 2 });
    expect(f).toMatch(new RegExp(`^v${ENGINE_FORMAT_VERSION}:[0-9a-f]{64}$`));
    const copy = path.join(tmp, 'copy-of-a.bin');
    fs.copyFileSync(a, copy);
    expect(await conversionFingerprint(copy, { duration: 2 })).toBe(f); // bytes, not the name
  });

  it('changes with the source bytes and with every option that shapes the output', async () => {
    const base = await conversionFingerprint(a);
    expect(await conversionFingerprint(b)).not.toBe(base);
    const variants = [
      { start: 1 }, { duration: 2 }, { keyFrame: 1.5 }, { still: 'heic' as const }, { codec: 'hevc' as const }, { motionPhoto: true },
    ];
    const seen = new Set([base]);
    for (const v of variants) seen.add(await conversionFingerprint(a, v));
    expect(seen.size).toBe(variants.length + 1);
  });

  it('treats omitted options like their defaults', async () => {
    expect(canonicalConversionOptions({})).toBe(
      canonicalConversionOptions({ still: 'jpeg', codec: 'h264', keyFrame: 'auto', motionPhoto: false }),
    );
    expect(await conversionFingerprint(a, {})).toBe(await conversionFingerprint(a, { codec: 'h264', still: 'jpeg', keyFrame: 'auto' }));
  });

  it('reports an unreadable source as SOURCE_NOT_FOUND naming it', async () => {
    const missing = path.join(tmp, 'missing.mov');
    await expect(conversionFingerprint(missing)).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND', message: expect.stringContaining(missing) });
  });
});

describe('fingerprint recorded in the pair', () => {
  it('is written to moov/meta as com.vid2live.fingerprint; inspect still passes and ffprobe still reads the MOV', async () => {
    const source = makeSource('no-audio', path.join(tmp, 'src'));
    const fingerprint = await conversionFingerprint(source);
    const result = await convertToLivePhoto({ source, outputDir: path.join(tmp, 'out'), baseName: 'IMG', fingerprint });

    expect(await readPairFingerprint(result.moviePath)).toBe(fingerprint);
    const mov = await readLivePhotoMov(result.moviePath);
    expect(mov.metaLocation).toBe('moov');
    expect(mov.keys[FINGERPRINT_KEY]).toBe(fingerprint);
    expect(mov.contentIdentifier).toBe(result.contentIdentifier);

    const report = await inspectLivePhoto(result.stillPath, result.moviePath);
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);

    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', result.moviePath], { encoding: 'utf8' }),
    );
    expect(probe.format.tags[FINGERPRINT_KEY]).toBe(fingerprint);
    expect(probe.format.tags['com.apple.quicktime.content.identifier']).toBe(result.contentIdentifier);
    expect(probe.streams.some((s: { codec_type: string }) => s.codec_type === 'video')).toBe(true);
  });

  it('is null for a MOV without one (a genuine iPhone capture) and for a file that is no MOV', async () => {
    expect(await readPairFingerprint(IPHONE_MOV)).toBeNull();
    const junk = path.join(tmp, 'junk.MOV');
    fs.writeFileSync(junk, 'not a movie');
    expect(await readPairFingerprint(junk)).toBeNull();
  });
});
