import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveMediaBinaries } from '@vid2live/media/binaries';
import { makeConversionTempDir, processStartTicks, reapStaleTempDirs } from './temp-dirs';

/** A pid that existed and is gone now (a finished child), with the start time it had. */
function deadPid(): { pid: number; start: number } {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/stat","latin1"))'], {
    encoding: 'utf8',
  });
  const stat = child.stdout;
  const pid = Number(stat.split(' ')[0]);
  const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return { pid, start };
}

describe('conversion temp dirs and the reaper', () => {
  let root: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'reaper-spec-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('names a dir after its owner: conversion id, pid and start time', async () => {
    const dir = await makeConversionTempDir('cnv_abc', root);
    expect(path.basename(dir)).toMatch(new RegExp(`^vid2live-cnv_abc\\.p${process.pid}-${processStartTicks(process.pid)}-[A-Za-z0-9]{6}$`));
    expect(processStartTicks(process.pid)).toBeGreaterThan(0);
  });

  it('removes dirs of dead owners (pid gone, or pid reused by a later process) and old legacy dirs; keeps the rest', async () => {
    const dead = deadPid();
    const mine = await makeConversionTempDir('cnv_mine', root);
    const goneOwner = path.join(root, `vid2live-cnv_gone.p${dead.pid}-${dead.start}-AbC123`);
    // our own pid with another start time: a previous process that had this pid (a restarted container's pid 1)
    const reused = path.join(root, `vid2live-cnv_reused.p${process.pid}-${(processStartTicks(process.pid) ?? 0) + 1}-AbC123`);
    // pid 1 with its real start time: alive
    const alive = path.join(root, `vid2live-cnv_alive.p1-${processStartTicks(1)}-AbC123`);
    const legacyOld = path.join(root, 'vid2live-cnv_legacy-Zz9Zz9');
    const legacyNew = path.join(root, 'vid2live-cnv_fresh-Zz9Zz9');
    const unrelated = path.join(root, 'vid2live-other-thing');
    for (const d of [goneOwner, reused, alive, legacyOld, legacyNew, unrelated]) fs.mkdirSync(d);
    fs.writeFileSync(path.join(goneOwner, 'source.mp4'), 'x');
    const old = new Date(Date.now() - 7 * 3600_000);
    fs.utimesSync(legacyOld, old, old);
    // a symlink named like a stale dir is never followed
    const target = fs.mkdtempSync(path.join(os.tmpdir(), 'reaper-target-'));
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    fs.symlinkSync(target, path.join(root, `vid2live-cnv_link.p${dead.pid}-${dead.start}-LnK123`));

    const report = await reapStaleTempDirs({ root });
    expect(report.removed.sort()).toEqual([goneOwner, legacyOld, reused].sort());
    for (const d of [mine, alive, legacyNew, unrelated]) expect(fs.existsSync(d)).toBe(true);
    expect(fs.existsSync(path.join(target, 'keep'))).toBe(true);
    fs.rmSync(target, { recursive: true, force: true });
  });

  it('kills only ffmpeg/ffprobe working in a dead owner\'s dir, then removes the dir', async () => {
    const dead = deadPid();
    const stale = path.join(root, `vid2live-cnv_orphan.p${dead.pid}-${dead.start}-OrPh4n`);
    const live = await makeConversionTempDir('cnv_live', root);
    fs.mkdirSync(stale);
    const ffmpeg = resolveMediaBinaries().ffmpeg.path;
    const longRun = (dir: string) =>
      spawn(ffmpeg, ['-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc=s=64x48:r=5:d=120', '-y', path.join(dir, 'out.mkv')], { stdio: 'ignore' });
    const orphan = longRun(stale);
    const ours = longRun(live);
    // not ffmpeg, though it names a file in the stale dir: left alone
    const bystander = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', path.join(stale, 'x')], { stdio: 'ignore' });
    children.push(orphan, ours, bystander);
    await new Promise((r) => setTimeout(r, 500));
    const orphanExit = new Promise((r) => orphan.once('exit', (_c, signal) => r(signal)));

    const report = await reapStaleTempDirs({ root });
    expect(report.killed).toEqual([orphan.pid]);
    expect(await orphanExit).toBe('SIGKILL');
    expect(report.removed).toEqual([stale]);
    expect(fs.existsSync(stale)).toBe(false);
    expect(ours.exitCode).toBeNull();
    expect(ours.signalCode).toBeNull();
    expect(bystander.exitCode).toBeNull();
    expect(fs.existsSync(live)).toBe(true);
  });
});
