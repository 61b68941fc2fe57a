import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenChunker } from '../src/ingest/chunkers/token-chunker.js';
import { parserFor } from '../src/ingest/parsers/index.js';
import { BullMqQueue, type IngestProgress } from '../src/ingest/queues/bullmq-queue.js';
import type { IngestJob, JobStatus } from '../src/ingest/types.js';
import { createLogger } from '../src/logger.js';
import { TransformersEmbedder } from '../src/retrieve/embedders/transformers-embedder.js';
import { LanceDbVectorStore, tableNameOf } from '../src/retrieve/stores/lancedb-store.js';
import { removeTestQueue } from './helpers/redis.js';

/**
 * Real worker processes (`node --import tsx src/ingest/worker-main.ts`, what `npm run worker` runs) on real Redis
 * with the real model and LanceDB: SIGKILL one in the middle of embedding a large document, start another, and
 * the job completes once, with exactly the expected chunks; then SIGTERM lets an in-flight job finish before exit.
 * The large document is a page of Python's HTML docs (Debian python3.11-doc, also used by the eval set).
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PYTHON_DOCS = '/usr/share/doc/python3.11/html';
const LARGE_PAGE = path.join(PYTHON_DOCS, 'library/stdtypes.html');
const MEDIUM_PAGE = path.join(PYTHON_DOCS, 'library/json.html');
const MODELS_DIR = path.resolve(process.env.MODELS_DIR ?? 'models');
const COLLECTION = 'crash';
const logger = createLogger({ level: 'silent' });

interface WorkerProcess {
  child: ChildProcess;
  name: string;
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dataDir: string;
let queueName: string;
let redis: Redis;
let queue: BullMqQueue;
const workers: WorkerProcess[] = [];

/** Starts `npm run worker`'s entry point and resolves once it consumes the queue. */
async function startWorker(): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/ingest/worker-main.ts'], {
    cwd: path.resolve('.'),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      REDIS_URL,
      QUEUE_NAME: queueName,
      DATA_DIR: dataDir,
      MODELS_DIR,
      MODELS_OFFLINE: 'true',
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '1',
      SHUTDOWN_TIMEOUT_MS: '30000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const started = new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer) => {
      for (const line of data.toString().split('\n').filter(Boolean)) {
        logs.push(line);
        if (line.includes('ingestion worker started')) resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => logs.push(data.toString()));
    void exited.then(({ code, signal }) => reject(new Error(`worker exited before starting (code ${code}, signal ${signal}):\n${logs.join('\n')}`)));
  });
  await started;
  const worker = { child, name: `worker-${child.pid}`, logs, exited };
  workers.push(worker);
  return worker;
}

async function uploadCopy(file: string): Promise<string> {
  const target = path.join(dataDir, 'uploads', `${randomUUID()}.upload`);
  await copyFile(file, target);
  return target;
}

function htmlJob(documentId: string, filePath: string, source: string): IngestJob {
  return { collection: COLLECTION, documentId, source, contentType: 'text/html', filePath, metadata: {}, requestId: `req-${documentId}`, enqueuedAt: new Date().toISOString() };
}

