import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceClient, ServiceError } from './service-client.js';

/** An HTTP server answering the job route from a script, one answer per request (the last one repeats). */
async function scriptedServer(answers: { status: number; body: unknown; headers?: Record<string, string> }[]): Promise<{ server: Server; baseUrl: string; requests: number[] }> {
  const requests: number[] = [];
  const server = createServer((_req, res) => {
    requests.push(Date.now());
    const answer = answers[Math.min(requests.length, answers.length) - 1] ?? { status: 500, body: {} };
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

const job = { jobId: 'j1', documentId: 'd', collection: 'c', source: 'd', state: 'completed', progress: 100, attempts: 1, createdAt: '2024-01-01T00:00:00Z' };
const rateLimited = { status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } }, headers: { 'retry-after': '1' } };

describe('ServiceClient retries', () => {
  it('waits exactly the Retry-After of a 429 (no extra backoff) and then succeeds', async () => {
    const { server, baseUrl, requests } = await scriptedServer([rateLimited, rateLimited, { status: 200, body: job }]);
    servers.push(server);
    const status = await new ServiceClient({ baseUrl }).job('j1');
    expect(status.state).toBe('completed');
    expect(requests).toHaveLength(3);
    for (let index = 1; index < requests.length; index++) {
      const gap = (requests[index] as number) - (requests[index - 1] as number);
      expect(gap).toBeGreaterThanOrEqual(990);
      expect(gap).toBeLessThan(1400);
    }
  });

  it('does not retry a client error', async () => {
    const { server, baseUrl, requests } = await scriptedServer([{ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such job' } } }]);
    servers.push(server);
    const failure = await new ServiceClient({ baseUrl }).job('missing').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ServiceError);
    expect(failure).toMatchObject({ status: 404, code: 'NOT_FOUND', message: 'no such job' });
    expect(requests).toHaveLength(1);
  });

  it('does not retry a local error such as a missing file', async () => {
    const { server, baseUrl, requests } = await scriptedServer([{ status: 202, body: { jobs: [{ jobId: 'j1' }] } }]);
    servers.push(server);
    const started = Date.now();
    await expect(new ServiceClient({ baseUrl }).upload({ collection: 'c', filePath: '/nonexistent/file.txt', documentId: 'file.txt' })).rejects.toThrow();
    expect(requests).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
