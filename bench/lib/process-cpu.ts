import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process tree from /proc: the service and every process it started (reranker workers, model or parser
 * workers), so work moved out of the API process still counts as the service's cost.
 */

/** CPU ticks of one /proc/<pid>/stat line: utime + stime of the process and of its reaped children (cutime + cstime). */
export function parseStatCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  // After the name: state is field 3, so utime (14), stime (15), cutime (16), cstime (17) sit at indexes 11–14.
  const ticks = fields.slice(11, 15).map(Number);
  if (ticks.length !== 4 || ticks.some((value) => !Number.isFinite(value))) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return ticks.reduce((sum, value) => sum + value, 0);
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when getconf is missing). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** `pid` and all its live descendants (children of every thread, recursively). */
export function processTree(pid: number): number[] {
  const tree: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop() as number;
    tree.push(current);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${current}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        pending.push(...readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
      } catch {
        // The thread ended while we read.
      }
    }
  }
  return tree;
}

/**
 * CPU seconds (user + system) used so far by `pid` and its descendants, including descendants that already ended and
 * were reaped; null without /proc. Take the difference of two readings to get the CPU time of a period.
 */
export function processTreeCpuSeconds(pid: number): number | null {
  let ticks = 0;
  let found = false;
  for (const member of processTree(pid)) {
    try {
      ticks += parseStatCpuTicks(readFileSync(`/proc/${member}/stat`, 'utf8'));
      found = true;
    } catch {
      // The process ended between listing and reading: its time moved to its parent's cutime.
    }
  }
  return found ? ticks / clockTicksPerSecond() : null;
}
