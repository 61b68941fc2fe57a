import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BullMqQueue } from '../src/ingest/queues/bullmq-queue.js';
import type { JobStatus } from '../src/ingest/types.js';
import { IngestWorker } from '../src/ingest/worker.js';
import { createLogger } from '../src/logger.js';
import { postJson, startTestService, uploadFiles, waitForJob, type TestService } from './helpers/service.js';
import { removeTestQueue } from './helpers/redis.js';

/**
 * DELETE /v1/collections/{c}/documents/{id} against ingestion jobs of the same document that are still queued, on
 * both queue backends, over HTTP with the real model and store: the document stays deleted once the queue drains,
 * the cancelled job says why it indexed nothing, and an upload after the DELETE indexes the document again.
 * Exact interleavings with running jobs are tested on the queues themselves (the .int.test.ts files under src/ingest).
 */

const REDIS_URL = process.env.REDIS_TEST_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const FIXTURES = path.resolve('fixtures/documents');
const CORPUS = ['employee-handbook.pdf', 'shipment-api-guide.md', 'security-incident-process.html', 'oncall-runbook.txt', 'travel-expense-policy.docx'];
const COLLECTION = 'plant';
const DOCUMENT = 'boiler-manual';
const logger = createLogger({ level: 'silent' });

/** A version of the document whose distinctive word keyword search can find. */
const version = (word: string) => `${word} boiler manual: ${word} explains how the boiler is bled and refilled. `.repeat(30);

interface DeleteBody {
  documentId: string;
  deletedChunks: number;
  cancelledJobs: number;
}

async function uploadVersion(service: TestService, word: string): Promise<string> {
  const { status, body } = await postJson<{ jobs: { jobId: string }[] }>(`${service.baseUrl}/v1/collections/${COLLECTION}/documents`, {
    text: version(word),
    source: 'boiler.txt',
    documentId: DOCUMENT,
  });
  expect(status).toBe(202);
  return body.jobs[0]!.jobId;
}

async function deleteDocument(service: TestService): Promise<{ status: number; body: DeleteBody }> {
  const response = await fetch(`${service.baseUrl}/v1/collections/${COLLECTION}/documents/${DOCUMENT}`, { method: 'DELETE' });
  return { status: response.status, body: (await response.json()) as DeleteBody };
}

async function documentStatus(service: TestService): Promise<number> {
  return (await fetch(`${service.baseUrl}/v1/collections/${COLLECTION}/documents/${DOCUMENT}`)).status;
}

/** Hits of this document for a keyword query. */
async function hits(service: TestService, word: string): Promise<number> {
  const { body } = await postJson<{ results: { documentId: string }[] }>(`${service.baseUrl}/v1/collections/${COLLECTION}/search`, { query: word, mode: 'keyword', topK: 50 });
  return body.results.filter((hit) => hit.documentId === DOCUMENT).length;
}

const deletedSkip = { state: 'completed', chunks: 0, skipped: { code: 'DOCUMENT_DELETED' } };

describe('DELETE of a document with a queued job, embedded runner', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ WORKER_CONCURRENCY: '1' });
  });

  afterAll(async () => {
    await service?.close();
  });

  it('cancels the queued job, keeps the document deleted once the queue drains, and indexes a later upload', async () => {
    expect((await deleteDocument(service)).status).toBe(404);
    const first = await waitForJob(service.baseUrl, await uploadVersion(service, 'alpha'));
    expect(first).toMatchObject({ state: 'completed', unchanged: false });

    // Five documents ahead of it with one job at a time: the new version is still queued when the DELETE arrives.
    const ahead = await uploadFiles(service.baseUrl, 'other', CORPUS.map((name) => ({ path: path.join(FIXTURES, name) })));
    expect(ahead.status).toBe(202);
    const aheadJobs = ((await ahead.json()) as { jobs: { jobId: string }[] }).jobs;
    const queuedJob = await uploadVersion(service, 'bravo');
    const deleted = await deleteDocument(service);
    expect(deleted).toEqual({ status: 200, body: { documentId: DOCUMENT, deletedChunks: first.chunks, cancelledJobs: 1 } });
    expect(await (await fetch(`${service.baseUrl}/v1/jobs/${queuedJob}`)).json()).toMatchObject(deletedSkip);

    for (const job of aheadJobs) expect((await waitForJob(service.baseUrl, job.jobId)).state).toBe('completed');
    expect(await documentStatus(service)).toBe(404);
    expect(await hits(service, 'alpha')).toBe(0);
    expect(await hits(service, 'bravo')).toBe(0);

    const again = await waitForJob(service.baseUrl, await uploadVersion(service, 'charlie'));
    expect(again).toMatchObject({ state: 'completed', unchanged: false });
    expect(again.skipped).toBeUndefined();
    expect(await documentStatus(service)).toBe(200);
    expect(await hits(service, 'charlie')).toBe(again.chunks);
  });
});

