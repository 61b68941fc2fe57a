import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestService, waitForJob, type TestService } from './helpers/service.js';

/**
 * Reranking through the HTTP API with the real cross-encoder architecture (the LATENCY-ONLY export: its scores mean
 * nothing, so these tests check the mechanics — candidates, order, fallback — never ranking quality).
 */

interface SearchBody {
  results: { id: string; score: number }[];
  timings: { rerankMs: number };
  rerank?: { applied: boolean; candidates: number; fallback?: { code: string; message: string } };
}

interface ReadyBody {
  status: string;
  checks: Record<string, { ok: boolean; required: boolean; message?: string }>;
}

const PASSAGES = [
  'Refunds are paid within fourteen days of the return.',
  'The office opens at eight and closes at six.',
  'Parental leave lasts sixteen weeks at full pay.',
  'Expense reports need a receipt for every item above twenty euros.',
  'The on-call engineer answers pages within fifteen minutes.',
  'Laptops are replaced every three years.',
  'Visitors sign in at the front desk.',
  'Security incidents are reported to the CISO within one hour.',
  'Travel is booked through the company portal.',
  'Passwords rotate every ninety days.',
];

async function seed(service: TestService, collection: string): Promise<void> {
  for (const [index, text] of PASSAGES.entries()) {
    const { status, body } = await postJson<{ jobs: { jobId: string }[] }>(`${service.baseUrl}/v1/collections/${collection}/documents`, {
      documentId: `doc-${index}`,
      text,
    });
    expect(status).toBe(202);
    expect((await waitForJob(service.baseUrl, body.jobs[0]!.jobId)).state).toBe('completed');
  }
}

const search = (service: TestService, collection: string, body: Record<string, unknown>) =>
  postJson<SearchBody>(`${service.baseUrl}/v1/collections/${collection}/search`, body);

describe('reranking with the cross-encoder loaded at startup', () => {
  let service: TestService;
  const collection = `rerank_${Date.now()}`;

  beforeAll(async () => {
    service = await startTestService({ RERANK_CANDIDATES: '6' });
    await seed(service, collection);
  });

  afterAll(async () => {
    await service?.close();
  });

  it('is warm before the first request and reported as an optional readiness check', async () => {
    const response = await fetch(`${service.baseUrl}/readyz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as ReadyBody;
    expect(body.checks.reranker).toEqual({ ok: true, required: false });
  });

  it('reranks RERANK_CANDIDATES hits (never fewer than topK) and returns topK in cross-encoder order', async () => {
    const query = 'how long is parental leave';
    const { status, body } = await search(service, collection, { query, topK: 3, rerank: true });
    expect(status).toBe(200);
    expect(body.rerank).toEqual({ applied: true, candidates: 6 });
    expect(body.results).toHaveLength(3);
    expect(body.timings.rerankMs).toBeGreaterThan(0);
    const scores = body.results.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));

    const wide = await search(service, collection, { query, topK: 8, rerank: true });
    expect(wide.body.rerank).toEqual({ applied: true, candidates: 8 });
    const explicit = await search(service, collection, { query, topK: 2, rerank: true, candidates: 4 });
    expect(explicit.body.rerank).toEqual({ applied: true, candidates: 4 });
  });

  it('reranks more candidates than one cross-encoder call takes (maxBatchSize 32) without failing', async () => {
    // One long document: far more than 32 chunks of ~200 tokens, each a distinct numbered paragraph.
    const paragraphs = Array.from({ length: 45 }, (_, i) =>
      `Section ${i + 1}. ${PASSAGES[i % PASSAGES.length]} This rule was reviewed in quarter ${(i % 4) + 1} of year ${2000 + i} by team ${i}. `.repeat(6),
    );
    const big = `${collection}_big`;
    const { body: upload } = await postJson<{ jobs: { jobId: string }[] }>(`${service.baseUrl}/v1/collections/${big}/documents`, {
      documentId: 'handbook',
      text: paragraphs.join('\n\n'),
    });
    const job = await waitForJob(service.baseUrl, upload.jobs[0]!.jobId);
    expect(job.state).toBe('completed');
    expect(job.chunks).toBeGreaterThan(40);
    const { status, body } = await search(service, big, { query: 'how long is parental leave', topK: 5, rerank: true, candidates: 40 });
    expect(status).toBe(200);
    expect(body.rerank).toEqual({ applied: true, candidates: 40 });
    expect(body.results).toHaveLength(5);
    const scores = body.results.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('says nothing about reranking when it was not asked for', async () => {
    const { body } = await search(service, collection, { query: 'office hours' });
    expect(body.rerank).toBeUndefined();
    expect(body.timings.rerankMs).toBe(0);
  });
});

describe('reranking falls back to the fused order instead of failing', () => {
  let missing: TestService;
  let slow: TestService;
  const collection = `rerank_fallback_${Date.now()}`;

  beforeAll(async () => {
    // Offline with a model that is not in MODELS_DIR: the service must still start and serve.
    missing = await startTestService({ RERANK_MODEL: 'nobody/no-such-cross-encoder' });
    slow = await startTestService({ RERANK_TIMEOUT_MS: '1', RERANK_CANDIDATES: '10' });
    await Promise.all([seed(missing, collection), seed(slow, collection)]);
  });

  afterAll(async () => {
    await missing?.close();
    await slow?.close();
  });

  it('starts ready without the reranking model and names what is missing', async () => {
    const response = await fetch(`${missing.baseUrl}/readyz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as ReadyBody;
    expect(body.status).toBe('ready');
    expect(body.checks.reranker).toMatchObject({ ok: false, required: false });
    expect(body.checks.reranker?.message).toContain('nobody/no-such-cross-encoder');
    expect(body.checks.embedder).toEqual({ ok: true, required: true });
  });

  it('answers a reranked search in fused order with the reason when the model is missing', async () => {
    const query = 'who answers pages at night';
    const plain = await search(missing, collection, { query, topK: 5 });
    const reranked = await search(missing, collection, { query, topK: 5, rerank: true });
    expect(reranked.status).toBe(200);
    expect(reranked.body.rerank).toMatchObject({ applied: false, fallback: { code: 'MODEL_UNAVAILABLE' } });
    expect(reranked.body.rerank?.fallback?.message).toContain('nobody/no-such-cross-encoder');
    expect(reranked.body.results.map((hit) => hit.id)).toEqual(plain.body.results.map((hit) => hit.id));
  });

  it('answers with the fused order when reranking exceeds RERANK_TIMEOUT_MS', async () => {
    const { status, body } = await search(slow, collection, { query: 'when do passwords rotate', topK: 3, rerank: true });
    expect(status).toBe(200);
    expect(body.rerank).toMatchObject({ applied: false, candidates: 10, fallback: { code: 'STAGE_TIMEOUT' } });
    expect(body.results).toHaveLength(3);
  });

  it('reports the fallback on /answer too, and still answers with citations', async () => {
    const { status, body } = await postJson<{ mode: string; citations: unknown[]; rerank?: SearchBody['rerank'] }>(
      `${missing.baseUrl}/v1/collections/${collection}/answer`,
      { query: 'How long is parental leave?', rerank: true },
    );
    expect(status).toBe(200);
    expect(body.mode).toBe('extractive');
    expect(body.citations.length).toBeGreaterThan(0);
    expect(body.rerank).toMatchObject({ applied: false, fallback: { code: 'MODEL_UNAVAILABLE' } });
  });
});
