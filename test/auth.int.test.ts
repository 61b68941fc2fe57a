import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestService, testEnv, waitForJob, type TestService } from './helpers/service.js';

const KEYS = {
  reader: 'reader-key-5d1c0b8f3e2a4b6c',
  tenantA: 'tenant-a-key-9f8e7d6c5b4a3210',
  ingester: 'ingest-key-0a1b2c3d4e5f6789',
  admin: 'admin-key-fedcba9876543210',
};
const API_KEYS = JSON.stringify([
  { name: 'reader', key: KEYS.reader, scopes: ['query'] },
  { name: 'tenant-a', key: KEYS.tenantA, scopes: ['query', 'ingest'], collections: ['tenant-a'] },
  { name: 'ingester', key: KEYS.ingester, scopes: ['ingest'] },
  // Stored hashed: the plaintext never appears in the configuration.
  { name: 'ops', sha256: createHash('sha256').update(KEYS.admin).digest('hex'), scopes: ['admin'] },
]);

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('API keys: 401 without a valid key, 403 without the scope or collection', () => {
  let service: TestService;
  let url: (p: string) => string;

  beforeAll(async () => {
    service = await startTestService({ API_KEYS });
    url = (p) => `${service.baseUrl}${p}`;
  });

  afterAll(async () => {
    await service?.close();
  });

  const expectError = async (response: Response, status: number, code: string) => {
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    return body.error;
  };

  it('401 for a missing, malformed or wrong key, with WWW-Authenticate', async () => {
    const search = (headers: Record<string, string>) =>
      fetch(url('/v1/collections/tenant-a/search'), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"query":"refund"}' });
    const missing = await search({});
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await expectError(missing, 401, 'UNAUTHORIZED')).message).toMatch(/Bearer/);
    await expectError(await search({ authorization: KEYS.reader }), 401, 'UNAUTHORIZED');
    await expectError(await search({ authorization: `Basic ${KEYS.reader}` }), 401, 'UNAUTHORIZED');
    await expectError(await search(bearer(`${KEYS.reader}x`)), 401, 'UNAUTHORIZED');
    await expectError(await search(bearer(KEYS.reader.slice(0, -1))), 401, 'UNAUTHORIZED');
    expect((await search(bearer(KEYS.reader))).status).toBe(200);
  });

  it('403 for a key without the scope', async () => {
    await expectError(await post(url('/v1/collections/docs/documents'), { text: 'hello' }, bearer(KEYS.reader)), 403, 'FORBIDDEN');
    await expectError(await post(url('/v1/collections/docs/search'), { query: 'hello' }, bearer(KEYS.ingester)), 403, 'FORBIDDEN');
    await expectError(await fetch(url('/v1/jobs'), { headers: bearer(KEYS.reader) }), 403, 'FORBIDDEN');
    await expectError(await fetch(url('/metrics'), { headers: bearer(KEYS.reader) }), 403, 'FORBIDDEN');
    await expectError(await fetch(url('/v1/collections/docs/documents/x.txt'), { method: 'DELETE', headers: bearer(KEYS.reader) }), 403, 'FORBIDDEN');
    await expectError(await post(url('/v1/feedback'), { requestId: 'abc', rating: 'up' }, bearer(KEYS.admin)), 403, 'FORBIDDEN');
  });

  it('403 for a collection the key is not granted, before the upload touches the disk', async () => {
    const form = new FormData();
    form.append('file', new Blob(['secret text']), 'b.txt');
    const upload = await fetch(url('/v1/collections/tenant-b/documents'), { method: 'POST', headers: bearer(KEYS.tenantA), body: form });
    await expectError(upload, 403, 'FORBIDDEN');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(service.runtime.deps.config.uploadDir)).toEqual([]);
    await expectError(await post(url('/v1/collections/tenant-b/search'), { query: 'refund' }, bearer(KEYS.tenantA)), 403, 'FORBIDDEN');
    await expectError(await post(url('/v1/collections/tenant-b/answer'), { query: 'refund' }, bearer(KEYS.tenantA)), 403, 'FORBIDDEN');
    await expectError(await fetch(url('/v1/collections/tenant-b/documents/x.txt'), { headers: bearer(KEYS.tenantA) }), 403, 'FORBIDDEN');
    expect((await postJson(url('/v1/collections/tenant-a/search'), { query: 'refund' }, bearer(KEYS.tenantA))).status).toBe(200);
  });

  it("hides other collections' jobs from a collection-limited key", async () => {
    const other = await postJson<{ jobs: { jobId: string }[] }>(url('/v1/collections/tenant-b/documents'), { text: 'Tenant B only.' }, bearer(KEYS.ingester));
    expect(other.status).toBe(202);
    const own = await postJson<{ jobs: { jobId: string }[] }>(url('/v1/collections/tenant-a/documents'), { text: 'Tenant A only.' }, bearer(KEYS.tenantA));
    expect(own.status).toBe(202);
    const otherJob = other.body.jobs[0]!.jobId;
    const ownJob = own.body.jobs[0]!.jobId;
    await expectError(await fetch(url(`/v1/jobs/${otherJob}`), { headers: bearer(KEYS.tenantA) }), 404, 'JOB_NOT_FOUND');
    await expectError(await fetch(url(`/v1/jobs/${otherJob}/retry`), { method: 'POST', headers: bearer(KEYS.tenantA) }), 404, 'JOB_NOT_FOUND');
    expect((await fetch(url(`/v1/jobs/${ownJob}`), { headers: bearer(KEYS.tenantA) })).status).toBe(200);
    const listed = (await (await fetch(url('/v1/jobs'), { headers: bearer(KEYS.tenantA) })).json()) as { jobs: { jobId: string; collection: string }[] };
    expect(listed.jobs.map((job) => job.jobId)).toContain(ownJob);
    expect(listed.jobs.every((job) => job.collection === 'tenant-a')).toBe(true);
    const all = (await (await fetch(url('/v1/jobs'), { headers: bearer(KEYS.ingester) })).json()) as { jobs: { jobId: string }[] };
    expect(all.jobs.map((job) => job.jobId)).toEqual(expect.arrayContaining([ownJob, otherJob]));
  });

  it('filters job listings by collection inside the queue: limit counts only jobs the caller may see', async () => {
    const own = await postJson<{ jobs: { jobId: string }[] }>(url('/v1/collections/tenant-a/documents'), { text: 'Tenant A, listed.' }, bearer(KEYS.tenantA));
    // A newer job of another collection: filtered after the limit, it used to push tenant-a's job out of a limit=1 listing.
    const newer = await postJson<{ jobs: { jobId: string }[] }>(url('/v1/collections/tenant-b/documents'), { text: 'Tenant B, newer.' }, bearer(KEYS.ingester));
    const ownJob = own.body.jobs[0]!.jobId;
    const list = async (query: string, key: string) => {
      const response = await fetch(url(`/v1/jobs${query}`), { headers: bearer(key) });
      return { status: response.status, body: (await response.json()) as { jobs: { jobId: string; collection: string }[]; error?: { message: string } } };
    };
    expect((await list('?limit=1', KEYS.tenantA)).body.jobs.map((job) => job.jobId)).toEqual([ownJob]);
    expect((await list('?collection=tenant-a&limit=1', KEYS.ingester)).body.jobs.map((job) => job.jobId)).toEqual([ownJob]);
    expect((await list('?collection=tenant-b&limit=1', KEYS.ingester)).body.jobs.map((job) => job.jobId)).toEqual([newer.body.jobs[0]!.jobId]);
    // A collection the key is not granted is simply empty: no 403 that would confirm it exists.
    expect(await list('?collection=tenant-b', KEYS.tenantA)).toEqual({ status: 200, body: { jobs: [] } });
    const bad = await list('?collection=no%20spaces', KEYS.ingester);
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toContain('collection');
  });

  it('keeps probes and the contract public, and /metrics for admin keys (stored as sha256)', async () => {
    for (const p of ['/healthz', '/readyz', '/openapi.json', '/docs']) expect((await fetch(url(p))).status, p).toBe(200);
    await expectError(await fetch(url('/metrics')), 401, 'UNAUTHORIZED');
    const metrics = await fetch(url('/metrics'), { headers: bearer(KEYS.admin) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('rag_http_requests_total');
  });

  it('accepts feedback from a query key and retry from an ingest key', async () => {
    expect((await postJson(url('/v1/feedback'), { requestId: 'r-1', rating: 'up' }, bearer(KEYS.reader))).status).toBe(201);
    const job = await postJson<{ jobs: { jobId: string }[] }>(url('/v1/collections/docs/documents'), { text: 'Retry me.' }, bearer(KEYS.ingester));
    const jobId = job.body.jobs[0]!.jobId;
    await (service.runtime.queue as unknown as { drain?: () => Promise<void> }).drain?.();
    await expectError(await fetch(url(`/v1/jobs/${jobId}/retry`), { method: 'POST', headers: bearer(KEYS.ingester) }), 400, 'JOB_NOT_FAILED');
  });
});

