import { describe, expect, it } from 'vitest';
import { checkLatency } from './lib/budgets.js';
import { isolationMeasurements, renderIsolationMarkdown, SEARCH_DURING_INGEST, type IsolationReport } from './lib/isolation-report.js';
import type { LoadSummary } from './lib/load-loop.js';
import { ratio, type PhaseResult } from './lib/search-during-ingest.js';
import { summarize } from './lib/stats.js';

function phase(searchMs: number[], healthzMs: number[]): PhaseResult {
  const client = summarize(searchMs);
  const search: LoadSummary = {
    requests: searchMs.length,
    errors: 0,
    errorRate: 0,
    errorExamples: [],
    wallSeconds: 1,
    throughputRps: searchMs.length,
    stoppedBy: 'count',
    client,
    server: { embedMs: client, searchMs: client, rerankMs: null, totalMs: client },
  };
  return { search, healthz: { requests: healthzMs.length, errors: 0, latencyMs: summarize(healthzMs) } };
}

const idle = phase([20, 22, 24, 40], [1, 1, 2, 3]);
const ingest = phase([200, 300, 800, 1000], [5, 40, 120, 300]);
const report: IsolationReport = {
  schemaVersion: 1,
  kind: 'isolation',
  short: true,
  createdAt: '2026-12-04T18:00:00.000Z',
  durationSeconds: 90,
  command: ['--short'],
  environment: { node: 'v20', cores: 2, cpuModel: 'EPYC', loadAverageAtStart: [1, 1, 1], loadAverageAtEnd: [2, 1, 1], gitCommit: 'abcdef1234567890' },
  service: { startedAs: 'node --import tsx src/serve/main.ts', settings: { EMBED_CACHE_SIZE: 0 } },
  corpus: { chunks: 1011, cacheKey: 'latency-1000-x', cacheUsed: true },
  options: { pages: 24, uploadsInFlight: 4, idleRequests: 4, maxIngestSeconds: 75, topK: 10, seed: 42 },
  searchDuringIngest: {
    searchCollection: 'bench',
    uploadCollection: 'bench-uploads',
    uploadsInFlight: 4,
    idle,
    ingest,
    upload: { pagesOffered: 24, pagesIngested: 24, failed: 0, chunks: 900, seconds: 60, chunksPerSecond: 15, allPagesIngested: true, abandoned: 0 },
    ratios: { searchClientP50: ratio(300, 22), searchClientP95: ratio(1000, 40), serverTotalP95: ratio(1000, 40), healthzP99: ratio(300, 3) },
  },
  budgets: null,
};

describe('ratio', () => {
  it('divides busy by idle, rounded, and is null without an idle value', () => {
    expect(ratio(1000, 40)).toBe(25);
    expect(ratio(30, 20)).toBe(1.5);
    expect(ratio(30, undefined)).toBeNull();
    expect(ratio(30, 0)).toBeNull();
  });
});

describe('isolationMeasurements', () => {
  it('names idle and busy values and the ratios, and the budget machinery checks them', () => {
    const measured = isolationMeasurements(report);
    expect(measured.runs[0]?.scenario).toBe(SEARCH_DURING_INGEST);
    expect(measured.runs[0]?.values).toMatchObject({ 'idle.search.client.p95': 40, 'ingest.search.client.p95': 1000, 'ingest.healthz.p99': 300, 'ratio.searchClientP95': 25, 'upload.failed': 0 });
    const results = checkLatency(
      [
        { id: 'ratio', scenario: SEARCH_DURING_INGEST, metric: 'ratio.searchClientP95', max: 2, comment: 'c' },
        { id: 'healthz', scenario: SEARCH_DURING_INGEST, metric: 'ingest.healthz.p99', max: 50, comment: 'c' },
        { id: 'other scenario', scenario: 'ingest-all-cores', metric: 'ratio', min: 0.9, comment: 'c' },
      ],
      'target',
      [measured],
    );
    expect(results.map((result) => [result.id, result.status, result.measured])).toEqual([
      ['ratio', 'fail', 25],
      ['healthz', 'fail', 300],
    ]);
  });
});

describe('renderIsolationMarkdown', () => {
  it('sets idle and during-ingestion values side by side with the ratio and the load', () => {
    const markdown = renderIsolationMarkdown(report);
    expect(markdown).toContain('| search p95, client | 40.0 | 1000.0 | 25.00× |');
    expect(markdown).toContain('| /healthz p99 | 3.0 | 300.0 | 100.00× |');
    expect(markdown).toContain('load average 1 1 1 at start, 2 1 1 at end');
    expect(markdown).toContain('24 of 24 pages (0 failed), 900 chunks in 60 s = 15 chunks/s');
  });
});
