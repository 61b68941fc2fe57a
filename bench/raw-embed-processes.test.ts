import { describe, expect, it } from 'vitest';
import { dealBatches } from './lib/raw-embed-processes.js';

describe('dealBatches', () => {
  it('cuts batches in order and deals them round-robin, every text exactly once', () => {
    const texts = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const shares = dealBatches(texts, 2, 2);
    expect(shares).toEqual([
      [
        ['a', 'b'],
        ['e', 'f'],
      ],
      [['c', 'd'], ['g']],
    ]);
    expect(shares.flat(2).sort()).toEqual(texts);
  });

  it('leaves shares empty when there are fewer batches than processes', () => {
    expect(dealBatches(['a'], 16, 3)).toEqual([[['a']], [], []]);
  });
});
