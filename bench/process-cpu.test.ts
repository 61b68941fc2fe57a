import { describe, expect, it } from 'vitest';
import { parseStatCpuTicks, processTree, processTreeCpuSeconds } from './lib/process-cpu.js';

describe('parseStatCpuTicks', () => {
  it('sums utime, stime, cutime and cstime, counting fields after the command name', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
    const stat = '4242 (node) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 30 7 3 20 0 11 0 500 1000000 5000';
    expect(parseStatCpuTicks(stat)).toBe(150 + 30 + 7 + 3);
  });

  it('is not fooled by spaces and parentheses in the command name', () => {
    const stat = '77 (my (odd) name) R 1 77 77 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0 1 1 1';
    expect(parseStatCpuTicks(stat)).toBe(100);
  });

  it('rejects a line that is not a stat line', () => {
    expect(() => parseStatCpuTicks('nonsense')).toThrow(/stat line/);
  });
});

describe('processTreeCpuSeconds', () => {
  it('reads this process (a tree of one) and grows as it burns CPU', () => {
    expect(processTree(process.pid)).toContain(process.pid);
    const before = processTreeCpuSeconds(process.pid);
    expect(before).not.toBeNull();
    const until = Date.now() + 150;
    let spin = 0;
    while (Date.now() < until) spin++;
    expect(spin).toBeGreaterThan(0);
    expect(processTreeCpuSeconds(process.pid) as number).toBeGreaterThan(before as number);
  });

  it('is null for a process that does not exist', () => {
    expect(processTreeCpuSeconds(2 ** 22 + 12345)).toBeNull();
  });
});
