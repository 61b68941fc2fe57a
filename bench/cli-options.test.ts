import { describe, expect, it } from 'vitest';
import { integerListOption, integerOption } from './lib/cli-options.js';

describe('bench flags', () => {
  it('parses a whole number within bounds and falls back when absent', () => {
    expect(integerOption(undefined, 'reps', 6)).toBe(6);
    expect(integerOption(' 12 ', 'reps', 6)).toBe(12);
    expect(integerOption('0', 'pages', 60, { min: 0 })).toBe(0);
  });

  it('refuses fractions, words, out-of-range values and lists, naming the flag and the range', () => {
    expect(() => integerOption('1.5', 'reps', 6)).toThrow("--reps takes a whole number ≥ 1, got '1.5'");
    expect(() => integerOption('ten', 'reps', 6)).toThrow('--reps');
    expect(() => integerOption('', 'reps', 6)).toThrow('--reps');
    expect(() => integerOption('5', 'chunks', 50, { min: 10, max: 100 })).toThrow("--chunks takes a whole number from 10 to 100, got '5'");
    expect(() => integerOption('1,2', 'reps', 6)).toThrow('--reps takes a whole number');
  });

  it('parses comma-separated lists', () => {
    expect(integerListOption(undefined, 'sizes', [1000])).toEqual([1000]);
    expect(integerListOption('1000, 10000,100000', 'sizes', [])).toEqual([1000, 10_000, 100_000]);
    expect(() => integerListOption('1000,,5', 'sizes', [])).toThrow("--sizes takes whole numbers ≥ 1 separated by commas, got '1000,,5'");
    expect(() => integerListOption('64,1024', 'lengths', [], { min: 8, max: 512 })).toThrow('from 8 to 512');
  });
});
