import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/serve/app.js';
import { expressRoutes, ResponseValidator, type OpenApiDoc } from './helpers/openapi-validator.js';
import { startTestService, waitForJob, type TestService } from './helpers/service.js';

const FIXTURES = path.resolve('fixtures/documents');

describe('OpenAPI document: generated from the zod schemas, complete, and true to real responses', () => {
  let service: TestService;
  let doc: OpenApiDoc;
  let validator: ResponseValidator;
  const collection = `openapi_${Date.now()}`;

  /** Sends a request and checks the response against the document; returns status and parsed body. */
  const call = async (method: string, template: string, init: { path?: string; body?: unknown; form?: FormData; headers?: Record<string, string> } = {}) => {
    const url = `${service.baseUrl}${init.path ?? template}`;
    const headers: Record<string, string> = { ...init.headers };
    let body: string | FormData | undefined;
    if (init.form) body = init.form;
    else if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    const parsed = validator.check({ method, path: template, response, body: text });
    return { status: response.status, body: parsed as Record<string, unknown>, headers: response.headers };
  };

  beforeAll(async () => {
    service = await startTestService();
    doc = (await (await fetch(`${service.baseUrl}/openapi.json`)).json()) as OpenApiDoc;
    validator = new ResponseValidator(doc);
  });

  afterAll(async () => {
    await service?.close();
  });

  it('is OpenAPI 3.1 and lists every route Express serves, and nothing it does not', () => {
    expect(doc.openapi).toBe('3.1.0');
    const served = expressRoutes(createApp(service.runtime.deps)).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(served.length).toBeGreaterThan(10);
    const documented = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${p}`));
    expect([...served].sort()).toEqual([...documented].sort());
  });

  it('documents auth, errors and limits on every /v1 operation', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const operation = op as unknown as { security?: unknown[]; responses: Record<string, unknown> };
        expect(operation.responses['500'], `${method} ${p} documents 500`).toBeDefined();
        if (!p.startsWith('/v1/')) continue;
        expect(operation.security, `${method} ${p} is secured`).toEqual([{ bearerAuth: [] }]);
        for (const status of ['401', '403', '429']) expect(operation.responses[status], `${method} ${p} documents ${status}`).toBeDefined();
      }
    }
    const searchBody = doc.paths['/v1/collections/{collection}/search']?.post as unknown as { requestBody: { content: Record<string, { schema: { $ref: string } }> } };
    expect(searchBody.requestBody.content['application/json']?.schema.$ref).toBe('#/components/schemas/SearchRequest');
    const components = doc.components as { schemas: Record<string, { properties: Record<string, { maxLength?: number }> }> };
    expect(components.schemas.SearchRequest?.properties.query?.maxLength).toBe(service.runtime.deps.config.server.maxQueryChars);
  });

  it('real responses of the main routes validate against the document', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
    expect((await call('GET', '/docs')).status).toBe(200);
    expect((await call('GET', '/metrics')).status).toBe(200);

    const text = await call('POST', '/v1/collections/{collection}/documents', {
      path: `/v1/collections/${collection}/documents`,
      body: { text: 'The refund period is 30 days. Returns need the order number.', source: 'refunds.txt', metadata: { team: 'support' } },
    });
    expect(text.status).toBe(202);
    const form = new FormData();
    const { readFile } = await import('node:fs/promises');
    form.append('file', new Blob([await readFile(path.join(FIXTURES, 'oncall-runbook.txt'))], { type: 'text/plain' }), 'oncall-runbook.txt');
    const upload = await call('POST', '/v1/collections/{collection}/documents', { path: `/v1/collections/${collection}/documents`, form });
    expect(upload.status).toBe(202);
    const jobs = [...(text.body.jobs as { jobId: string }[]), ...(upload.body.jobs as { jobId: string }[])];
    for (const job of jobs) expect((await waitForJob(service.baseUrl, job.jobId)).state).toBe('completed');

    const firstJob = jobs[0]!.jobId;
    expect((await call('GET', '/v1/jobs/{jobId}', { path: `/v1/jobs/${firstJob}` })).status).toBe(200);
    expect((await call('GET', '/v1/jobs', { path: '/v1/jobs?state=completed&limit=10' })).status).toBe(200);
    const retry = await call('POST', '/v1/jobs/{jobId}/retry', { path: `/v1/jobs/${firstJob}/retry` });
    expect(retry.status).toBe(400);

    const search = await call('POST', '/v1/collections/{collection}/search', { path: `/v1/collections/${collection}/search`, body: { query: 'refund period', topK: 3 } });
    expect(search.status).toBe(200);
    expect((search.body.results as unknown[]).length).toBeGreaterThan(0);
    const reranked = await call('POST', '/v1/collections/{collection}/search', {
      path: `/v1/collections/${collection}/search`,
      body: { query: 'who is on call', mode: 'dense', rerank: true, filter: { team: 'support' } },
    });
    expect(reranked.status).toBe(200);
    const answer = await call('POST', '/v1/collections/{collection}/answer', { path: `/v1/collections/${collection}/answer`, body: { query: 'How long is the refund period?' } });
    expect(answer.status).toBe(200);

    const docPath = `/v1/collections/${collection}/documents/refunds.txt`;
    expect((await call('GET', '/v1/collections/{collection}/documents/{documentId}', { path: docPath })).status).toBe(200);
    const feedback = await call('POST', '/v1/feedback', { body: { requestId: search.headers.get('x-request-id'), rating: 'up' } });
    expect(feedback.status).toBe(201);
    expect((await call('DELETE', '/v1/collections/{collection}/documents/{documentId}', { path: docPath })).status).toBe(200);
  });

  it('error responses have the one error shape and a documented status', async () => {
    const cases: [string, string, Parameters<typeof call>[2]][] = [
      ['GET', '/v1/jobs/{jobId}', { path: '/v1/jobs/no-such-job' }],
      ['GET', '/v1/jobs', { path: '/v1/jobs?limit=0' }],
      ['GET', '/v1/collections/{collection}/documents/{documentId}', { path: `/v1/collections/${collection}/documents/missing.pdf` }],
      ['DELETE', '/v1/collections/{collection}/documents/{documentId}', { path: `/v1/collections/${collection}/documents/missing.pdf` }],
      ['POST', '/v1/collections/{collection}/search', { path: `/v1/collections/${collection}/search`, body: '{"query": ' }],
      ['POST', '/v1/collections/{collection}/search', { path: `/v1/collections/${collection}/search`, body: { query: 'x', extra: 1 } }],
      ['POST', '/v1/collections/{collection}/search', { path: `/v1/collections/${collection}/search`, body: 'query=x', headers: { 'content-type': 'text/plain' } }],
      ['POST', '/v1/collections/{collection}/search', { path: '/v1/collections/bad%20name/search', body: { query: 'x' } }],
      ['POST', '/v1/collections/{collection}/documents', { path: `/v1/collections/${collection}/documents`, body: { text: 'x', metadata: { 'bad key': 1 } } }],
      ['POST', '/v1/feedback', { body: { requestId: 'abc', rating: 'meh' } }],
    ];
    for (const [method, template, init] of cases) {
      const { status, body } = await call(method, template, init);
      expect(status, `${method} ${init?.path ?? template}`).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
      const error = body.error as { code: string; message: string };
      expect(error.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(error.message.length).toBeGreaterThan(5);
    }
  });

  it('answers 405 with an Allow header for a known path and an undeclared method, 404 for unknown paths', async () => {
    const wrong = await fetch(`${service.baseUrl}/v1/collections/${collection}/search`, { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
    const docs = await fetch(`${service.baseUrl}/docs`, { method: 'DELETE' });
    expect(docs.status).toBe(405);
    expect(docs.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${service.baseUrl}/v1/nowhere`, { method: 'PUT' })).status).toBe(404);
  });

  it('serves a self-contained human page at /docs', async () => {
    const response = await fetch(`${service.baseUrl}/docs`);
    const html = await response.text();
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toContain('/v1/collections/{collection}/search');
    expect(html).toContain('id="schema-SearchRequest"');
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
  });
});
