import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestService, type TestService } from './helpers/service.js';

interface StoredFeedback {
  feedbackId: string;
  requestId: string;
  rating: string;
  comment?: string;
  keyName: string;
  receivedAt: string;
}

const REDIS_URL = process.env.REDIS_TEST_URL;

describe('POST /v1/feedback (embedded: append-only JSONL under DATA_DIR, fsync before 201)', () => {
  let service: TestService;
  let file: string;

  beforeAll(async () => {
    service = await startTestService();
    file = path.join(service.dataDir, 'feedback', 'feedback.jsonl');
  });

  afterAll(async () => {
    await service?.close();
  });

  const readLines = async () =>
    (await readFile(file, 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as StoredFeedback);

  it('stores a rating for the request id of a real search, and counts it', async () => {
    const search = await postJson(`${service.baseUrl}/v1/collections/fb/search`, { query: 'anything' });
    const requestId = search.headers.get('x-request-id') as string;
    const { status, body } = await postJson<{ feedbackId: string; receivedAt: string }>(`${service.baseUrl}/v1/feedback`, {
      requestId,
      rating: 'down',
      comment: 'Cited the wrong policy — “14 days” is outdated.',
    });
    expect(status).toBe(201);
    expect(body.feedbackId).toMatch(/^[0-9a-f-]{36}$/);
    const stored = (await readLines()).find((line) => line.feedbackId === body.feedbackId);
    expect(stored).toEqual({
      feedbackId: body.feedbackId,
      requestId,
      rating: 'down',
      comment: 'Cited the wrong policy — “14 days” is outdated.',
      keyName: 'anonymous',
      receivedAt: body.receivedAt,
    });
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/rag_feedback_total\{rating="down"\} 1/);
  });

  it('keeps every line whole under concurrent posts', async () => {
    const before = (await readLines()).length;
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => postJson(`${service.baseUrl}/v1/feedback`, { requestId: `req-${i}`, rating: i % 2 ? 'up' : 'down', comment: 'x'.repeat(1500) }).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 201)).toBe(true);
    const lines = await readLines();
    expect(lines.length - before).toBe(40);
    expect(new Set(lines.slice(before).map((line) => line.requestId)).size).toBe(40);
  });

  it('validates the body with clear 4xx errors', async () => {
    const cases: [unknown, RegExp][] = [
      [{ rating: 'up' }, /requestId/],
      [{ requestId: 'r', rating: 'meh' }, /rating/],
      [{ requestId: 'r', rating: 'up', comment: 'c'.repeat(2001) }, /comment/],
      [{ requestId: 'bad id!', rating: 'up' }, /requestId/],
      [{ requestId: 'r', rating: 'up', extra: true }, /extra|Unrecognized/i],
    ];
    for (const [body, message] of cases) {
      const response = await postJson<{ error: { code: string; message: string } }>(`${service.baseUrl}/v1/feedback`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.message).toMatch(message);
    }
    const form = await fetch(`${service.baseUrl}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'up' });
    expect(form.status).toBe(415);
  });
});

describe.skipIf(!REDIS_URL)('POST /v1/feedback with REDIS_URL: a Redis stream', () => {
  let service: TestService;
  let redis: Redis;
  const stream = `rag-test:feedback:${Date.now()}`;
  const queueName = `fb-test-${Date.now()}`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL as string);
    service = await startTestService({ REDIS_URL, FEEDBACK_STREAM: stream, QUEUE_NAME: queueName });
  });

  afterAll(async () => {
    await service?.close();
    await redis?.del(stream);
    const keys = await redis?.keys(`bull:${queueName}:*`);
    if (keys && keys.length > 0) await redis.del(...keys);
    await redis?.quit();
  });

  it('appends each rating to the stream and reports Redis in /readyz', async () => {
    const { status, body } = await postJson<{ feedbackId: string }>(`${service.baseUrl}/v1/feedback`, { requestId: 'req-redis-1', rating: 'up', comment: 'good' });
    expect(status).toBe(201);
    const entries = await redis.xrange(stream, '-', '+');
    expect(entries).toHaveLength(1);
    const fields = Object.fromEntries((entries[0]![1] as string[]).reduce<[string, string][]>((pairs, value, i, all) => (i % 2 ? pairs : [...pairs, [value, all[i + 1] as string]]), []));
    expect(fields).toMatchObject({ feedbackId: body.feedbackId, requestId: 'req-redis-1', rating: 'up', comment: 'good', keyName: 'anonymous' });
    const ready = (await (await fetch(`${service.baseUrl}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks.redis?.ok).toBe(true);
  });
});
