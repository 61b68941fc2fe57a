import { describe, expect, it } from 'vitest';
import { formatDuration, WeightedProgress } from './progress.js';

describe('WeightedProgress', () => {
  it('weights documents by size and counts running ones pro rata', () => {
    const progress = new WeightedProgress(new Map([['small', 100], ['big', 900], ['empty', 0]]), 0);
    expect(progress.totalWeight).toBe(1001);
    expect(progress.etaSeconds(10_000)).toBeUndefined();
    progress.update('big', 0.5);
    expect(progress.doneWeight).toBe(450);
    progress.finish('small');
    expect(progress.doneWeight).toBe(550);
    // 550 done in 11 s: 451 left take about 9 s.
    expect(progress.etaSeconds(11_000)).toBeCloseTo(9.02, 1);
    progress.finish('big');
    progress.finish('empty');
    expect(progress.doneWeight).toBe(1001);
    expect(progress.etaSeconds(20_000)).toBe(0);
  });

  it('ignores progress of unknown or finished documents', () => {
    const progress = new WeightedProgress(new Map([['a', 10]]), 0);
    progress.finish('a');
    progress.update('a', 0.5);
    progress.update('b', 1);
    expect(progress.doneWeight).toBe(10);
  });
});

describe('formatDuration', () => {
  it('never shows 60 seconds or 60 minutes', () => {
    expect(formatDuration(undefined)).toBe('…');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(119.7)).toBe('2m00s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3599.6)).toBe('1h00m');
    expect(formatDuration(3600 + 59 * 60 + 50)).toBe('2h00m');
    expect(formatDuration(3720)).toBe('1h02m');
  });
});
