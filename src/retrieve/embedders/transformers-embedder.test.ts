import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AutoModel, AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError, UpstreamError } from '../../errors/index.js';
import { loadModel } from '../model-files.js';
import { TransformersEmbedder } from './transformers-embedder.js';

// Real model, real files: `npm run models:export` writes them (CI points MODELS_DIR at its cache).
const modelsDir = path.resolve(process.env.MODELS_DIR ?? './models');
const modelId = 'Xenova/all-MiniLM-L6-v2';

interface ReferenceFile {
  sentences: string[];
  embeddings: number[][];
  maxTokens: number;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! * a[i]!;
    normB += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(normA * normB);
}

function norm(vector: Float32Array): number {
  return Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
}

function createEmbedder(dtype: 'fp32' | 'q8', overrides: Partial<ConstructorParameters<typeof TransformersEmbedder>[0]> = {}) {
  return new TransformersEmbedder({ modelId, modelsDir, offline: true, dtype, maxBatchSize: 32, ...overrides });
}

describe.each([
  { dtype: 'q8' as const, minCosine: 0.98 },
  { dtype: 'fp32' as const, minCosine: 0.99 },
])('TransformersEmbedder ($dtype, real model)', ({ dtype, minCosine }) => {
  let embedder: TransformersEmbedder;
  let reference: ReferenceFile;

  beforeAll(async () => {
    reference = JSON.parse(readFileSync(path.join(modelsDir, modelId, 'reference-embeddings.json'), 'utf8')) as ReferenceFile;
    embedder = createEmbedder(dtype);
    await embedder.warmup();
  });

  it('declares the model limits from its files', () => {
    expect(embedder.modelId).toBe(modelId);
    expect(embedder.dimensions).toBe(384);
    expect(embedder.maxTokens).toBe(256);
    expect(embedder.maxBatchSize).toBe(32);
  });

  it('returns one finite unit-length 384-dim Float32Array per text', async () => {
    const vectors = await embedder.embed({ texts: ['first text', 'a second, longer text about vector search'] });
    expect(vectors).toHaveLength(2);
    for (const vector of vectors) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(384);
      expect(vector.every(Number.isFinite)).toBe(true);
      expect(norm(vector)).toBeCloseTo(1, 5);
    }
  });

  it(`matches the PyTorch reference embeddings (cosine >= ${minCosine}), batched and one by one`, async () => {
    const batched = await embedder.embed({ texts: reference.sentences });
    const single = await Promise.all(reference.sentences.map(async (text) => (await embedder.embed({ texts: [text] }))[0]!));
    reference.embeddings.forEach((expected, index) => {
      expect(cosine(batched[index]!, expected), `batched sentence ${index}`).toBeGreaterThanOrEqual(minCosine);
      expect(cosine(single[index]!, expected), `single sentence ${index}`).toBeGreaterThanOrEqual(minCosine);
    });
  });

  it('puts similar sentences closer than unrelated ones', async () => {
    const [question, paraphrase, unrelated] = await embedder.embed({
      texts: ['How do I reset my password?', 'I forgot my password and need to change it.', 'The stock market closed higher on Friday.'],
    });
    expect(cosine(question!, paraphrase!)).toBeGreaterThan(cosine(question!, unrelated!) + 0.2);
  });

  it('keeps input order and gives each text the same vector whatever else is in the batch', async () => {
    const texts = ['alpha centauri is a star system', 'bananas are rich in potassium', 'tcp uses a three-way handshake'];
    const forward = await embedder.embed({ texts });
    const reversed = await embedder.embed({ texts: [...texts].reverse() });
    const alone = await embedder.embed({ texts: [texts[1]!] });
    expect(cosine(forward[0]!, reversed[2]!)).toBeGreaterThan(0.9999);
    expect(cosine(forward[2]!, reversed[0]!)).toBeGreaterThan(0.9999);
    expect(cosine(forward[1]!, alone[0]!)).toBeGreaterThan(0.9999);
    expect(cosine(forward[0]!, forward[1]!)).toBeLessThan(0.9);
  });

  it('handles empty-ish input: no texts gives no vectors; empty and blank strings give finite unit vectors', async () => {
    await expect(embedder.embed({ texts: [] })).resolves.toEqual([]);
    const [empty, blank] = await embedder.embed({ texts: ['', ' \n\t '] });
    for (const vector of [empty!, blank!]) {
      expect(vector).toHaveLength(384);
      expect(vector.every(Number.isFinite)).toBe(true);
      expect(norm(vector)).toBeCloseTo(1, 5);
    }
    // Whitespace produces no tokens, so both encode as [CLS] [SEP].
    expect(cosine(empty!, blank!)).toBeGreaterThan(0.9999);
  });

  it('truncates texts longer than maxTokens: what follows the first 256 tokens does not matter', async () => {
    const long = 'retrieval systems index documents for fast search. '.repeat(60);
    expect(embedder.countTokens(long)).toBeGreaterThan(embedder.maxTokens);
    const [a, b] = await embedder.embed({ texts: [long, `${long} completely different ending about cooking pasta`] });
    expect(cosine(a!, b!)).toBeGreaterThan(0.9999);
  });

  it('rejects a batch above maxBatchSize', async () => {
    const error: unknown = await embedder.embed({ texts: new Array<string>(33).fill('x') }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('BATCH_TOO_LARGE');
  });
});

