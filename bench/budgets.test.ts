import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetFileSchema, budgetsPassed, checkLatency, checkQuality, formatCheckLines, judge, loadBudgetFile, type SizeMeasurements } from './lib/budgets.js';

const sizes: SizeMeasurements[] = [
  {
    targetChunks: 1000,
    chunks: 1012,
    values: { 'memory.rssAfterLoadMb': 480, 'embedOverhead.ratio': 1.2 },
    runs: [
      { scenario: 'hybrid', concurrency: 1, values: { 'server.totalMs.p95': 18, errorRate: 0 } },
      { scenario: 'hybrid', concurrency: 4, values: { 'server.totalMs.p95': 45, errorRate: 0 } },
      { scenario: 'hybrid-rerank', concurrency: 1, values: { 'server.totalMs.p95': 140, errorRate: 0.01 } },
    ],
  },
];

describe('judge', () => {
  it('compares against max or min and treats a missing value as its own status', () => {
    expect(judge(10, { max: 10 })).toBe('pass');
    expect(judge(10.01, { max: 10 })).toBe('fail');
    expect(judge(0.5, { min: 0.6 })).toBe('fail');
    expect(judge(null, { max: 1 })).toBe('missing');
    expect(judge(Number.NaN, { max: 1 })).toBe('missing');
  });
});

describe('checkLatency', () => {
  it('applies a scenario check to the matching concurrency only', () => {
    const results = checkLatency([{ id: 'p95', scenario: 'hybrid', concurrency: 1, metric: 'server.totalMs.p95', max: 20, comment: 'c' }], 'check', sizes);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: 'pass', measured: 18, where: '1012 chunks · hybrid · c=1' });
  });

  it('expands "*" over every scenario and every concurrency when none is given', () => {
    const results = checkLatency([{ id: 'errors', scenario: '*', metric: 'errorRate', max: 0, comment: 'c' }], 'check', sizes);
    expect(results.map((result) => result.status)).toEqual(['pass', 'pass', 'fail']);
  });

  it('reads per-size values when no scenario is given', () => {
    const results = checkLatency([{ id: 'rss', metric: 'memory.rssAfterLoadMb', max: 400, comment: 'c' }], 'check', sizes);
    expect(results[0]).toMatchObject({ status: 'fail', measured: 480 });
  });

  it('skips sizes the check is not for and reports an unknown metric as missing', () => {
    expect(checkLatency([{ id: 't', sizes: [100_000], scenario: 'hybrid', metric: 'server.totalMs.p95', max: 20, comment: 'c' }], 'target', sizes)).toEqual([]);
    const [result] = checkLatency([{ id: 'typo', scenario: 'hybrid', concurrency: 1, metric: 'server.totalMs.p59', max: 20, comment: 'c' }], 'check', sizes);
    expect(result?.status).toBe('missing');
  });
});

describe('budgetsPassed', () => {
  const failedTarget = checkLatency([{ id: 't', scenario: 'hybrid-rerank', concurrency: 1, metric: 'server.totalMs.p95', max: 100, comment: 'c' }], 'target', sizes);
  const failedCheck = checkLatency([{ id: 'c', scenario: 'hybrid', concurrency: 4, metric: 'server.totalMs.p95', max: 40, comment: 'c' }], 'check', sizes);

  it('fails on a failed check, and on a missed target only when targets are enforced', () => {
    expect(budgetsPassed(failedTarget, { enforceTargets: false })).toBe(true);
    expect(budgetsPassed(failedTarget, { enforceTargets: true })).toBe(false);
    expect(budgetsPassed(failedCheck, { enforceTargets: false })).toBe(false);
  });

  it('prints FAIL and MISS lines with the budget and the measurement', () => {
    expect(formatCheckLines([...failedCheck, ...failedTarget])).toEqual([
      'FAIL [check] c: server.totalMs.p95 = 45 (budget ≤ 40) at 1012 chunks · hybrid · c=4',
      'MISS [target] t: server.totalMs.p95 = 140 (budget ≤ 100) at 1012 chunks · hybrid-rerank · c=1',
    ]);
  });
});

describe('checkQuality', () => {
  const modes = [
    { mode: 'hybrid' as const, overall: { hitAt1: 0.5, hitAt5: 0.8, mrrAt10: 0.6, ndcgAt10: 0.62 }, byStyle: { paraphrase: { hitAt1: 0.3, hitAt5: 0.7, mrrAt10: 0.45, ndcgAt10: 0.5 } } },
  ];

  it('checks overall and per-style floors of the corpus being evaluated', () => {
    const results = checkQuality(
      [
        { id: 'a', mode: 'hybrid', metric: 'hitAt5', min: 0.75, comment: 'c' },
        { id: 'b', mode: 'hybrid', metric: 'hitAt5', style: 'paraphrase', min: 0.75, comment: 'c' },
        { id: 'c', mode: 'hybrid', metric: 'hitAt5', corpus: 'full', min: 0.99, comment: 'c' },
      ],
      'subset',
      modes,
    );
    expect(results.map((result) => [result.id, result.status])).toEqual([
      ['a', 'pass'],
      ['b', 'fail'],
    ]);
    expect(budgetsPassed(results, { enforceTargets: false })).toBe(false);
  });
});

describe('budget file', () => {
  it('the committed bench/budgets.json is valid and every entry explains itself', async () => {
    const file = await loadBudgetFile(path.resolve('bench/budgets.json'));
    const entries = [...file.latency.checks, ...file.latency.targets, ...file.quality.floors, ...(file.isolation?.checks ?? []), ...(file.isolation?.targets ?? [])];
    expect(file.isolation?.targets.map((target) => target.id)).toEqual(['issue16-search-p95-during-ingest', 'issue16-healthz-p99-during-ingest', 'issue16-ingest-all-cores']);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry.comment.length).toBeGreaterThan(10);
  });

  it('rejects an entry with both max and min, naming the field', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'budgets-'));
    const file = path.join(dir, 'budgets.json');
    await writeFile(file, JSON.stringify({ schemaVersion: 1, latency: { checks: [{ id: 'x', metric: 'm', max: 1, min: 0, comment: 'c' }], targets: [] }, quality: { floors: [] } }));
    await expect(loadBudgetFile(file)).rejects.toThrow(/latency\.checks\.0/);
    expect(budgetFileSchema.safeParse({ schemaVersion: 2 }).success).toBe(false);
  });
});
