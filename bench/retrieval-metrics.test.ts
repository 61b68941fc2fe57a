import { describe, expect, it } from 'vitest';
import { collapseToDocuments, firstMatchRank, firstRelevantRank, hitAt, meanMetrics, ndcgAt, recallAtDepths, reciprocalRankAt, scoreRanking } from './lib/retrieval-metrics.js';

describe('collapseToDocuments', () => {
  it('keeps the first occurrence of each page in rank order', () => {
    const hits = ['a', 'b', 'a', 'c', 'b', 'd'].map((documentId) => ({ documentId }));
    expect(collapseToDocuments(hits)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('hit@k and reciprocal rank', () => {
  const ranked = ['x', 'y', 'rel', 'z'];

  it('finds the first relevant page by 1-based rank', () => {
    expect(firstRelevantRank(ranked, ['rel'], 10)).toBe(3);
    expect(firstRelevantRank(ranked, ['rel'], 2)).toBeNull();
  });

  it('hit@k is 1 only when a relevant page is within k', () => {
    expect(hitAt(ranked, ['rel'], 1)).toBe(0);
    expect(hitAt(ranked, ['rel'], 3)).toBe(1);
    expect(hitAt(ranked, ['other', 'y'], 5)).toBe(1);
  });

  it('reciprocal rank uses the best-ranked relevant page and is 0 past k', () => {
    expect(reciprocalRankAt(ranked, ['rel'], 10)).toBeCloseTo(1 / 3, 12);
    expect(reciprocalRankAt(ranked, ['z', 'y'], 10)).toBe(0.5);
    expect(reciprocalRankAt(ranked, ['rel'], 2)).toBe(0);
  });
});

describe('nDCG@k with graded gains (first labelled page 2, others 1)', () => {
  it('is 1 for the ideal order', () => {
    expect(ndcgAt(['p1', 'p2', 'x'], ['p1', 'p2'], 10)).toBe(1);
  });

  it('matches a hand computation when the primary page is second', () => {
    // DCG = 0/log2(2) + 2/log2(3) = 1.261860; IDCG = 2/1 = 2 (one relevant page).
    expect(ndcgAt(['x', 'p1'], ['p1'], 10)).toBeCloseTo(2 / Math.log2(3) / 2, 12);
    expect(ndcgAt(['x', 'p1'], ['p1'], 10)).toBeCloseTo(0.63093, 5);
  });

  it('matches a hand computation with two labelled pages in swapped order', () => {
    // Ranked p2 (gain 1), p1 (gain 2): DCG = 1 + 2/log2(3) = 2.261860; IDCG = 2 + 1/log2(3) = 2.630930.
    expect(ndcgAt(['p2', 'p1'], ['p1', 'p2'], 10)).toBeCloseTo((1 + 2 / Math.log2(3)) / (2 + 1 / Math.log2(3)), 12);
    expect(ndcgAt(['p2', 'p1'], ['p1', 'p2'], 10)).toBeCloseTo(0.85972, 5);
  });

  it('ignores pages below k and counts a repeated page once', () => {
    expect(ndcgAt(['a', 'b', 'p1'], ['p1'], 2)).toBe(0);
    expect(ndcgAt(['p2', 'p2', 'p1'], ['p1', 'p2'], 10)).toBeCloseTo(0.85972, 5);
  });

  it('is 0 with no relevant page retrieved', () => {
    expect(ndcgAt(['a', 'b'], ['p1'], 10)).toBe(0);
  });
});

describe('scoreRanking and meanMetrics', () => {
  it('scores one question and averages several', () => {
    const first = scoreRanking(['p1', 'x'], ['p1']);
    const second = scoreRanking(['a', 'b', 'c', 'd', 'e', 'p1'], ['p1']);
    expect(first).toEqual({ hitAt1: 1, hitAt5: 1, mrrAt10: 1, ndcgAt10: 1 });
    expect(second.hitAt5).toBe(0);
    expect(second.mrrAt10).toBeCloseTo(1 / 6, 12);
    // nDCG: 2/log2(7) / 2 = 0.356207
    expect(second.ndcgAt10).toBeCloseTo(1 / Math.log2(7), 12);
    expect(meanMetrics([first, second])).toEqual({ questions: 2, hitAt1: 0.5, hitAt5: 0.5, mrrAt10: 0.583, ndcgAt10: 0.678 });
  });

  it('averages nothing to zeros', () => {
    expect(meanMetrics([])).toEqual({ questions: 0, hitAt1: 0, hitAt5: 0, mrrAt10: 0, ndcgAt10: 0 });
  });
});

describe('candidate recall', () => {
  it('finds the 1-based rank of the first match, or null', () => {
    expect(firstMatchRank(['a', 'b', 'c'], (item) => item === 'b')).toBe(2);
    expect(firstMatchRank(['a'], (item) => item === 'z')).toBeNull();
  });

  it('gives the share of ranks within each depth, misses counting as not found', () => {
    expect(recallAtDepths([1, 6, 12, null], [5, 10, 20])).toEqual([0.25, 0.5, 0.75]);
    expect(recallAtDepths([], [5])).toEqual([]);
  });
});