describe('TransformersEmbedder.countTokens (real tokenizer)', () => {
  let embedder: TransformersEmbedder;
  let tokenizer: PreTrainedTokenizer;

  beforeAll(async () => {
    embedder = createEmbedder('q8');
    await embedder.load();
    tokenizer = await loadModel({ modelId, modelsDir, offline: true, dtype: 'q8' }, () => AutoTokenizer.from_pretrained(modelId));
  });

  it('counts model tokens without special tokens', () => {
    expect(embedder.countTokens('hello world')).toBe(2);
    expect(embedder.countTokens('')).toBe(0);
    expect(embedder.countTokens('   \n\t')).toBe(0);
    expect(embedder.countTokens('Hello, world!')).toBe(4);
    expect(embedder.countTokens('tokenization')).toBeGreaterThan(1);
  });

  it('agrees with whole-text tokenisation on awkward text (word memo is exact)', () => {
    const texts = [
      'The quick brown fox.\nJumps over\tthe lazy dog!\r\n',
      'Café naïve résumé — ÉLÈVE façade',
      '東京は日本の首都です。中文字符 mixed with English',
      'non\u00a0breaking\u00a0spaces and zero\u200bwidth and bom\ufeffinside',
      'emoji 🎉🚀 and symbols ©®™ ∑∫√ and a literal [CLS] [SEP] [MASK] token',
      `${'x'.repeat(150)} a word longer than 100 characters becomes [UNK]`,
      'e-mail: someone@example.com, url: https://example.com/a?b=c&d=e#f, version 1.2.3-rc.4',
      'repeated repeated repeated words words words, Repeated REPEATED',
      'combining accents: e\u0301 a\u0308 and a space before \u0301 a combining mark',
      'tabs\t\tand\n\n\nnewlines   and   runs of spaces ',
    ];
    for (const text of texts) {
      expect(embedder.countTokens(text), text).toBe(tokenizer.tokenize(text).length);
      // Twice, so the second call is answered from the memo.
      expect(embedder.countTokens(text), text).toBe(tokenizer.tokenize(text).length);
    }
  });

  it('throws MODEL_NOT_LOADED before load()', () => {
    const fresh = createEmbedder('q8');
    expect(() => fresh.countTokens('hello')).toThrow(/load\(\) or warmup\(\)/);
    try {
      fresh.countTokens('hello');
    } catch (error) {
      expect((error as AppError).code).toBe('MODEL_NOT_LOADED');
    }
  });
});

describe('TransformersEmbedder loading', () => {
  const tempDirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rag-embedder-test-'));
    tempDirs.push(dir);
    return dir;
  };

  afterAll(() => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  it('loads once when many callers race', async () => {
    const spy = vi.spyOn(AutoModel, 'from_pretrained');
    const embedder = createEmbedder('q8');
    const results = await Promise.all([embedder.embed({ texts: ['a'] }), embedder.embed({ texts: ['b'] }), embedder.warmup(), embedder.load()]);
    expect(results[0]).toHaveLength(1);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });

  it('fails with MODEL_UNAVAILABLE naming the model, MODELS_DIR and the fix when offline and the model is missing', async () => {
    const emptyDir = tempDir();
    const embedder = createEmbedder('q8', { modelsDir: emptyDir });
    const error: unknown = await embedder.warmup().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamError);
    const upstream = error as UpstreamError;
    expect(upstream.code).toBe('MODEL_UNAVAILABLE');
    expect(upstream.category).toBe('upstream');
    expect(upstream.isRetryable).toBe(false);
    expect(upstream.message).toContain(modelId);
    expect(upstream.message).toContain(emptyDir);
    expect(upstream.message).toContain('npm run models:export');
    expect(upstream.message).toContain('MODELS_OFFLINE');
    expect(upstream.details).toMatchObject({ modelId, modelsDir: emptyDir, offline: true });
    // embed() reports the same failure (remembered for the load's back-off, so it answers at once).
    await expect(embedder.embed({ texts: ['x'] })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('wraps a broken model file as MODEL_UNAVAILABLE and keeps the cause', async () => {
    const dir = tempDir();
    const source = path.join(modelsDir, modelId);
    const target = path.join(dir, modelId);
    mkdirSync(path.join(target, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      writeFileSync(path.join(target, file), readFileSync(path.join(source, file)));
    }
    writeFileSync(path.join(target, 'onnx', 'model_quantized.onnx'), 'not an onnx graph');
    const error: unknown = await createEmbedder('q8', { modelsDir: dir }).warmup().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('MODEL_UNAVAILABLE');
    expect((error as UpstreamError).message).toContain(dir);
    expect((error as UpstreamError).cause).toBeDefined();
  });
});