describe('DELETE of a document with a queued job, BullMQ with a separate worker', () => {
  let service: TestService;
  let redis: Redis;
  const queueName = `test-delete-${randomUUID()}`;
  let worker: { worker: IngestWorker; connection: Redis } | undefined;

  /** A worker as `npm run worker` builds it, on this service's pipeline and store (same DATA_DIR). */
  async function startWorker(): Promise<void> {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const ingest = new IngestWorker(
      { processor: ({ job, onProgress }) => service.runtime.pipeline.run({ job, onProgress }), store: service.runtime.store, logger },
      { queueName, connection, concurrency: 2, shutdownTimeoutMs: 30_000, busyDocumentDelayMs: 200 },
    );
    await ingest.start();
    worker = { worker: ingest, connection };
  }

  async function stopWorker(): Promise<void> {
    if (!worker) return;
    await worker.worker.close();
    await worker.connection.quit();
    worker = undefined;
  }

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    service = await startTestService({ REDIS_URL, QUEUE_NAME: queueName });
  });

  afterAll(async () => {
    await stopWorker();
    await removeTestQueue({ queue: service?.runtime.queue as BullMqQueue | undefined, redis, name: queueName });
    await service?.close();
  });

  it('cancels jobs no worker has reached, keeps the document deleted once the queue drains, and indexes a later upload', async () => {
    // No worker yet: the job is certainly queued. Nothing is stored, but cancelling it makes the DELETE meaningful.
    const neverIndexed = await uploadVersion(service, 'alpha');
    expect(await deleteDocument(service)).toEqual({ status: 200, body: { documentId: DOCUMENT, deletedChunks: 0, cancelledJobs: 1 } });
    await startWorker();
    expect(await waitForJob(service.baseUrl, neverIndexed)).toMatchObject(deletedSkip);
    expect(await documentStatus(service)).toBe(404);
    expect(await hits(service, 'alpha')).toBe(0);

    const indexed = await waitForJob(service.baseUrl, await uploadVersion(service, 'bravo'));
    expect(indexed).toMatchObject({ state: 'completed', unchanged: false });
    expect(await documentStatus(service)).toBe(200);

    // Stored chunks and a queued newer version: both go.
    await stopWorker();
    const queuedJob = await uploadVersion(service, 'charlie');
    expect(await deleteDocument(service)).toEqual({ status: 200, body: { documentId: DOCUMENT, deletedChunks: indexed.chunks, cancelledJobs: 1 } });
    await startWorker();
    const skipped: JobStatus = await waitForJob(service.baseUrl, queuedJob);
    expect(skipped).toMatchObject(deletedSkip);
    expect(await documentStatus(service)).toBe(404);
    expect(await hits(service, 'bravo')).toBe(0);
    expect(await hits(service, 'charlie')).toBe(0);

    const again = await waitForJob(service.baseUrl, await uploadVersion(service, 'delta'));
    expect(again).toMatchObject({ state: 'completed', unchanged: false });
    expect(await documentStatus(service)).toBe(200);
    expect(await hits(service, 'delta')).toBe(again.chunks);
    expect(await deleteDocument(service)).toEqual({ status: 200, body: { documentId: DOCUMENT, deletedChunks: again.chunks, cancelledJobs: 0 } });
    expect((await deleteDocument(service)).status).toBe(404);
  });
});
