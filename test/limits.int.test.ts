import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, createHttpServer } from '../src/serve/app.js';
import { peakRss, writeDeflateBombPdf } from './helpers/hostile.js';
import { postJson, startTestService, uploadFiles, waitForJob, type TestService } from './helpers/service.js';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('overload protection and hostile input', () => {
  let service: TestService;
  let scratch: string;

  beforeAll(async () => {
    service = await startTestService({ MAX_METADATA_BYTES: '16384', MAX_JSON_BYTES: String(2 * 1024 * 1024) });
    scratch = await mkdtemp(path.join(os.tmpdir(), 'rag-limits-'));
  });

  afterAll(async () => {
    await service?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('size limits answer 4xx, never 5xx', () => {
    it('a 1 MB query string in the URL is refused by the HTTP parser (431), and the service lives on', async () => {
      const huge = 'a'.repeat(1024 * 1024);
      for (const url of [`${service.baseUrl}/v1/jobs?state=${huge}`, `${service.baseUrl}/v1/collections/${huge}/search`]) {
        const response = await fetch(url).catch((error: unknown) => error as Error);
        if (response instanceof Error) {
          // The server may close the socket while the client is still writing the request line: also a refusal.
          expect(response.message).toMatch(/fetch failed|socket|closed/i);
          continue;
        }
        expect([400, 413, 414, 431]).toContain(response.status);
      }
      expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
    });

    it('a 1 MB search query is a 400 naming the limit; a body over MAX_JSON_BYTES is a 413', async () => {
      const long = await fetch(`${service.baseUrl}/v1/collections/limits/search`, json({ query: 'refund '.repeat(150_000) }));
      expect(long.status).toBe(400);
      expect(((await long.json()) as ErrorBody).error.message).toMatch(/query must be at most 2000 characters/);
      const tooBig = await fetch(`${service.baseUrl}/v1/collections/limits/search`, json({ query: 'x', pad: 'y'.repeat(3 * 1024 * 1024) }));
      expect(tooBig.status).toBe(413);
      expect(((await tooBig.json()) as ErrorBody).error.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('huge metadata is a 413, in JSON and in multipart; deep nesting is refused or stored, never a crash', async () => {
      const wide = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`field_${i}`, i]));
      const viaJson = await fetch(`${service.baseUrl}/v1/collections/limits/documents`, json({ text: 'hello', metadata: wide }));
      expect(viaJson.status).toBe(413);
      expect(((await viaJson.json()) as ErrorBody).error.message).toMatch(/MAX_METADATA_BYTES/);

      const file = path.join(scratch, 'note.txt');
      await writeFile(file, 'A short note.');
      const viaForm = await uploadFiles(service.baseUrl, 'limits', [{ path: file }], { metadata: JSON.stringify({ blob: 'x'.repeat(200_000) }) });
      expect(viaForm.status).toBe(413);
      expect(await readdir(service.runtime.deps.config.uploadDir)).toEqual([]);

      let deep: unknown = 'leaf';
      for (let i = 0; i < 2000; i++) deep = { d: deep };
      const nested = await fetch(`${service.baseUrl}/v1/collections/limits/documents`, json({ text: 'Deeply nested metadata.', metadata: { deep } }));
      expect(nested.status).toBeLessThan(500);
      if (nested.status === 202) {
        const { jobs } = (await nested.json()) as { jobs: { jobId: string }[] };
        const job = await waitForJob(service.baseUrl, jobs[0]!.jobId);
        expect(['completed', 'failed']).toContain(job.state);
      }
      expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
    });
  });

  describe('uploads', () => {
    it('a path-traversal file name stays a plain source name and nothing is written outside UPLOAD_DIR', async () => {
      const marker = `escape-${Date.now()}`;
      const file = path.join(scratch, 'traversal.txt');
      await writeFile(file, 'Traversal attempt: this text must only be stored as a chunk.');
      const names = [`../../../../../../tmp/${marker}.txt`, `..\\..\\..\\${marker}-win.txt`, `/etc/${marker}-abs.txt`];
      const response = await uploadFiles(service.baseUrl, 'limits', names.map((name) => ({ path: file, name, type: 'text/plain' })));
      expect(response.status).toBe(202);
      const { jobs } = (await response.json()) as { jobs: { jobId: string; documentId: string }[] };
      const sources: string[] = [];
      for (const ref of jobs) {
        const job = await waitForJob(service.baseUrl, ref.jobId);
        expect(job.state).toBe('completed');
        expect(job.source).not.toMatch(/[\\/]|\.\./);
        expect(ref.documentId).not.toMatch(/\.\./);
        sources.push(job.source);
      }
      expect(sources).toEqual([`${marker}.txt`, `${marker}-win.txt`, `${marker}-abs.txt`]);
      for (const dir of ['/tmp', '/etc', path.dirname(service.dataDir), service.dataDir, path.dirname(service.runtime.deps.config.uploadDir)]) {
        expect((await readdir(dir)).filter((name) => name.includes(marker)), dir).toEqual([]);
      }
      // Completed uploads are removed; nothing else was ever written there.
      expect(await readdir(service.runtime.deps.config.uploadDir)).toEqual([]);
    });

    it('an invalid UTF-8 text file is a 400 with a clear message, and leaves no job and no file', async () => {
      const file = path.join(scratch, 'latin1.txt');
      await writeFile(file, Buffer.concat([Buffer.from('Caf'), Buffer.from([0xe9]), Buffer.from(' au lait, cr'), Buffer.from([0xe8, 0x6d, 0x65]), Buffer.from(' br\xfbl\xe9e\n', 'latin1')]));
      const before = (await service.runtime.queue.listJobs({})).length;
      const response = await uploadFiles(service.baseUrl, 'limits', [{ path: file, type: 'text/plain' }]);
      expect(response.status).toBe(400);
      const body = (await response.json()) as ErrorBody;
      expect(body.error.code).toBe('INVALID_ENCODING');
      expect(body.error.message).toMatch(/UTF-8/);
      expect((await service.runtime.queue.listJobs({})).length).toBe(before);
      expect(await readdir(service.runtime.deps.config.uploadDir)).toEqual([]);
    });

    it('a zip-bomb-like PDF (300 KB inflating to 256 MB) is refused at upload with 413, fast and without exhausting memory', async () => {
      const file = path.join(scratch, 'bomb.pdf');
      const size = await writeDeflateBombPdf(file, 256 * 1024 * 1024);
      expect(size).toBeLessThan(2 * 1024 * 1024);
      const baseline = process.memoryUsage.rss();
      const meter = peakRss();
      const started = Date.now();
      const response = await uploadFiles(service.baseUrl, 'limits', [{ path: file, type: 'application/pdf' }]);
      const peak = meter.stop();
      expect(response.status).toBe(413);
      const body = (await response.json()) as ErrorBody;
      expect(body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(body.error.message).toMatch(/inflates to more than/);
      expect(Date.now() - started).toBeLessThan(10_000);
      // Inflating is capped at the budget (16 MiB for a small file): nothing like the 256 MB the stream holds.
      expect(peak - baseline, `peak RSS grew by ${Math.round((peak - baseline) / 2 ** 20)} MB`).toBeLessThan(200 * 1024 * 1024);
      expect(await readdir(service.runtime.deps.config.uploadDir)).toEqual([]);
      expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
    });

    it('an ordinary PDF passes the inflate guard and is indexed', async () => {
      const response = await uploadFiles(service.baseUrl, 'limits', [{ path: path.resolve('fixtures/documents/employee-handbook.pdf'), type: 'application/pdf' }]);
      expect(response.status).toBe(202);
      const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
      expect((await waitForJob(service.baseUrl, jobs[0]!.jobId)).state).toBe('completed');
    });
  });

  it('a per-key rate limit answers 429 with Retry-After, per caller', async () => {
    const keys = [
      { name: 'slow', key: 'slow-key-0123456789abcdef', scopes: ['query', 'ingest'], rateLimitPerMinute: 3 },
      { name: 'other', key: 'other-key-0123456789abcdef', scopes: ['query', 'ingest'] },
    ];
    const limited = await startTestService({ API_KEYS: JSON.stringify(keys), RATE_LIMIT_PER_MINUTE: '600' });
    try {
      const get = (key: string) => fetch(`${limited.baseUrl}/v1/jobs`, { headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) expect((await get(keys[0]!.key)).status).toBe(200);
      const refused = await get(keys[0]!.key);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBe(20);
      expect(refused.headers.get('ratelimit-limit')).toBe('3');
      expect(((await refused.json()) as ErrorBody).error.code).toBe('RATE_LIMITED');
      expect((await get(keys[1]!.key)).status).toBe(200);
      expect((await fetch(`${limited.baseUrl}/healthz`)).status).toBe(200);
      expect(await limited.runtime.deps.metrics.render()).toMatch(/rag_rejected_requests_total\{reason="rate_limit"\} 1/);
    } finally {
      await limited.close();
    }
  });

  it('a burst of model work beyond MODEL_QUEUE_LIMIT gets 503 OVERLOADED with Retry-After; within it, it queues', async () => {
    const bounded = await startTestService({ MODEL_CONCURRENCY: '1', MODEL_QUEUE_LIMIT: '2', EMBED_CACHE_SIZE: '0', RATE_LIMIT_PER_MINUTE: '0' });
    try {
      // Open the client's keep-alive sockets first, so the burst arrives together rather than at connection pace.
      await Promise.all(Array.from({ length: 100 }, () => fetch(`${bounded.baseUrl}/healthz`).then((r) => r.text())));
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${bounded.baseUrl}/v1/collections/burst/search`, json({ query: `burst ${i} ${'refund policy for damaged items '.repeat(40)}`, mode: 'dense' })),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 503), statuses.join(',')).toBe(true);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
      const overloaded = responses.filter((r) => r.status === 503);
      expect(overloaded.length, statuses.join(',')).toBeGreaterThan(0);
      expect(Number(overloaded[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await overloaded[0]!.json()) as ErrorBody).error.code).toBe('OVERLOADED');
      expect((await postJson(`${bounded.baseUrl}/v1/collections/burst/search`, { query: 'after the burst', mode: 'dense' })).status).toBe(200);
    } finally {
      await bounded.close();
    }
    const roomy = await startTestService({ MODEL_CONCURRENCY: '1', MODEL_QUEUE_LIMIT: '64', EMBED_CACHE_SIZE: '0', RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => fetch(`${roomy.baseUrl}/v1/collections/burst/search`, json({ query: `queued ${i} refund`, mode: 'dense' }))),
      );
      expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
    } finally {
      await roomy.close();
    }
  });

  it('slow clients are cut off: headers or a body that never finish do not hold the socket', async () => {
    const server = createHttpServer(createApp(service.runtime.deps), { requestTimeoutMs: 1000 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const closedWithin = (socket: Socket) =>
      new Promise<{ ms: number; data: string }>((resolve) => {
        const started = Date.now();
        let data = '';
        socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve({ ms: Date.now() - started, data }));
      });
    try {
      const slowHeaders = connect(port, '127.0.0.1');
      slowHeaders.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const slowBody = connect(port, '127.0.0.1');
      slowBody.write('POST /v1/collections/slow/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":');
      const [headers, body] = await Promise.all([closedWithin(slowHeaders), closedWithin(slowBody)]);
      expect(headers.ms).toBeLessThan(5000);
      expect(body.ms).toBeLessThan(5000);
      expect(headers.data + body.data).not.toMatch(/HTTP\/1\.1 5\d\d/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
