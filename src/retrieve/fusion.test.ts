import { describe, expect, it } from 'vitest';
import { DEFAULT_RRF_K, fuseReciprocalRank, fuseHybrid } from './fusion.js';

const byId = { key: (id: string) => id };

describe('fuseReciprocalRank', () => {
  it('sums 1/(k+rank) over the lists with k=60 by default', () => {
    const fused = fuseReciprocalRank([['a', 'b'], ['b', 'c']], byId);
    expect(DEFAULT_RRF_K).toBe(60);
    expect(fused.map((f) => f.item)).toEqual(['b', 'a', 'c']);
    expect(fused[0]?.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[1]?.score).toBeCloseTo(1 / 61, 12);
    expect(fused[2]?.score).toBeCloseTo(1 / 62, 12);
  });

  it('honours a custom k and a limit', () => {
    const fused = fuseReciprocalRank([['a', 'b', 'c']], { ...byId, k: 1, limit: 2 });
    expect(fused).toEqual([{ item: 'a', score: 1 / 2 }, { item: 'b', score: 1 / 3 }]);
  });

  it('breaks score ties by best rank, then by first appearance, deterministically', () => {
    // 'p' and 'q' are each rank 1 in one list: equal score and best rank, so first appearance decides.
    const fused = fuseReciprocalRank([['p', 'r'], ['q', 's']], byId);
    expect(fused.map((f) => f.item)).toEqual(['p', 'q', 'r', 's']);
    const swapped = fuseReciprocalRank([['q', 's'], ['p', 'r']], byId);
    expect(swapped.map((f) => f.item)).toEqual(['q', 'p', 's', 'r']);
  });

  it('keeps the first occurrence of an item and counts duplicates within one list once', () => {
    const lists = [[{ id: 'a', from: 'dense' }, { id: 'a', from: 'dense-dup' }], [{ id: 'a', from: 'keyword' }]];
    const fused = fuseReciprocalRank(lists, { key: (item) => item.id });
    expect(fused).toHaveLength(1);
    expect(fused[0]?.item.from).toBe('dense');
    expect(fused[0]?.score).toBeCloseTo(2 / 61, 12);
  });

  it('handles empty input and rejects a non-positive k', () => {
    expect(fuseReciprocalRank([], byId)).toEqual([]);
    expect(fuseReciprocalRank([[], []], byId)).toEqual([]);
    expect(() => fuseReciprocalRank([['a']], { ...byId, k: 0 })).toThrow(RangeError);
  });
});

describe('weighted fusion', () => {
  it('scales each list by its weight', () => {
    const fused = fuseReciprocalRank([['a', 'b'], ['b', 'a']], { key: (x) => x, k: 5, weights: [1, 0.5] });
    expect(fused.map((f) => f.item)).toEqual(['a', 'b']);
    expect(fused[0]!.score).toBeCloseTo(1 / 6 + 0.5 / 7, 12);
  });

  it('fuseHybrid lets a top dense hit beat a chunk that is merely in both lists', () => {
    const dense = [{ id: 'top' }, { id: 'x1' }, { id: 'x2' }, { id: 'x3' }, { id: 'x4' }, { id: 'both' }];
    const keyword = [{ id: 'k1' }, { id: 'k2' }, { id: 'both' }];
    expect(fuseHybrid(dense, keyword, 2).map((f) => f.item.id)).toEqual(['top', 'both']);
    // Plain RRF (k = 60, equal weights) would put 'both' first: 1/66 + 1/63 > 1/61.
    expect(fuseReciprocalRank([dense, keyword], { key: (x) => x.id, limit: 1 })[0]!.item.id).toBe('both');
  });
});
