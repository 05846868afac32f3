import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

/**
 * CPU accounting (Linux /proc), so a run on a shared machine can say how much of the CPU went to the benchmark's
 * own process tree and how much to something else running at the same time.
 */
let ticksPerSecond: number | undefined;
function clkTck(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime, stime, cutime, cstime of a process in ms (cutime/cstime: its children that have exited and been reaped). */
export function procTimes(pid: number | 'self'): { own: number; children: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const f = (n: number) => Number(rest[n - 3]);
    const ms = 1000 / clkTck();
    return { own: (f(14) + f(15)) * ms, children: (f(16) + f(17)) * ms };
  } catch {
    return undefined;
  }
}

/** Busy CPU time of the whole machine, all cores, in ms (user + nice + sys + irq). */
export function machineBusyMs(): number {
  return os.cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
}

/** CPU of this process (s3rver and the proxy run here) plus its reaped children, in ms. */
export function treeMs(): number {
  const t = procTimes('self');
  if (t) return t.own + t.children;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
