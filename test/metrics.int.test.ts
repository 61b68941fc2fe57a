import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessQueue } from '../src/ingest/queues/in-process-queue.js';
import { createApp, createHttpServer } from '../src/serve/app.js';
import { postJson, startTestService, waitForJob, type TestService } from './helpers/service.js';

/** A pino logger whose JSON lines land in `lines`. */
function captureLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('signals: Prometheus metrics, request ids in logs, health vs readiness', () => {
  let service: TestService;
  const collection = `metrics_${Date.now()}`;

  beforeAll(async () => {
    service = await startTestService();
  });

  afterAll(async () => {
    await service?.close();
  });

  const scrape = async () => {
    const response = await fetch(`${service.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  it('counts requests per route template and status, with latency histograms', async () => {
    await postJson(`${service.baseUrl}/v1/collections/${collection}/search`, { query: 'first', mode: 'dense' });
    await postJson(`${service.baseUrl}/v1/collections/${collection}/search`, { query: 'second' });
    await postJson(`${service.baseUrl}/v1/collections/${collection}/search`, { query: '' });
    await fetch(`${service.baseUrl}/v1/no/such/route`);
    const text = await scrape();
    const search = { method: 'POST', route: '/v1/collections/:collection/search' };
    expect(sample(text, 'rag_http_requests_total', { ...search, status: '200' })).toBe(2);
    expect(sample(text, 'rag_http_requests_total', { ...search, status: '400' })).toBe(1);
    expect(sample(text, 'rag_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(sample(text, 'rag_http_request_duration_seconds_count', { ...search, status: '200' })).toBe(2);
    expect(sample(text, 'rag_http_request_duration_seconds_bucket', { ...search, status: '200', le: '+Inf' })).toBe(2);
    // Raw paths never become labels.
    expect(text).not.toContain(collection);
  });

  it('records per-stage retrieval latency, model load time, ingestion jobs by state and queue depth', async () => {
    const { body } = await postJson<{ jobs: { jobId: string }[] }>(`${service.baseUrl}/v1/collections/${collection}/documents`, { text: 'Metrics are scraped every fifteen seconds.' });
    expect((await waitForJob(service.baseUrl, body.jobs[0]!.jobId)).state).toBe('completed');
    await postJson(`${service.baseUrl}/v1/collections/${collection}/search`, { query: 'how often are metrics scraped', rerank: true });
    const text = await scrape();
    for (const stage of ['embed', 'search', 'rerank']) expect(sample(text, 'rag_retrieval_stage_duration_seconds_count', { stage }), stage).toBeGreaterThan(0);
    expect(sample(text, 'rag_model_load_seconds', { role: 'embed' })).toBeGreaterThan(0);
    expect(sample(text, 'rag_model_load_seconds', { role: 'rerank' })).toBeGreaterThan(0);
    for (const state of ['queued', 'active', 'completed']) expect(sample(text, 'rag_ingest_jobs_total', { state }), state).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'rag_ingest_jobs', { state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'rag_ingest_queue_depth')).toBe(0);
    expect(sample(text, 'rag_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('returns a request id on every response (the caller’s when safe) and logs it with the route', async () => {
    const { logger, lines } = captureLogger();
    const server = createHttpServer(createApp({ ...service.runtime.deps, logger }), { requestTimeoutMs: 10_000 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const mine = await fetch(`${base}/v1/collections/${collection}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc.123' },
        body: '{"query":"metrics"}',
      });
      expect(mine.headers.get('x-request-id')).toBe('trace-abc.123');
      const unsafe = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
      expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const failed = await fetch(`${base}/v1/jobs/nope`);
      const failedId = failed.headers.get('x-request-id');
      const access = lines.find((line) => line.reqId === 'trace-abc.123' && line.msg === 'POST /v1/collections/:collection/search 200');
      expect(access).toMatchObject({ route: '/v1/collections/:collection/search', res: { statusCode: 200 } });
      expect(typeof access?.responseTime).toBe('number');
      expect(JSON.stringify(access)).not.toMatch(/authorization/i);
      expect(lines.some((line) => line.reqId === failedId && (line.res as { statusCode: number }).statusCode === 404)).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('passes the request id to the ingestion worker, whose logs carry it', async () => {
    const { logger, lines } = captureLogger();
    const journalDir = await mkdtemp(path.join(os.tmpdir(), 'rag-journal-'));
    const queue = new InProcessQueue(
      async ({ job }) => {
        if (job.source === 'bad.txt') throw new Error('parser exploded');
        return { chunks: 1, unchanged: false };
      },
      { journalDir, concurrency: 1, attempts: 1, backoffMs: 1, maxDepth: 10 },
      logger,
    );
    await queue.start();
    try {
      const job = { collection: 'c', contentType: 'text/plain', text: 'x', metadata: {}, enqueuedAt: new Date().toISOString() };
      await queue.enqueue({ jobs: [{ ...job, documentId: 'good', source: 'good.txt', requestId: 'req-good' }, { ...job, documentId: 'bad', source: 'bad.txt', requestId: 'req-bad' }] });
      await queue.drain();
      expect(lines.find((line) => line.msg === 'ingestion job completed')).toMatchObject({ requestId: 'req-good' });
      expect(lines.find((line) => line.msg === 'ingestion failed')).toMatchObject({ requestId: 'req-bad' });
    } finally {
      await queue.close();
      await rm(journalDir, { recursive: true, force: true });
    }
    // Over HTTP, the job carries the X-Request-Id of the upload.
    const response = await fetch(`${service.baseUrl}/v1/collections/${collection}/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'upload-req-42' },
      body: JSON.stringify({ text: 'Request ids travel with jobs.' }),
    });
    const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
    await waitForJob(service.baseUrl, jobs[0]!.jobId);
    const entries = await service.runtime.queue.listJobs({});
    expect(entries.some((entry) => entry.jobId === jobs[0]!.jobId)).toBe(true);
    const { readFile } = await import('node:fs/promises');
    const journal = JSON.parse(await readFile(path.join(service.dataDir, 'jobs', `${jobs[0]!.jobId}.json`), 'utf8')) as { job: { requestId: string } };
    expect(journal.job.requestId).toBe('upload-req-42');
  });

  it('/healthz is liveness only; /readyz checks models, store and (when configured) Redis', async () => {
    expect(await (await fetch(`${service.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = (await (await fetch(`${service.baseUrl}/readyz`)).json()) as { status: string; checks: Record<string, { ok: boolean; required: boolean }> };
    expect(ready.status).toBe('ready');
    expect(Object.keys(ready.checks).sort()).toEqual(['embedder', 'reranker', 'store']);
    expect(ready.checks.reranker).toEqual({ ok: true, required: false });
    expect(ready.checks.embedder).toEqual({ ok: true, required: true });

    const unreachable = await startTestService({ REDIS_URL: 'redis://127.0.0.1:1', QUEUE_NAME: `unreachable-${Date.now()}` });
    try {
      expect((await fetch(`${unreachable.baseUrl}/healthz`)).status).toBe(200);
      const response = await fetch(`${unreachable.baseUrl}/readyz`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as { status: string; checks: Record<string, { ok: boolean; message?: string }> };
      expect(body.status).toBe('not_ready');
      expect(body.checks.redis?.ok).toBe(false);
      expect(body.checks.store?.ok).toBe(true);
    } finally {
      await unreachable.close();
    }
  }, 60_000);

  it('METRICS_ENABLED=false removes /metrics (404) but keeps serving', async () => {
    const quiet = await startTestService({ METRICS_ENABLED: 'false' });
    try {
      const response = await fetch(`${quiet.baseUrl}/metrics`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('METRICS_NOT_FOUND');
    } finally {
      await quiet.close();
    }
  });
});
