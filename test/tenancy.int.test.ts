import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestService, uploadFiles, waitForJob, type TestService } from './helpers/service.js';

const FIXTURES = path.resolve('fixtures/documents');

interface SearchBody {
  results: { documentId: string; source: string; text: string }[];
}

/**
 * Two tenants hold the same refund policy except for the period (14 vs 45 days), under the SAME document id.
 * Whatever the mode, a search in one collection must never surface the other's chunks.
 */
describe('tenancy: collections are isolated over HTTP', () => {
  let service: TestService;
  const suffix = Date.now().toString(36);
  const tenantA = `tenant-a-${suffix}`;
  const tenantB = `tenant-b-${suffix}`;
  const documentId = 'refund-policy.txt';

  beforeAll(async () => {
    service = await startTestService();
    for (const [collection, file] of [
      [tenantA, 'tenant-a-policy.txt'],
      [tenantB, 'tenant-b-policy.txt'],
    ] as const) {
      const response = await uploadFiles(service.baseUrl, collection, [{ path: path.join(FIXTURES, file), type: 'text/plain' }], { documentId });
      expect(response.status).toBe(202);
      const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
      expect((await waitForJob(service.baseUrl, jobs[0]!.jobId)).state).toBe('completed');
    }
  });

  afterAll(async () => {
    await service?.close();
  });

  const search = (collection: string, body: Record<string, unknown>) =>
    postJson<SearchBody>(`${service.baseUrl}/v1/collections/${collection}/search`, { topK: 20, ...body });

  it.each([
    { mode: 'hybrid', rerank: false },
    { mode: 'dense', rerank: false },
    { mode: 'keyword', rerank: false },
    { mode: 'hybrid', rerank: true },
  ])('a $mode search (rerank $rerank) sees only its own tenant', async ({ mode, rerank }) => {
    for (const [collection, own, other] of [
      [tenantA, '14 days', '45 days'],
      [tenantB, '45 days', '14 days'],
    ] as const) {
      const { status, body } = await search(collection, { query: 'How many days is the refund period?', mode, rerank });
      expect(status).toBe(200);
      expect(body.results.length).toBeGreaterThan(0);
      const text = body.results.map((hit) => hit.text).join('\n');
      expect(text).toContain(own);
      expect(text).not.toContain(other);
      expect(body.results.every((hit) => hit.documentId === documentId)).toBe(true);
    }
  });

  it('filters cannot reach across collections', async () => {
    const { body } = await search(tenantA, { query: '45 days', mode: 'keyword', filter: { documentId } });
    expect(body.results.map((hit) => hit.text).join('\n')).not.toContain('45 days');
  });

  it('documents are per collection: same id, separate content; deleting in one leaves the other', async () => {
    const info = async (collection: string) =>
      (await (await fetch(`${service.baseUrl}/v1/collections/${collection}/documents/${documentId}`)).json()) as { source: string; contentHash: string };
    const a = await info(tenantA);
    const b = await info(tenantB);
    expect(a.source).toBe('tenant-a-policy.txt');
    expect(b.source).toBe('tenant-b-policy.txt');
    expect(a.contentHash).not.toBe(b.contentHash);

    const deleted = await fetch(`${service.baseUrl}/v1/collections/${tenantB}/documents/${documentId}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect((await fetch(`${service.baseUrl}/v1/collections/${tenantB}/documents/${documentId}`)).status).toBe(404);
    expect((await info(tenantA)).source).toBe('tenant-a-policy.txt');
    const { body } = await search(tenantA, { query: 'refund period' });
    expect(body.results.map((hit) => hit.text).join('\n')).toContain('14 days');
    expect((await search(tenantB, { query: 'refund period' })).body.results).toEqual([]);
  });

  it('an unknown collection is empty, not an error and not a window into another', async () => {
    const { status, body } = await search(`tenant-c-${suffix}`, { query: 'refund period' });
    expect(status).toBe(200);
    expect(body.results).toEqual([]);
  });
});