async function until<T>(read: () => Promise<T | null | undefined>, done: (value: T | null | undefined) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const finished = (status: JobStatus | null | undefined) => status?.state === 'completed' || status?.state === 'failed';

describe('worker processes: SIGKILL recovery and SIGTERM drain', () => {
  let expectedChunks: number;

  beforeAll(async () => {
    if (!existsSync(LARGE_PAGE)) throw new Error(`${LARGE_PAGE} is missing: apt-get install -y python3.11-doc (see fixtures/eval/README.md)`);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rag-crash-test-'));
    await mkdir(path.join(dataDir, 'uploads'), { recursive: true });
    queueName = `test-crash-${randomUUID()}`;
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new BullMqQueue({ name: queueName, connection: redis, attempts: 3, backoffMs: 500, maxDepth: 100 }, logger);

    // The reference: the same parser and chunker the worker runs, with the same settings (config defaults).
    const embedder = new TransformersEmbedder({ modelsDir: MODELS_DIR, offline: true, modelId: 'Xenova/all-MiniLM-L6-v2', dtype: 'q8', maxBatchSize: 32 });
    await embedder.load();
    const document = await parserFor('text/html').parse({ filePath: LARGE_PAGE, fileName: 'stdtypes.html', contentType: 'text/html' });
    expectedChunks = (await new TokenChunker({ tokenCounter: embedder, chunkSizeTokens: 200, overlapTokens: 30 }).chunk({ document })).length;
  });

  afterAll(async () => {
    for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await removeTestQueue({ queue, redis, name: queueName });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('resumes a large job after its worker is SIGKILLed mid-embedding: completes once, exact chunk count, no duplicate ids', async () => {
    const first = await startWorker();
    const filePath = await uploadCopy(LARGE_PAGE);
    const [ref] = await queue.enqueue({ jobs: [htmlJob('python-stdtypes', filePath, 'stdtypes.html')] });
    const jobId = ref!.jobId;

    // Kill once a few embedding batches are done: well inside the embed stage, nothing written yet.
    const midEmbed = await until(() => queue.getJob({ jobId }), (status) => status?.stage === 'embed' && status.progress >= 35, 90_000, 'the embed stage');
    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(midEmbed.state).toBe('active');

    const second = await startWorker();
    const startedAt = Date.now();
    // The job is taken over once its dead lock expires and a stall check runs (worker.ts documents the settings).
    await until(() => queue.queue.getJob(jobId), (job) => job?.processedBy === second.name, 60_000, 'the second worker to pick the job up');
    const resumedAt = Date.now();
    const done = await until(() => queue.getJob({ jobId }), finished, 120_000, 'the job to finish');
    const completedAt = Date.now();

    expect(done.error).toBeUndefined();
    expect(done).toMatchObject({ state: 'completed', chunks: expectedChunks, unchanged: false });
    const stalls = (await queue.queue.getJob(jobId))?.stalledCounter;
    expect(stalls).toBe(1);

    // Read the table directly: one row per chunk, ids unique, indexes 0..n-1.
    const db = await lancedb.connect(path.join(dataDir, 'lancedb'));
    const table = await db.openTable(tableNameOf(COLLECTION));
    const rows = (await table.query().where("`documentId` = 'python-stdtypes'").select(['id', 'chunkIndex']).toArray()) as { id: string; chunkIndex: number }[];
    expect(rows).toHaveLength(expectedChunks);
    expect(new Set(rows.map((row) => row.id)).size).toBe(expectedChunks);
    expect(rows.map((row) => row.chunkIndex).sort((a, b) => a - b)).toEqual(Array.from({ length: expectedChunks }, (_, index) => index));
    db.close();
    const store = new LanceDbVectorStore({ dir: path.join(dataDir, 'lancedb'), dimensions: 384 });
    expect((await store.getDocument({ collection: COLLECTION, documentId: 'python-stdtypes' }))?.chunkCount).toBe(expectedChunks);
    await store.close();
    await until(() => access(filePath).then(() => true, () => false), (present) => !present, 5000, 'the upload to be deleted');

    console.info(
      `[worker-crash] ${expectedChunks} chunks; killed at embed ${midEmbed.progress}%; ` +
        `second worker up ${((startedAt - killedAt) / 1000).toFixed(1)} s after the kill; job resumed ${((resumedAt - killedAt) / 1000).toFixed(1)} s after the kill; ` +
        `completed ${((completedAt - resumedAt) / 1000).toFixed(1)} s later (${(expectedChunks / ((completedAt - resumedAt) / 1000)).toFixed(1)} chunks/s end to end)`,
    );
  }, 300_000);

  it('on SIGTERM finishes the in-flight job, then exits 0', async () => {
    const worker = workers.at(-1) ?? (await startWorker());
    const filePath = await uploadCopy(MEDIUM_PAGE);
    const [ref] = await queue.enqueue({ jobs: [htmlJob('python-json', filePath, 'json.html')] });
    const progress = await until(() => queue.getJob({ jobId: ref!.jobId }), (status) => status?.stage === 'embed' || finished(status), 90_000, 'the embed stage');
    expect(progress?.state).toBe('active');
    const stage = (progress as JobStatus).stage as IngestProgress['stage'];
    worker.child.kill('SIGTERM');
    const signalledAt = Date.now();
    const exit = await worker.exited;
    const exitedAt = Date.now();
    expect(exit).toEqual({ code: 0, signal: null });
    const status = await queue.getJob({ jobId: ref!.jobId });
    expect(status).toMatchObject({ state: 'completed', attempts: 1 });
    expect(new Date(status?.finishedAt as string).getTime()).toBeLessThanOrEqual(exitedAt);
    expect(worker.logs.some((line) => line.includes('worker stopped'))).toBe(true);
    console.info(`[worker-crash] SIGTERM during '${stage}': job completed (${status?.chunks} chunks) and the worker exited 0 after ${((exitedAt - signalledAt) / 1000).toFixed(1)} s`);
  }, 180_000);
});
