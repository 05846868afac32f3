import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * Test helper: a small tmpfs at `dir` (created if missing), optionally remounted read-only — a real ENOSPC and a
 * real EROFS (a 0555 folder is not read-only for root). Needs root and mount(8); returns false when it cannot
 * (the caller falls back or skips). Unmount with `unmountTmpfs` in afterAll.
 */
export function mountTmpfs(dir: string, opts: { size?: string; readOnly?: boolean; populate?: (dir: string) => void } = {}): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.size ?? '1m'}`, 'tmpfs', dir], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    return false;
  }
  try {
    opts.populate?.(dir);
    if (opts.readOnly) execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    unmountTmpfs(dir);
    return false;
  }
  return true;
}

export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* not mounted */
    }
  }
}
