import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../errors/index.js';
import { CrossEncoderReranker } from './cross-encoder-reranker.js';
import { CrossEncoderWorkerPool, splitEvenly } from './cross-encoder-worker-pool.js';

// Real processes and real files: the LATENCY-ONLY cross-encoder of `npm run models:export` (untrained head: these tests
// check that the pool gives exactly the in-thread scores and survives failures, never ranking quality).
const modelsDir = path.resolve(process.env.MODELS_DIR ?? './models');
const modelId = 'local/minilm-l6-cross-encoder-LATENCY-ONLY';
const base = { modelId, modelsDir, offline: true, dtype: 'q8' as const, maxBatchSize: 32, maxTokens: 192 };

const query = 'how long do I have to pay an invoice?';
const passages = [
  'Invoices are due within 30 days of the issue date.',
  'The quick brown fox jumps over the lazy dog.',
  'Late payments incur a 2% fee per month. '.repeat(80),
  '',
  'Refunds are paid within fourteen days of the return.',
];

describe('splitEvenly', () => {
  it('cuts into contiguous slices whose lengths differ by at most one, never more slices than items', () => {
    expect(splitEvenly([1, 2, 3, 4, 5], 2)).toEqual([[1, 2, 3], [4, 5]]);
    expect(splitEvenly([1, 2], 3)).toEqual([[1], [2]]);
    expect(splitEvenly([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5], [6, 7]]);
    expect(splitEvenly([], 2)).toEqual([]);
  });
});

describe('CrossEncoderWorkerPool (LATENCY-ONLY model: no quality assertions)', () => {
  let pool: CrossEncoderWorkerPool;
  let single: CrossEncoderReranker;

  beforeAll(async () => {
    pool = new CrossEncoderWorkerPool({ ...base, workers: 2 });
    single = new CrossEncoderReranker(base);
    await Promise.all([pool.warmup(), single.warmup()]);
  });

  afterAll(async () => {
    await pool?.dispose();
    await single?.dispose();
  });

  it('gives exactly the scores of one in-thread session, in input order, whatever the slicing', async () => {
    const expected = await single.score({ query, passages });
    expect(await pool.score({ query, passages })).toEqual(expected);
    expect(await pool.score({ query, passages: passages.slice(0, 1) })).toEqual(expected.slice(0, 1));
    expect(await pool.score({ query, passages: [] })).toEqual([]);
    expect(await pool.pairTokens()).toBe(192);
  });

  it('answers concurrent requests each with its own scores', async () => {
    const other = 'when are refunds paid?';
    const [first, second] = await Promise.all([pool.score({ query, passages }), pool.score({ query: other, passages })]);
    expect(first).toEqual(await single.score({ query, passages }));
    expect(second).toEqual(await single.score({ query: other, passages }));
  });

  it('rejects more than maxBatchSize passages', async () => {
    await expect(pool.score({ query, passages: new Array<string>(33).fill('x') })).rejects.toMatchObject({ code: 'BATCH_TOO_LARGE' });
  });

  it('fails the requests of a process that dies with RERANKER_FAILED, then starts new processes', async () => {
    const running = (pool as unknown as { current: { workers: { worker: { kill(signal: string): boolean } }[] } }).current;
    const inFlight = pool.score({ query, passages: new Array<string>(20).fill(passages[2] as string) });
    running.workers[0]!.worker.kill('SIGKILL');
    const error: unknown = await inFlight.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('RERANKER_FAILED');
    expect(await pool.score({ query, passages })).toEqual(await single.score({ query, passages }));
  });
});

describe('CrossEncoderWorkerPool loading', () => {
  const emptyDir = mkdtempSync(path.join(tmpdir(), 'rag-pool-test-'));
  afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

  it('reports a missing model as the MODEL_UNAVAILABLE UpstreamError of the worker, naming model and MODELS_DIR', async () => {
    const pool = new CrossEncoderWorkerPool({ ...base, modelId: 'Xenova/ms-marco-MiniLM-L-6-v2', modelsDir: emptyDir, workers: 2 });
    try {
      const error: unknown = await pool.score({ query, passages: ['x'] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).code).toBe('MODEL_UNAVAILABLE');
      expect((error as UpstreamError).message).toContain('Xenova/ms-marco-MiniLM-L-6-v2');
      expect((error as UpstreamError).message).toContain(emptyDir);
      // Within the back-off the same error object comes back: no new processes were started (they would fail anew).
      await expect(pool.warmup()).rejects.toBe(error);
    } finally {
      await pool.dispose();
    }
  });
});
