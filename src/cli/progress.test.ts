import { describe, expect, it } from 'vitest';
import { ChunkProgress, formatDuration } from './progress.js';

describe('ChunkProgress', () => {
  it('estimates pending documents from the chunks per byte seen for their kind, then overall', () => {
    const progress = new ChunkProgress(
      [
        { key: 'a.html', bytes: 10_000, kind: '.html' },
        { key: 'b.html', bytes: 20_000, kind: '.html' },
        { key: 'c.txt', bytes: 5_000, kind: '.txt' },
        { key: 'd.txt', bytes: 5_000, kind: '.txt' },
      ],
      0,
    );
    expect(progress.etaSeconds(1000)).toBeUndefined();
    progress.finish('a.html', 10); // HTML: 1 chunk per 1000 bytes
    // b.html ≈ 20 chunks; the .txt files have no density of their own yet and use the overall one: 5 each.
    expect(progress.total).toBeCloseTo(10 + 20 + 5 + 5);
    progress.finish('c.txt', 25); // text: 5 chunks per 1000 bytes
    expect(progress.total).toBeCloseTo(10 + 20 + 25 + 25);
    progress.update('b.html', 0.5);
    expect(progress.done).toBeCloseTo(10 + 25 + 10);
    // 45 of 80 chunks in 9 s: 35 left take 7 s.
    expect(progress.etaSeconds(9000)).toBeCloseTo(7);
  });

  it('counts a failed document as finished without teaching a density, and ignores unknown keys', () => {
    const progress = new ChunkProgress(
      [
        { key: 'bad.pdf', bytes: 1000, kind: '.pdf' },
        { key: 'ok.pdf', bytes: 1000, kind: '.pdf' },
      ],
      0,
    );
    progress.finish('bad.pdf', undefined);
    progress.update('nope', 1);
    progress.finish('nope', 5);
    progress.finish('ok.pdf', 7);
    expect(progress.total).toBe(7);
    expect(progress.done).toBe(7);
    expect(progress.etaSeconds(2000)).toBe(0);
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

describe('ChunkProgress.fractionShown', () => {
  it('never moves backwards when a denser kind raises the estimate, and reaches 1 when everything finished', () => {
    // Sorted order meets the dense kind last: after the HTML the run looks half done.
    const kinds = { html: ['a.html', 'b.html', 'c.html'], rst: ['d.rst.txt', 'e.rst.txt', 'f.rst.txt'] };
    const progress = new ChunkProgress(
      [...kinds.html.map((key) => ({ key, bytes: 10_000, kind: '.html' })), ...kinds.rst.map((key) => ({ key, bytes: 10_000, kind: '.txt' }))],
      0,
    );
    for (const key of kinds.html) progress.finish(key, 10);
    expect(progress.fractionShown()).toBeCloseTo(0.5);
    // reST turns out 5× denser: the honest fraction drops to 80 / 180, the shown one holds.
    progress.finish('d.rst.txt', 50);
    expect(progress.done / progress.total).toBeCloseTo(80 / 180);
    expect(progress.fractionShown()).toBeCloseTo(0.5);
    progress.finish('e.rst.txt', 50);
    expect(progress.fractionShown()).toBeCloseTo(130 / 180);
    progress.finish('f.rst.txt', 50);
    expect(progress.fractionShown()).toBe(1);
  });
});
