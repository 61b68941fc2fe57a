import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AutoModelForSequenceClassification } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError, UpstreamError } from '../../errors/index.js';
import { CrossEncoderReranker } from './cross-encoder-reranker.js';

// Real files: `npm run models:export` writes this model into MODELS_DIR. It has the shape and cost of
// ms-marco-MiniLM-L-6-v2 but an UNTRAINED head: these tests check plumbing and determinism, never ranking quality.
const modelsDir = path.resolve(process.env.MODELS_DIR ?? './models');
const latencyOnlyModelId = 'local/minilm-l6-cross-encoder-LATENCY-ONLY';

function createReranker(dtype: 'fp32' | 'q8', overrides: Partial<ConstructorParameters<typeof CrossEncoderReranker>[0]> = {}) {
  return new CrossEncoderReranker({ modelId: latencyOnlyModelId, modelsDir, offline: true, dtype, maxBatchSize: 32, ...overrides });
}

const query = 'how long do I have to pay an invoice?';
const passages = [
  'Invoices are due within 30 days of the issue date.',
  'The quick brown fox jumps over the lazy dog.',
  'Late payments incur a 2% fee per month. '.repeat(80), // longer than 512 tokens: truncated
  '',
];

describe.each(['q8', 'fp32'] as const)('CrossEncoderReranker (%s, LATENCY-ONLY model: no quality assertions)', (dtype) => {
  let reranker: CrossEncoderReranker;

  beforeAll(async () => {
    reranker = createReranker(dtype);
    await reranker.warmup();
  });

  it('loads the latency-only model, which says so in its config', () => {
    const config = JSON.parse(readFileSync(path.join(modelsDir, latencyOnlyModelId, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['latency_only']).toBe(true);
    expect(reranker.modelId).toBe(latencyOnlyModelId);
    expect(reranker.maxBatchSize).toBe(32);
  });

  it('returns one finite score per passage, including over-long and empty passages', async () => {
    const scores = await reranker.score({ query, passages });
    expect(scores).toHaveLength(passages.length);
    for (const score of scores) expect(Number.isFinite(score)).toBe(true);
  });

  it('is deterministic and scores each passage independently of the others and of their order', async () => {
    const first = await reranker.score({ query, passages });
    const again = await reranker.score({ query, passages });
    const reversed = await reranker.score({ query, passages: [...passages].reverse() });
    const alone = await reranker.score({ query, passages: [passages[1]!] });
    expect(again).toEqual(first);
    expect(reversed).toEqual([...first].reverse());
    expect(alone[0]).toBe(first[1]);
  });

  it('returns no scores for no passages, and rejects more than maxBatchSize', async () => {
    await expect(reranker.score({ query, passages: [] })).resolves.toEqual([]);
    const error: unknown = await reranker.score({ query, passages: new Array<string>(33).fill('x') }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('BATCH_TOO_LARGE');
  });
});

describe('CrossEncoderReranker maxTokens cap (q8, LATENCY-ONLY model)', () => {
  const cap = 32;
  let capped: CrossEncoderReranker;
  let uncapped: CrossEncoderReranker;
  const long = 'Late payments incur a 2% fee per month after the due date has passed. '.repeat(20);
  const short = 'Invoices are due in 30 days.'; // ~8 tokens: the pair fits under the cap

  beforeAll(async () => {
    capped = createReranker('q8', { maxTokens: cap });
    uncapped = createReranker('q8');
    await Promise.all([capped.warmup(), uncapped.warmup()]);
  });
  afterAll(async () => {
    await Promise.all([capped.dispose(), uncapped.dispose()]);
  });

  it('reads at most maxTokens per pair, and never more than the model limit', async () => {
    await expect(capped.pairTokens()).resolves.toBe(cap);
    await expect(uncapped.pairTokens()).resolves.toBe(512);
    const above = createReranker('q8', { maxTokens: 4096 });
    await expect(above.pairTokens()).resolves.toBe(512);
    await above.dispose();
    expect(() => createReranker('q8', { maxTokens: 0 })).toThrow(AppError);
  });

  it('truncates a long passage to the cap: one finite score per passage, in input order', async () => {
    const set = [long, short, `${long} A tail past the cap that must not change the score.`, ''];
    const scores = await capped.score({ query, passages: set });
    expect(scores).toHaveLength(set.length);
    for (const score of scores) expect(Number.isFinite(score)).toBe(true);
    // Only the first tokens of a long passage are read: its score ignores what follows the cap …
    expect(scores[2]).toBe(scores[0]);
    // … and differs from reading it all (uncapped), while a pair under the cap scores exactly as without one.
    const full = await uncapped.score({ query, passages: set });
    expect(scores[0]).not.toBe(full[0]);
    expect(scores[1]).toBe(full[1]);
    const reversed = await capped.score({ query, passages: [...set].reverse() });
    expect(reversed).toEqual([...scores].reverse());
  });

  it('cuts the passage, not the query', async () => {
    const [base] = await capped.score({ query, passages: [long] });
    const [longerQuery] = await capped.score({ query: `${query} (late fees)`, passages: [long] });
    expect(longerQuery).not.toBe(base);
  });
});

describe('CrossEncoderReranker pairsPerCall (fp32, LATENCY-ONLY model)', () => {
  it('pads batched pairs and returns the one-pair-per-call scores in input order', async () => {
    const batched = createReranker('fp32', { pairsPerCall: 3, maxTokens: 64 });
    const single = createReranker('fp32', { maxTokens: 64 });
    const mixed = [...passages, 'Payment terms: net 30.', 'Short.'];
    const [a, b] = await Promise.all([batched.score({ query, passages: mixed }), single.score({ query, passages: mixed })]);
    expect(a).toHaveLength(mixed.length);
    a.forEach((score, i) => expect(score).toBeCloseTo(b[i]!, 4));
    await Promise.all([batched.dispose(), single.dispose()]);
  });
});

describe('CrossEncoderReranker loading', () => {
  const emptyDir = mkdtempSync(path.join(tmpdir(), 'rag-reranker-test-'));
  afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

  it('fails with MODEL_UNAVAILABLE naming the model, MODELS_DIR and the fix when offline and the model is missing', async () => {
    const reranker = createReranker('q8', { modelId: 'Xenova/ms-marco-MiniLM-L-6-v2', modelsDir: emptyDir });
    const error: unknown = await reranker.score({ query, passages: ['x'] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('MODEL_UNAVAILABLE');
    expect((error as UpstreamError).message).toContain('Xenova/ms-marco-MiniLM-L-6-v2');
    expect((error as UpstreamError).message).toContain(emptyDir);
    expect((error as UpstreamError).message).toContain('npm run models:export');
    await expect(reranker.warmup()).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('does not try a failed load again on every call: later calls within the back-off get the same error at once', async () => {
    // Every file present but the ONNX graph broken: from_pretrained runs and fails (as a failed Hub download would).
    const target = path.join(emptyDir, 'broken', latencyOnlyModelId);
    mkdirSync(path.join(target, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(modelsDir, latencyOnlyModelId, file), path.join(target, file));
    writeFileSync(path.join(target, 'onnx', 'model_quantized.onnx'), 'not an onnx graph');
    const spy = vi.spyOn(AutoModelForSequenceClassification, 'from_pretrained');
    try {
      const reranker = createReranker('q8', { modelsDir: path.join(emptyDir, 'broken') });
      const first: unknown = await reranker.score({ query, passages: ['x'] }).catch((caught: unknown) => caught);
      expect(first).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
      const again: unknown = await reranker.score({ query, passages: ['x'] }).catch((caught: unknown) => caught);
      expect(again).toBe(first);
      await expect(reranker.load()).rejects.toBe(first);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});
