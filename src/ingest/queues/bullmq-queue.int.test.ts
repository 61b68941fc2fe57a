import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError, RateLimitedError, UnprocessableDocumentError, UpstreamError } from '../../errors/index.js';
import { createLogger } from '../../logger.js';
import type { ProgressListener } from '../pipeline.js';
import type { IngestJob, IngestResult, JobStatus } from '../types.js';
import { IngestWorker } from '../worker.js';
import { BullMqQueue, DEFAULT_PREFIX, decodeFailure, ingestKeys } from './bullmq-queue.js';
import { removeTestQueue } from '../../../test/helpers/redis.js';

/**
 * Queue mechanics against real Redis: states, progress, retry/backoff, failure codes, depth limit, per-document
 * exclusion and ordering, shutdown. The processor is scripted here so failures and timing are exact; the real
 * pipeline (parsers, model, store) runs through the same worker in ../worker.int.test.ts.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
type Processor = (params: { job: IngestJob; onProgress: ProgressListener }) => Promise<IngestResult>;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A queue with a unique name, removed (BullMQ keys and ours) after the test. */
function newQueue(overrides: Partial<{ attempts: number; backoffMs: number; maxDepth: number }> = {}) {
  const name = `test-queue-${randomUUID()}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new BullMqQueue({ name, connection: redis, attempts: 3, backoffMs: 100, maxDepth: 1000, ...overrides }, logger);
  cleanups.push(() => removeTestQueue({ queue, redis, name }));
  return { name, queue, redis };
}

/** A worker on its own connection, as a separate process would have. */
async function startWorker(name: string, processor: Processor, options: Partial<{ concurrency: number; shutdownTimeoutMs: number }> = {}) {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new IngestWorker(
    { processor, store: { getDocument: async () => null }, logger },
    { queueName: name, connection, concurrency: options.concurrency ?? 2, shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000, stalledIntervalMs: 1000, busyDocumentDelayMs: 100 },
  );
  await worker.start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await worker.close();
    await connection.quit();
  };
  cleanups.push(close);
  return { worker, close };
}

function textJob(documentId: string, text = `text of ${documentId}`, collection = 'c1'): IngestJob {
  return { collection, documentId, source: `${documentId}.txt`, contentType: 'text/plain', text, metadata: {}, requestId: `req-${documentId}`, enqueuedAt: new Date().toISOString() };
}

async function waitFor(queue: BullMqQueue, jobId: string, done: (status: JobStatus) => boolean, timeoutMs = 20_000): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await queue.getJob({ jobId });
    if (status && done(status)) return status;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach the expected state: ${JSON.stringify(status)}`);
    await sleep(25);
  }
}
const finished = (status: JobStatus) => status.state === 'completed' || status.state === 'failed';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('BullMqQueue + IngestWorker on real Redis', () => {
  it('reports queued, then each stage with its percent, then completed with the result; the requestId travels with the job', async () => {
    const { name, queue } = newQueue();
    const [ref] = await queue.enqueue({ jobs: [textJob('doc-1')] });
    const jobId = ref!.jobId;
    expect(ref!.documentId).toBe('doc-1');
    const queued = await queue.getJob({ jobId });
    expect(queued).toMatchObject({ jobId, documentId: 'doc-1', collection: 'c1', source: 'doc-1.txt', state: 'queued', progress: 0, attempts: 0 });
    expect((await queue.queue.getJob(jobId))?.data.requestId).toBe('req-doc-1');

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await startWorker(name, async ({ onProgress }) => {
      for (const [stage, percent] of [['parse', 5], ['chunk', 20], ['embed', 25], ['embed', 60], ['upsert', 92]] as const) {
        await onProgress({ stage, percent });
        await sleep(150);
      }
      await gate;
      await onProgress({ stage: 'done', percent: 100 });
      return { chunks: 7, unchanged: false };
    });
    const stages: string[] = [];
    const upsert = await waitFor(queue, jobId, (status) => {
      if (status.stage && stages.at(-1) !== status.stage) stages.push(status.stage);
      return status.stage === 'upsert';
    });
    expect(stages).toEqual(['parse', 'chunk', 'embed', 'upsert']);
    expect(upsert).toMatchObject({ state: 'active', progress: 92, attempts: 1 });
    release();
    const done = await waitFor(queue, jobId, finished);
    expect(done).toMatchObject({ state: 'completed', stage: 'done', progress: 100, chunks: 7, unchanged: false, attempts: 1 });
    expect(done.finishedAt).toBeDefined();
    expect(done.error).toBeUndefined();
    expect((await queue.listJobs({ state: 'completed' })).map((status) => status.jobId)).toEqual([jobId]);
  });

  it('retries a retryable failure with exponential backoff, keeps the last error visible meanwhile, then succeeds', async () => {
    const { name, queue } = newQueue({ attempts: 4, backoffMs: 300 });
    const starts: number[] = [];
    await startWorker(name, async () => {
      starts.push(Date.now());
      if (starts.length < 3) throw new UpstreamError('STORE_UNAVAILABLE', `store down (try ${starts.length})`);
      return { chunks: 3, unchanged: false };
    });
    const [ref] = await queue.enqueue({ jobs: [textJob('flaky')] });
    const between = await waitFor(queue, ref!.jobId, (status) => status.state === 'queued' && status.error !== undefined);
    expect(between.error).toEqual({ code: 'STORE_UNAVAILABLE', message: 'store down (try 1)' });
    const done = await waitFor(queue, ref!.jobId, finished);
    expect(done).toMatchObject({ state: 'completed', chunks: 3, attempts: 3 });
    expect(done.error).toBeUndefined();
    const gaps = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(300);
    expect(gaps[1]).toBeGreaterThanOrEqual(600);
  });

  it('fails a user error at once with its code and message; lists it as failed; retries it on request', async () => {
    const { name, queue } = newQueue({ attempts: 5 });
    let calls = 0;
    await startWorker(name, async () => {
      calls += 1;
      if (calls === 1) throw new UnprocessableDocumentError('NO_EXTRACTABLE_TEXT', "'scan.pdf' has no text layer; run OCR first");
      return { chunks: 2, unchanged: false };
    });
    const [ref] = await queue.enqueue({ jobs: [textJob('scan')] });
    const failed = await waitFor(queue, ref!.jobId, finished);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'NO_EXTRACTABLE_TEXT', message: "'scan.pdf' has no text layer; run OCR first" } });
    expect(calls).toBe(1);
    expect((await queue.listJobs({ state: 'failed' })).map((job) => job.jobId)).toEqual([ref!.jobId]);
    expect(await queue.listJobs({ state: 'completed' })).toEqual([]);

    const retried = await queue.retryJob({ jobId: ref!.jobId });
    expect(retried.state).toMatch(/queued|active|completed/);
    expect(retried.error).toBeUndefined();
    const done = await waitFor(queue, ref!.jobId, finished);
    expect(done).toMatchObject({ state: 'completed', chunks: 2, attempts: 1 });
    expect(await queue.listJobs({ state: 'failed' })).toEqual([]);

    await expect(queue.retryJob({ jobId: ref!.jobId })).rejects.toMatchObject({ code: 'JOB_NOT_FAILED' });
    await expect(queue.retryJob({ jobId: randomUUID() })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await queue.getJob({ jobId: 'meta' })).toBeNull();
  });

  it('reports a job that stalled too often as JOB_STALLED, and a retry really runs it again', async () => {
    const { name, queue, redis } = newQueue();
    const [ref] = await queue.enqueue({ jobs: [textJob('crashy')] });
    // What BullMQ's stall check writes once a job exceeded maxStalledCount (its worker kept dying).
    await redis.hset(queue.queue.toKey(ref!.jobId), 'defa', 'job stalled more than allowable limit', 'stc', '3');
    let runs = 0;
    await startWorker(name, async () => {
      runs += 1;
      return { chunks: 1, unchanged: false };
    });
    const failed = await waitFor(queue, ref!.jobId, finished);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'JOB_STALLED' } });
    expect(runs).toBe(0);
    await queue.retryJob({ jobId: ref!.jobId });
    expect(await waitFor(queue, ref!.jobId, finished)).toMatchObject({ state: 'completed', chunks: 1 });
    expect(runs).toBe(1);
  });

  it('answers OVERLOADED with a retry delay once waiting + running jobs reach MAX_QUEUE_DEPTH', async () => {
    const { queue } = newQueue({ maxDepth: 3 });
    await queue.enqueue({ jobs: [textJob('a'), textJob('b')] });
    await queue.enqueue({ jobs: [textJob('c')] });
    expect(await queue.depth()).toBe(3);
    const error = await queue.enqueue({ jobs: [textJob('d')] }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 30, details: { depth: 3, maxDepth: 3 } });
    const listed = await queue.listJobs({ state: 'queued' });
    expect(listed.map((job) => job.documentId)).toEqual(['c', 'b', 'a']);
  });

  it('lists the newest jobs of the collections asked for, paging past more than a page of newer jobs of another', async () => {
    const { queue } = newQueue();
    await queue.enqueue({ jobs: [textJob('old-1', 'one', 'mine'), textJob('old-2', 'two', 'mine')] });
    // More newer jobs of another collection than one listing page (500) reads.
    await queue.enqueue({ jobs: Array.from({ length: 620 }, (_, i) => textJob(`other-${i}`, `text ${i}`, 'theirs')) });
    const mine = await queue.listJobs({ collections: ['mine'], limit: 5 });
    expect(mine.map((job) => job.documentId).sort()).toEqual(['old-1', 'old-2']);
    expect(mine.every((job) => job.collection === 'mine')).toBe(true);
    expect((await queue.listJobs({ limit: 3 })).every((job) => job.collection === 'theirs')).toBe(true);
    expect(await queue.listJobs({ collections: ['mine'], state: 'completed' })).toEqual([]);
    expect(await queue.listJobs({ collections: [] })).toEqual([]);
    const both = await queue.listJobs({ collections: ['mine', 'theirs'], limit: 1000 });
    expect(both).toHaveLength(622);
    expect(new Set(both.map((job) => job.jobId)).size).toBe(622);
  });

  it('never runs two jobs of one document at once, across workers, and indexes the newest upload last', async () => {
    const { name, queue } = newQueue();
    const running = new Map<string, number>();
    let maxSameDocument = 0;
    let maxOverall = 0;
    let overall = 0;
    const applied = new Map<string, string>();
    const processor: Processor = async ({ job }) => {
      const now = (running.get(job.documentId) ?? 0) + 1;
      running.set(job.documentId, now);
      overall += 1;
      maxSameDocument = Math.max(maxSameDocument, now);
      maxOverall = Math.max(maxOverall, overall);
      await sleep(150);
      applied.set(job.documentId, job.text ?? '');
      running.set(job.documentId, now - 1);
      overall -= 1;
      return { chunks: 1, unchanged: false };
    };
    // Two "processes" with concurrency 2 each.
    await startWorker(name, processor);
    await startWorker(name, processor);
    const refs = await queue.enqueue({
      jobs: [textJob('shared', 'v1'), textJob('shared', 'v2'), textJob('other', 'o1'), textJob('shared', 'v3'), textJob('shared', 'v4')],
    });
    for (const ref of refs) expect((await waitFor(queue, ref.jobId, finished)).state).toBe('completed');
    expect(maxSameDocument).toBe(1);
    expect(maxOverall).toBeGreaterThanOrEqual(2);
    expect(applied.get('shared')).toBe('v4');
  });

  it('completes an older upload without writing once a newer one of the same document is indexed', async () => {
    const { name, queue } = newQueue({ attempts: 2, backoffMs: 1500 });
    const ran: string[] = [];
    await startWorker(name, async ({ job }) => {
      ran.push(job.text ?? '');
      if (job.text === 'old' && ran.filter((text) => text === 'old').length === 1) throw new UpstreamError('EMBEDDER_UNAVAILABLE', 'model busy');
      return { chunks: 4, unchanged: false };
    });
    const [older, newer] = await queue.enqueue({ jobs: [textJob('doc', 'old'), textJob('doc', 'new')] });
    expect((await waitFor(queue, newer!.jobId, finished)).state).toBe('completed');
    // The older job's retry (after its backoff) finds the newer content applied and does not run the pipeline.
    const olderDone = await waitFor(queue, older!.jobId, finished);
    expect(olderDone).toMatchObject({ state: 'completed', unchanged: true });
    expect(ran).toEqual(['old', 'new']);
  });

  it('a DELETE stops a running job before it writes, skips queued ones, and runs a job enqueued during it afterwards', async () => {
    const { name, queue, redis } = newQueue();
    const order: string[] = [];
    let reachedGate!: () => void;
    const atGate = new Promise<void>((resolve) => (reachedGate = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    await startWorker(name, async ({ job, onProgress }) => {
      order.push(`start:${job.text}`);
      await onProgress({ stage: 'parse', percent: 5 });
      if (job.text === 'running') {
        reachedGate();
        await gate;
      }
      await onProgress({ stage: 'embed', percent: 50 });
      await onProgress({ stage: 'upsert', percent: 92 });
      order.push(`write:${job.text}`);
      await onProgress({ stage: 'done', percent: 100 });
      return { chunks: 1, unchanged: false };
    });
    const [running] = await queue.enqueue({ jobs: [textJob('doc', 'running')] });
    await atGate;
    const [queued] = await queue.enqueue({ jobs: [textJob('doc', 'queued')] });

    const deleting = queue.deleteDocument({
      collection: 'c1',
      documentId: 'doc',
      deleteChunks: async () => {
        order.push('delete');
        return 3;
      },
    });
    // The tombstone is recorded first; the store delete waits for the running job's lock.
    const deletedKey = ingestKeys(DEFAULT_PREFIX, name).documentDeleted('c1', 'doc');
    while ((await redis.get(deletedKey)) === null) await sleep(10);
    const [during] = await queue.enqueue({ jobs: [textJob('doc', 'during')] });
    openGate();

    expect(await deleting).toEqual({ deletedChunks: 3, cancelledJobs: 2 });
    const skipped = { state: 'completed', chunks: 0, unchanged: false, skipped: { code: 'DOCUMENT_DELETED' } };
    expect(await waitFor(queue, running!.jobId, finished)).toMatchObject(skipped);
    expect(await waitFor(queue, queued!.jobId, finished)).toMatchObject(skipped);
    const after = await waitFor(queue, during!.jobId, finished);
    expect(after).toMatchObject({ state: 'completed', chunks: 1 });
    expect(after.skipped).toBeUndefined();
    // Nothing enqueued before the DELETE wrote; the job enqueued during it wrote after the delete.
    expect(order.filter((event) => !event.startsWith('start:'))).toEqual(['delete', 'write:during']);
    expect(order).not.toContain('start:queued');
  });

  it('a DELETE cancels a job nobody has started yet, skips a retried failed job of before it, and later jobs run', async () => {
    const { name, queue } = newQueue();
    const [queued] = await queue.enqueue({ jobs: [textJob('waiting', 'old')] });
    // Nothing to delete in the store, but a queued job is cancelled: a meaningful delete.
    expect(await queue.deleteDocument({ collection: 'c1', documentId: 'waiting', deleteChunks: async () => 0 })).toEqual({ deletedChunks: 0, cancelledJobs: 1 });
    expect(await queue.deleteDocument({ collection: 'c1', documentId: 'never-seen', deleteChunks: async () => 0 })).toEqual({ deletedChunks: 0, cancelledJobs: 0 });

    const ran: string[] = [];
    await startWorker(name, async ({ job }) => {
      ran.push(job.text ?? '');
      if (job.text === 'bad') throw new UnprocessableDocumentError('NO_EXTRACTABLE_TEXT', 'no text');
      return { chunks: 2, unchanged: false };
    });
    expect(await waitFor(queue, queued!.jobId, finished)).toMatchObject({ state: 'completed', chunks: 0, skipped: { code: 'DOCUMENT_DELETED' } });
    const [fresh] = await queue.enqueue({ jobs: [textJob('waiting', 'new')] });
    expect(await waitFor(queue, fresh!.jobId, finished)).toMatchObject({ state: 'completed', chunks: 2 });

    const [bad] = await queue.enqueue({ jobs: [textJob('failing', 'bad')] });
    expect(await waitFor(queue, bad!.jobId, finished)).toMatchObject({ state: 'failed' });
    // A failed job is not pending: it is not counted, but a retry of it after the DELETE indexes nothing.
    expect(await queue.deleteDocument({ collection: 'c1', documentId: 'failing', deleteChunks: async () => 0 })).toEqual({ deletedChunks: 0, cancelledJobs: 0 });
    await queue.retryJob({ jobId: bad!.jobId });
    expect(await waitFor(queue, bad!.jobId, finished)).toMatchObject({ state: 'completed', skipped: { code: 'DOCUMENT_DELETED' } });
    expect(ran).toEqual(['new', 'bad']);
  });

  it('close() lets the running job finish before resolving', async () => {
    const { name, queue } = newQueue();
    const { close } = await startWorker(name, async ({ onProgress }) => {
      for (let step = 0; step < 10; step += 1) {
        await onProgress({ stage: 'embed', percent: 25 + step * 6 });
        await sleep(100);
      }
      return { chunks: 10, unchanged: false };
    });
    const [ref] = await queue.enqueue({ jobs: [textJob('long')] });
    await waitFor(queue, ref!.jobId, (status) => status.state === 'active');
    const started = Date.now();
    await close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await queue.getJob({ jobId: ref!.jobId })).toMatchObject({ state: 'completed', chunks: 10 });
  });

  it('at the shutdown deadline hands an unfinished job back to the queue without using an attempt', async () => {
    const { name, queue } = newQueue();
    const slow: Processor = async ({ onProgress }) => {
      for (let step = 0; step < 100; step += 1) {
        await onProgress({ stage: 'embed', percent: 25 + Math.floor(step / 2) });
        await sleep(100);
      }
      return { chunks: 100, unchanged: false };
    };
    const { close } = await startWorker(name, slow, { shutdownTimeoutMs: 1000 });
    const [ref] = await queue.enqueue({ jobs: [textJob('very-long')] });
    await waitFor(queue, ref!.jobId, (status) => status.state === 'active');
    const started = Date.now();
    await close();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await queue.getJob({ jobId: ref!.jobId })).toMatchObject({ state: 'queued', attempts: 0 });
    await startWorker(name, async () => ({ chunks: 100, unchanged: false }));
    expect(await waitFor(queue, ref!.jobId, finished)).toMatchObject({ state: 'completed', attempts: 1 });
  });

  it('maps an unreachable Redis to QUEUE_UNAVAILABLE instead of hanging', async () => {
    const queue = new BullMqQueue({ name: `test-queue-${randomUUID()}`, connection: 'redis://127.0.0.1:1', attempts: 1, backoffMs: 0, maxDepth: 10, commandTimeoutMs: 500 }, logger);
    try {
      const error = await queue.depth().catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
      await expect(queue.health()).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
    } finally {
      await queue.close();
    }
  });

  it('decodes failure reasons written by BullMQ itself', () => {
    expect(decodeFailure('job stalled more than allowable limit')?.code).toBe('JOB_STALLED');
    expect(decodeFailure('something else')).toEqual({ code: 'JOB_FAILED', message: 'something else' });
    expect(decodeFailure(undefined)).toBeUndefined();
  });
});
