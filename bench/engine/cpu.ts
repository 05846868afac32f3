import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU ms (user + system) of the children this process has reaped, and of their own reaped children: Linux adds a
 * reaped child's times to its parent's `cutime`/`cstime` (/proc/self/stat, the 16th and 17th fields).
 */
export function reapedChildrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from the 3rd field (state) on
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_S;
}