describe('Open mode (no API_KEYS)', () => {
  it('serves every route without a key', async () => {
    const service = await startTestService();
    try {
      const job = await postJson<{ jobs: { jobId: string }[] }>(`${service.baseUrl}/v1/collections/open/documents`, { text: 'Anyone may write here.' });
      expect(job.status).toBe(202);
      expect((await waitForJob(service.baseUrl, job.body.jobs[0]!.jobId)).state).toBe('completed');
      expect((await postJson(`${service.baseUrl}/v1/collections/open/search`, { query: 'write' })).status).toBe(200);
      expect((await fetch(`${service.baseUrl}/metrics`)).status).toBe(200);
    } finally {
      await service.close();
    }
  });

  it('refuses to start on a non-loopback HOST without keys unless ALLOW_OPEN_ACCESS=true', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rag-open-'));
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/serve/main.ts')], {
          env: { ...process.env, ...testEnv({ LOG_LEVEL: 'info', DATA_DIR: dataDir, ...env }), API_KEYS: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        let signalled = false;
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          // One SIGTERM: a second one means "exit now" (code 1), and shutdown logs more lines while it stops the reranker workers.
          if (!signalled && output.includes('rag-service listening')) {
            signalled = true;
            child.kill('SIGTERM');
          }
        });
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, output });
        });
      });
    const refused = await run({ HOST: '0.0.0.0' });
    expect(refused.code).toBe(2);
    expect(refused.output).toMatch(/refusing to listen on a non-loopback HOST without API keys/);
    // 127.0.0.2 is not one of the loopback names the check accepts, yet safe to bind here.
    const allowed = await run({ HOST: '127.0.0.2', ALLOW_OPEN_ACCESS: 'true' });
    expect(allowed.output).toMatch(/no API_KEYS configured: the API is open/);
    expect(allowed.output).toMatch(/rag-service listening/);
    expect(allowed.code).toBe(0);
    await rm(dataDir, { recursive: true, force: true });
  }, 120_000);
});

/** POST JSON and return the raw Response. */
function post(url: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
