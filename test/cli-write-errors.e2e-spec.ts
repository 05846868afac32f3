import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IPHONE_HEIC } from '@vid2live/livephoto/testing/fixtures';
import { mountTmpfs, unmountTmpfs } from '@vid2live/livephoto/testing/mounts';
import { makeSource } from '@vid2live/media/test-media';

/** The built CLI where it cannot write: a read-only file system and a full one (real tmpfs mounts when root). */
const BIN = path.join(__dirname, '..', 'bin', 'vid2live.js');
function cli(args: string[]) {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('vid2live convert where outputs cannot be written', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-cli-write-'));
  const videos = path.join(tmp, 'videos');
  const ro = path.join(tmp, 'ro');
  const full = path.join(tmp, 'full');
  let roMounted = false;
  let fullMounted = false;

  beforeAll(() => {
    makeSource('no-audio', videos);
    roMounted = mountTmpfs(ro, { readOnly: true, populate: (d) => fs.mkdirSync(path.join(d, 'existing')) });
    fullMounted = mountTmpfs(full, { size: '64k' });
  });
  afterAll(() => {
    if (roMounted) unmountTmpfs(ro);
    if (fullMounted) unmountTmpfs(full);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('-o on a read-only file system with --json: exit 2 and a JSON summary naming OUTPUT_WRITE_FAILED and the reason', () => {
    // Without root (no mount) /sys stands in: not writable by anyone, so the folder cannot be made there either.
    const out = roMounted ? path.join(ro, 'new', 'live') : '/sys/vid2live-cli-write-test/live';
    const r = cli(['convert', videos, '-o', out, '--json']);
    expect(r.code).toBe(2);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ total: 0, converted: 0, failed: 0, files: [], error: { code: 'OUTPUT_WRITE_FAILED' } });
    expect(summary.error.message).toContain(out);
    expect(summary.error.message).toMatch(roMounted ? /read-only file system \(EROFS\)/ : /\((EROFS|EPERM|EACCES)\)/);
    expect(r.stderr).toContain('OUTPUT_WRITE_FAILED');
    // and without --json: the same code on stderr, exit 2
    const plain = cli(['convert', videos, '-o', out]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/vid2live: OUTPUT_WRITE_FAILED: cannot create the output folder/);
  });

  it('an existing output folder on a read-only file system: each file fails with OUTPUT_WRITE_FAILED (EROFS), not METADATA_WRITE_FAILED', () => {
    if (!roMounted) return console.warn('skipped: cannot mount a tmpfs (not root)');
    const r = cli(['convert', videos, '-o', path.join(ro, 'existing'), '--json']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.failed).toBe(summary.total);
    expect(summary.total).toBeGreaterThan(0);
    for (const f of summary.files) {
      expect(f.error.code).toBe('OUTPUT_WRITE_FAILED');
      expect(f.error.message).toMatch(/read-only file system \(EROFS\)/);
    }
  });

  it('a full file system (64 KiB tmpfs): OUTPUT_WRITE_FAILED (ENOSPC), nothing half-written left', () => {
    if (!fullMounted) return console.warn('skipped: cannot mount a tmpfs (not root)');
    const r = cli(['convert', videos, '-o', full, '--json']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.files.map((f: { error?: { code: string } }) => f.error?.code)).toEqual(summary.files.map(() => 'OUTPUT_WRITE_FAILED'));
    expect(summary.files[0].error.message).toMatch(/no space left on device \(ENOSPC\)/);
    expect(fs.readdirSync(full).filter((f) => /\.(JPG|MOV)$/.test(f))).toEqual([]);
  });

  it('a HEIC passed as a video: INPUT_IS_IMAGE, not INPUT_TRUNCATED', () => {
    const r = cli(['convert', IPHONE_HEIC, '-o', path.join(tmp, 'heic-out'), '--json']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.files[0].error.code).toBe('INPUT_IS_IMAGE');
    expect(summary.files[0].error.message).toMatch(/HEIF\/HEIC/);
  });
});
