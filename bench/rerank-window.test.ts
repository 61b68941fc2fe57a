import { describe, expect, it } from 'vitest';
import { pairTokensToReadAnswer, rerankCeiling } from './lib/rerank-window.js';

const words = (text: string) => (text.trim() === '' ? 0 : text.trim().split(/\s+/).length);

describe('rerank window', () => {
  it('counts query, passage up to the end of the answer, and the three special tokens', () => {
    expect(pairTokensToReadAnswer(words, { query: 'how long', passage: 'leave lasts sixteen weeks at full pay', answer: 'sixteen weeks' })).toBe(2 + 4 + 3);
    expect(pairTokensToReadAnswer(words, { query: 'q', passage: 'no answer here', answer: 'missing' })).toBeNull();
  });

  it('gives per window and depth the share of questions with a readable answer among the first chunks', () => {
    // Question 1: answer in chunk 1 needing 80 tokens; question 2: only in chunk 3 needing 120; question 3: nowhere.
    const needed = [
      [80, null, null],
      [null, null, 120],
      [null, null, null],
    ];
    expect(rerankCeiling(needed, [96, 128], [1, 3])).toEqual([
      [0.333, 0.333],
      [0.333, 0.667],
    ]);
    expect(rerankCeiling([], [96], [5])).toEqual([[0]]);
  });
});
