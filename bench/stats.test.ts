import { describe, expect, it } from 'vitest';
import { percentile, summarize } from './lib/stats.js';

describe('percentile (nearest rank)', () => {
  const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('returns real samples: p50 of 1..10 is 5, p95 and p99 are 10', () => {
    expect(percentile(oneToTen, 50)).toBe(5);
    expect(percentile(oneToTen, 90)).toBe(9);
    expect(percentile(oneToTen, 95)).toBe(10);
    expect(percentile(oneToTen, 99)).toBe(10);
    expect(percentile(oneToTen, 100)).toBe(10);
  });

  it('on 1..100 the p-th percentile is p', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    for (const p of [1, 50, 95, 99, 100]) expect(percentile(values, p)).toBe(p);
  });

  it('one sample is every percentile; no samples is NaN', () => {
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('rejects percentiles outside (0, 100]', () => {
    expect(() => percentile(oneToTen, 0)).toThrow(RangeError);
    expect(() => percentile(oneToTen, 101)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts, counts and rounds to 0.01', () => {
    expect(summarize([3.333, 1, 2, 10, 4])).toEqual({ count: 5, min: 1, mean: 4.07, p50: 3.33, p95: 10, p99: 10, max: 10 });
  });

  it('is null for no samples, so JSON never holds NaN', () => {
    expect(summarize([])).toBeNull();
  });
});
