import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSource } from '@vid2live/media/test-media';

/** `vid2live convert --pvt` and `vid2live inspect NAME.pvt` through the built CLI, with real ffmpeg/heif-enc. */
const BIN = path.join(__dirname, '..', 'bin', 'vid2live.js');
function cli(args: string[]) {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** metadata.plist read back by an independent parser: Python's plistlib. */
function plistlib(file: string): unknown {
  return JSON.parse(execFileSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file], { encoding: 'utf8' }));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-cli-pvt-'));
const videos = path.join(tmp, 'videos');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => {
  makeSource('no-audio', path.join(videos, 'trip')); // trip/silent.mov
});

describe('vid2live convert --pvt', () => {
  const out = path.join(tmp, 'live');
  let first: ReturnType<typeof cli>;
  beforeAll(() => {
    first = cli(['convert', videos, '-o', out, '--pvt', '--duration', '2', '--json']);
  });

  it('writes OUT/trip/silent.pvt/ holding silent.JPG + silent.MOV + metadata.plist, and no loose pair', () => {
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.converted).toBe(1);
    const pkg = path.join(out, 'trip', 'silent.pvt');
    expect(summary.files[0]).toMatchObject({
      status: 'converted',
      package: pkg,
      still: path.join(pkg, 'silent.JPG'),
      movie: path.join(pkg, 'silent.MOV'),
    });
    expect(fs.readdirSync(path.join(out, 'trip'))).toEqual(['silent.pvt']);
    expect(fs.readdirSync(pkg).sort()).toEqual(['metadata.plist', 'silent.JPG', 'silent.MOV']);
    expect(plistlib(path.join(pkg, 'metadata.plist'))).toEqual({ PFVideoComplementMetadataVersionKey: '1' });
  });

  it('inspect accepts the package folder: valid, the pair inside reported', () => {
    const pkg = path.join(out, 'trip', 'silent.pvt');
    const r = cli(['inspect', pkg, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.valid).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.contentIdentifier).toBe(JSON.parse(first.stdout).files[0].contentIdentifier);
    expect(report.facts.package).toBe('silent.pvt (silent.JPG + silent.MOV + metadata.plist)');
    const text = cli(['inspect', pkg + '/']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^VALID Apple Live Photo pair/);
  });

  it('is resumable inside the package: a second run keeps the pair', () => {
    const mov = path.join(out, 'trip', 'silent.pvt', 'silent.MOV');
    const before = fs.statSync(mov).mtimeMs;
    const again = cli(['convert', videos, '-o', out, '--pvt', '--duration', '2', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ skipped: 1, converted: 0 });
    expect(fs.statSync(mov).mtimeMs).toBe(before);
  });

  it('inspect refuses a package without metadata.plist, or with a wrong version, or with two stills', () => {
    const good = path.join(out, 'trip', 'silent.pvt');
    const bad = path.join(tmp, 'bad', 'silent.pvt');
    fs.cpSync(good, bad, { recursive: true });
    fs.rmSync(path.join(bad, 'metadata.plist'));
    let r = cli(['inspect', bad, '--json']);
    expect(r.code).toBe(1);
    let report = JSON.parse(r.stdout);
    expect(report.valid).toBe(false);
    expect(report.errors).toEqual([{ code: 'PVT_PACKAGE_INVALID', message: 'metadata.plist is missing' }]);

    fs.writeFileSync(path.join(bad, 'metadata.plist'), fs.readFileSync(path.join(good, 'metadata.plist'), 'utf8').replace('<string>1</string>', '<string>2</string>'));
    r = cli(['inspect', bad, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors[0].message).toMatch(/PFVideoComplementMetadataVersionKey must be the string "1", found "2"/);

    fs.copyFileSync(path.join(good, 'metadata.plist'), path.join(bad, 'metadata.plist'));
    fs.copyFileSync(path.join(bad, 'silent.JPG'), path.join(bad, 'other.JPG'));
    r = cli(['inspect', bad, '--json']);
    expect(r.code).toBe(1);
    report = JSON.parse(r.stdout);
    expect(report.errors.map((e: { code: string }) => e.code)).toEqual(['PVT_PACKAGE_INVALID']);
    expect(report.errors[0].message).toContain('exactly one still');
  });

  it('packages a wallpaper pair (HEIC) that inspect --wallpaper on the package calls ready', () => {
    const wall = path.join(tmp, 'wall');
    const r = cli(['convert', path.join(videos, 'trip', 'silent.mov'), '-o', wall, '--pvt', '--profile', 'wallpaper', '--json']);
    expect(r.code).toBe(0);
    const pkg = path.join(wall, 'silent.pvt');
    expect(fs.readdirSync(wall)).toEqual(['silent.pvt']);
    expect(fs.readdirSync(pkg).sort()).toEqual(['metadata.plist', 'silent.HEIC', 'silent.MOV']);
    const check = cli(['inspect', pkg, '--wallpaper', '--json']);
    expect(check.code).toBe(0);
    const report = JSON.parse(check.stdout);
    expect(report.valid).toBe(true);
    expect(report.wallpaper.ready).toBe(true);
  });

  it('refuses --pvt with --motion-photo (a package holds only the pair)', () => {
    const r = cli(['convert', videos, '-o', path.join(tmp, 'mp'), '--pvt', '--motion-photo']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--pvt cannot be combined with --motion-photo');
    expect(fs.existsSync(path.join(tmp, 'mp'))).toBe(false);
  });
});
