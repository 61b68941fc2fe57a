import { randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { UnprocessableDocumentError } from '../errors/index.js';
import { createLogger } from '../logger.js';
import { BullMqQueue } from './queues/bullmq-queue.js';
import { InProcessQueue, type JobProcessor } from './queues/in-process-queue.js';
import type { IngestJob, IngestQueue, JobStatus } from './types.js';
import { sweepUploads } from './upload-sweeper.js';
import { IngestWorker } from './worker.js';
import { removeTestQueue } from '../../test/helpers/redis.js';

/**
 * The upload sweep against both real queues (BullMQ on real Redis): it removes old uploads no job needs (nobody's,
 * or a failed job's the queue has dropped) and keeps those of queued, running and kept failed jobs, fresh ones and
 * anything not named like an upload.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const HOUR = 3600_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function uploadDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rag-sweep-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A file in `dir`, last modified `ageMs` ago. */
async function file(dir: string, ageMs: number, name = `${randomUUID()}.upload`): Promise<string> {
  const filePath = path.join(dir, name);
  await writeFile(filePath, 'uploaded bytes');
  const when = new Date(Date.now() - ageMs);
  await utimes(filePath, when, when);
  return filePath;
}

function job(documentId: string, filePath: string): IngestJob {
  return { collection: 'sweep', documentId, source: `${documentId}.txt`, contentType: 'text/plain', filePath, metadata: {}, enqueuedAt: new Date().toISOString() };
}

const exists = (filePath: string) => access(filePath).then(() => true, () => false);

async function settled(queue: IngestQueue, jobId: string, done: (status: JobStatus) => boolean): Promise<void> {
  for (;;) {
    const status = await queue.getJob({ jobId });
    if (status && done(status)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Jobs of `bad-*` documents fail for good; `slow` runs until the gate opens; the rest complete. */
function scripted() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const processor: JobProcessor = async ({ job: next }) => {
    if (next.documentId.startsWith('bad')) throw new UnprocessableDocumentError('NO_EXTRACTABLE_TEXT', 'no text');
    if (next.documentId === 'slow') await gate;
    return { chunks: 1, unchanged: false };
  };
  return { processor, open: () => open() };
}

/** Creates the files and jobs every backend is checked with, then sweeps. */
async function scenario(dir: string, queue: IngestQueue & Parameters<typeof sweepUploads>[0]['references']) {
  const old = 2 * HOUR;
  const files = {
    orphan: await file(dir, old),
    fresh: await file(dir, 0),
    notAnUpload: await file(dir, old, 'notes.txt'),
    droppedFailure: await file(dir, old),
    keptFailure: await file(dir, old),
    running: await file(dir, old),
    queued: await file(dir, old),
  };
  // Failed jobs are kept one at a time: the first failure is dropped when the second one fails.
  const [dropped] = await queue.enqueue({ jobs: [job('bad-1', files.droppedFailure)] });
  await settled(queue, dropped!.jobId, (status) => status.state === 'failed');
  const [kept] = await queue.enqueue({ jobs: [job('bad-2', files.keptFailure)] });
  await settled(queue, kept!.jobId, (status) => status.state === 'failed');
  const [running] = await queue.enqueue({ jobs: [job('slow', files.running)] });
  await settled(queue, running!.jobId, (status) => status.state === 'active');
  // One job at a time: this one waits behind the running one.
  const [queued] = await queue.enqueue({ jobs: [job('later', files.queued)] });
  expect((await queue.getJob({ jobId: queued!.jobId }))?.state).toBe('queued');
  expect(await queue.getJob({ jobId: dropped!.jobId })).toBeNull();

  const result = await sweepUploads({ uploadDir: dir, references: queue, minAgeMs: HOUR, logger });
  expect(result).toEqual({ removed: 2, inUse: 3 });
  expect(await exists(files.orphan)).toBe(false);
  expect(await exists(files.droppedFailure)).toBe(false);
  for (const name of ['fresh', 'notAnUpload', 'keptFailure', 'running', 'queued'] as const) expect(await exists(files[name]), name).toBe(true);
  // A retry of the kept failure still finds its upload.
  return { keptFailureJobId: kept!.jobId };
}

describe('sweepUploads', () => {
  it('with the embedded runner keeps the uploads of queued, running and kept failed jobs and removes the rest', async () => {
    const dir = await uploadDir();
    const { processor, open } = scripted();
    const journalDir = path.join(dir, 'journal');
    await mkdir(journalDir);
    const queue = new InProcessQueue(processor, { journalDir, concurrency: 1, attempts: 1, backoffMs: 10, maxDepth: 100, keepFinished: 1 }, logger);
    await queue.start();
    cleanups.push(async () => {
      open();
      await queue.close();
    });
    await scenario(dir, queue);
  });

  it('with BullMQ keeps the uploads of queued, running and kept failed jobs and removes the rest', async () => {
    const dir = await uploadDir();
    const name = `test-sweep-${randomUUID()}`;
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new BullMqQueue({ name, connection: redis, attempts: 1, backoffMs: 10, maxDepth: 100, keepFailed: { count: 1 } }, logger);
    const { processor, open } = scripted();
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new IngestWorker(
      { processor, store: { getDocument: async () => null }, logger },
      { queueName: name, connection, concurrency: 1, shutdownTimeoutMs: 5000, busyDocumentDelayMs: 100 },
    );
    await worker.start();
    cleanups.push(async () => {
      open();
      await worker.close();
      await connection.quit();
      await removeTestQueue({ queue, redis, name });
    });
    await scenario(dir, queue);
  });

  it('removes nothing when the queue cannot say which uploads are in use', async () => {
    const dir = await uploadDir();
    const orphan = await file(dir, 2 * HOUR);
    const queue = new BullMqQueue({ name: `test-sweep-${randomUUID()}`, connection: 'redis://127.0.0.1:1', attempts: 1, backoffMs: 10, maxDepth: 10, commandTimeoutMs: 500 }, logger);
    try {
      await expect(sweepUploads({ uploadDir: dir, references: queue, minAgeMs: HOUR, logger })).rejects.toThrow();
      expect(await exists(orphan)).toBe(true);
    } finally {
      await queue.close();
    }
  });
});
