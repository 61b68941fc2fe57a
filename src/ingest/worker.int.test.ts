import { randomUUID } from 'node:crypto';
import { access, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../errors/index.js';
import { createLogger } from '../logger.js';
import { TransformersEmbedder } from '../retrieve/embedders/transformers-embedder.js';
import { LanceDbVectorStore } from '../retrieve/stores/lancedb-store.js';
import type { ScoredChunk, VectorStore } from '../retrieve/types.js';
import { TokenChunker } from './chunkers/token-chunker.js';
import { parserFor } from './parsers/index.js';
import { IngestPipeline } from './pipeline.js';
import { BullMqQueue, DEFAULT_PREFIX, ingestKeys, type IngestProgress } from './queues/bullmq-queue.js';
import type { JobProcessor } from './queues/in-process-queue.js';
import type { IngestJob, JobStatus } from './types.js';
import { IngestWorker } from './worker.js';
import { removeTestQueue } from '../../test/helpers/redis.js';

/**
 * The worker with the real pipeline (parsers, the exported MiniLM model, LanceDB) and real Redis: what a job
 * does to the store, end to end. Queue mechanics with scripted timing live in queues/bullmq-queue.int.test.ts;
 * the SIGKILL/SIGTERM process tests in test/worker-crash.int.test.ts.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const FIXTURES = path.resolve('fixtures/documents');
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let embedder: TransformersEmbedder;
let chunker: TokenChunker;
let store: LanceDbVectorStore;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rag-worker-test-'));
  embedder = new TransformersEmbedder({ modelsDir: path.resolve(process.env.MODELS_DIR ?? 'models'), offline: true, modelId: 'Xenova/all-MiniLM-L6-v2', dtype: 'q8', maxBatchSize: 32 });
  await embedder.warmup();
  chunker = new TokenChunker({ tokenCounter: embedder, chunkSizeTokens: 200, overlapTokens: 30 });
  store = new LanceDbVectorStore({ dir: path.join(tmp, 'lancedb'), dimensions: embedder.dimensions });
});

afterAll(async () => {
  await store?.close();
  await rm(tmp, { recursive: true, force: true });
});

function pipelineWith(target: VectorStore): IngestPipeline {
  return new IngestPipeline({ parserFor, chunker, embedder, store: target, embedBatchSize: 32, fingerprint: { test: true }, logger });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A unique queue, a worker (own connection, as another process) running `processor`, and the job events. */
async function setup(processor: JobProcessor, options: { attempts?: number; workers?: number } = {}) {
  const name = `test-worker-${randomUUID()}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new BullMqQueue({ name, connection: redis, attempts: options.attempts ?? 3, backoffMs: 200, maxDepth: 1000 }, logger);
  const events = new QueueEvents(name, { connection: redis.duplicate() });
  await events.waitUntilReady();
  const workers: { worker: IngestWorker; connection: Redis }[] = [];
  for (let index = 0; index < (options.workers ?? 1); index += 1) {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new IngestWorker({ processor, store, logger }, { queueName: name, connection, concurrency: 2, shutdownTimeoutMs: 30_000, busyDocumentDelayMs: 200 });
    await worker.start();
    workers.push({ worker, connection });
  }
  cleanups.push(async () => {
    for (const { worker, connection } of workers) {
      await worker.close();
      await connection.quit();
    }
    await events.close();
    await removeTestQueue({ queue, redis, name });
  });
  return { queue, events, redis, name };
}

/** Copies a fixture to an upload path, as the HTTP layer stores uploads, and describes the job. */
async function upload(fixture: string, collection: string, documentId: string, contentType: string): Promise<IngestJob> {
  const filePath = path.join(tmp, `${randomUUID()}.upload`);
  await copyFile(path.join(FIXTURES, fixture), filePath);
  return { collection, documentId, source: fixture, contentType, filePath, metadata: { team: 'ops' }, enqueuedAt: new Date().toISOString() };
}

function text(collection: string, documentId: string, body: string): IngestJob {
  return { collection, documentId, source: `${documentId}.txt`, contentType: 'text/plain', text: body, metadata: {}, enqueuedAt: new Date().toISOString() };
}

async function finish(queue: BullMqQueue, jobId: string, timeoutMs = 90_000): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await queue.getJob({ jobId });
    if (status && (status.state === 'completed' || status.state === 'failed')) return status;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

async function keywordHits(collection: string, query: string): Promise<ScoredChunk[]> {
  return store.search({ collection, mode: 'keyword', text: query, topK: 50 });
}

const run: JobProcessor = ({ job, onProgress }) => pipelineWith(store).run({ job, onProgress });

describe('IngestWorker with the real pipeline', () => {
  it('reports every stage in order as progress and deletes the upload once the job completes', async () => {
    const { queue, events } = await setup(run);
    const job = await upload('shipment-api-guide.md', 'progress', 'guide', 'text/markdown');
    const [ref] = await queue.enqueue({ jobs: [job] });
    const progress: IngestProgress[] = [];
    events.on('progress', ({ jobId, data }) => {
      if (jobId === ref!.jobId) progress.push(data as IngestProgress);
    });
    const done = await finish(queue, ref!.jobId);
    expect(done).toMatchObject({ state: 'completed', stage: 'done', progress: 100, unchanged: false, attempts: 1 });
    const stages = progress.map((update) => update.stage).filter((stage, index, all) => stage !== all[index - 1]);
    expect(stages).toEqual(['parse', 'chunk', 'embed', 'upsert', 'done']);
    const percents = progress.map((update) => update.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect((await store.getDocument({ collection: 'progress', documentId: 'guide' }))?.chunkCount).toBe(done.chunks);
    await new Promise((resolve) => setTimeout(resolve, 200)); // deletion runs on the completed event
    expect(await exists(job.filePath as string)).toBe(false);
  });

  it('fails a PDF without text at once with NO_EXTRACTABLE_TEXT, keeps the upload for a retry, and lists the job as failed', async () => {
    const { queue } = await setup(run, { attempts: 5 });
    const job = await upload('scanned-no-text.pdf', 'scans', 'scan', 'application/pdf');
    const [ref] = await queue.enqueue({ jobs: [job] });
    const failed = await finish(queue, ref!.jobId);
    expect(failed.state).toBe('failed');
    expect(failed.attempts).toBe(1);
    expect(failed.error?.code).toBe('NO_EXTRACTABLE_TEXT');
    expect(failed.error?.message).toMatch(/no extractable text/i);
    expect(await exists(job.filePath as string)).toBe(true);
    expect((await queue.listJobs({ state: 'failed' })).map((status) => status.jobId)).toContain(ref!.jobId);
    expect(await store.getDocument({ collection: 'scans', documentId: 'scan' })).toBeNull();
  });

  it('fails at once with UPLOAD_MISSING when the worker cannot read the upload (UPLOAD_DIR not shared)', async () => {
    const { queue } = await setup(run, { attempts: 5 });
    const job = await upload('oncall-runbook.txt', 'missing', 'runbook', 'text/plain');
    await rm(job.filePath as string);
    const [ref] = await queue.enqueue({ jobs: [job] });
    const failed = await finish(queue, ref!.jobId);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'UPLOAD_MISSING' } });
    expect(failed.error?.message).toContain('UPLOAD_DIR');
  });

  it('retries a transient store failure with backoff and then stores exactly one copy of every chunk', async () => {
    let failures = 0;
    const flaky: VectorStore = {
      name: store.name,
      replaceDocument: async (params) => {
        if (failures++ < 2) throw new UpstreamError('VECTOR_STORE_UNAVAILABLE', 'LanceDB commit conflict (injected)');
        return store.replaceDocument(params);
      },
      deleteDocument: (params) => store.deleteDocument(params),
      getDocument: (params) => store.getDocument(params),
      search: (params) => store.search(params),
      health: () => store.health(),
      close: async () => undefined,
    };
    const { queue } = await setup(({ job, onProgress }) => pipelineWith(flaky).run({ job, onProgress }), { attempts: 4 });
    const [ref] = await queue.enqueue({ jobs: [await upload('oncall-runbook.txt', 'flaky', 'runbook', 'text/plain')] });
    const done = await finish(queue, ref!.jobId);
    expect(done).toMatchObject({ state: 'completed', attempts: 3, unchanged: false });
    expect((await store.getDocument({ collection: 'flaky', documentId: 'runbook' }))?.chunkCount).toBe(done.chunks);
  });

  it('treats an identical re-upload as a no-op, replaces changed content completely, and deletes everything', async () => {
    const { queue } = await setup(run);
    const collection = 'lifecycle';
    const v1 = 'Zanzibar ferries leave the harbour at dawn. '.repeat(120);
    const v2 = 'Quokka sightings are logged by the island ranger every evening. '.repeat(40);

    const [first] = await queue.enqueue({ jobs: [text(collection, 'notes', v1)] });
    const one = await finish(queue, first!.jobId);
    expect(one).toMatchObject({ state: 'completed', unchanged: false });
    expect(one.chunks).toBeGreaterThan(1);

    const [again] = await queue.enqueue({ jobs: [text(collection, 'notes', v1)] });
    expect(await finish(queue, again!.jobId)).toMatchObject({ state: 'completed', unchanged: true, chunks: one.chunks });

    // While v2 is being indexed, every search sees either only v1 or only v2.
    const [changed] = await queue.enqueue({ jobs: [text(collection, 'notes', v2)] });
    let mixed = 0;
    let polls = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        polls += 1;
        const hits = await store.search({ collection, mode: 'dense', vector: (await embedder.embed({ texts: ['island harbour'] }))[0]!, topK: 100 });
        const kinds = new Set(hits.map((hit) => (hit.text.includes('Zanzibar') ? 'v1' : 'v2')));
        if (kinds.size > 1) mixed += 1;
      }
    })();
    const two = await finish(queue, changed!.jobId);
    polling = false;
    await poll;
    expect(polls).toBeGreaterThan(0);
    expect(mixed).toBe(0);
    expect(two).toMatchObject({ state: 'completed', unchanged: false });
    expect(two.chunks).not.toBe(one.chunks);
    expect((await store.getDocument({ collection, documentId: 'notes' }))?.chunkCount).toBe(two.chunks);
    expect(await keywordHits(collection, 'Zanzibar')).toEqual([]);
    expect((await keywordHits(collection, 'Quokka')).length).toBe(two.chunks);

    expect(await store.deleteDocument({ collection, documentId: 'notes' })).toBe(two.chunks);
    expect(await store.getDocument({ collection, documentId: 'notes' })).toBeNull();
    expect(await keywordHits(collection, 'Quokka')).toEqual([]);

    // After a delete the same content is indexed again, not skipped.
    const [back] = await queue.enqueue({ jobs: [text(collection, 'notes', v2)] });
    expect(await finish(queue, back!.jobId)).toMatchObject({ state: 'completed', unchanged: false, chunks: two.chunks });
  });

  it('a DELETE while jobs of the document are running or queued leaves it deleted; a later upload indexes it again', async () => {
    const collection = 'deleted';
    const version = (word: string) => `${word} boiler manual: ${word} explains how the boiler is bled. `.repeat(40);
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // The bravo upload waits inside its embed stage until the DELETE has recorded its tombstone.
    const { queue, redis, name } = await setup(({ job, onProgress }) =>
      pipelineWith(store).run({
        job,
        onProgress: async (update) => {
          if (job.text?.startsWith('bravo') && update.stage === 'embed') {
            reached();
            await gate;
          }
          await onProgress(update);
        },
      }),
    );
    try {
      const [first] = await queue.enqueue({ jobs: [text(collection, 'boiler', version('alpha'))] });
      const indexed = await finish(queue, first!.jobId);
      expect(indexed).toMatchObject({ state: 'completed', unchanged: false });

      const [running] = await queue.enqueue({ jobs: [text(collection, 'boiler', version('bravo'))] });
      await atGate;
      const [queued] = await queue.enqueue({ jobs: [text(collection, 'boiler', version('charlie'))] });
      const deleting = queue.deleteDocument({ collection, documentId: 'boiler', deleteChunks: () => store.deleteDocument({ collection, documentId: 'boiler' }) });
      const tombstone = ingestKeys(DEFAULT_PREFIX, name).documentDeleted(collection, 'boiler');
      while ((await redis.get(tombstone)) === null) await new Promise((resolve) => setTimeout(resolve, 10));
      open();

      expect(await deleting).toEqual({ deletedChunks: indexed.chunks, cancelledJobs: 2 });
      for (const ref of [running, queued]) {
        expect(await finish(queue, ref!.jobId)).toMatchObject({ state: 'completed', chunks: 0, unchanged: false, skipped: { code: 'DOCUMENT_DELETED' } });
      }
      expect(await store.getDocument({ collection, documentId: 'boiler' })).toBeNull();
      for (const word of ['alpha', 'bravo', 'charlie']) expect(await keywordHits(collection, word)).toEqual([]);

      const [again] = await queue.enqueue({ jobs: [text(collection, 'boiler', version('delta'))] });
      const back = await finish(queue, again!.jobId);
      expect(back).toMatchObject({ state: 'completed', unchanged: false });
      expect(back.skipped).toBeUndefined();
      expect((await store.getDocument({ collection, documentId: 'boiler' }))?.chunkCount).toBe(back.chunks);
      expect((await keywordHits(collection, 'delta')).length).toBe(back.chunks);
    } finally {
      open();
    }
  });

  it('runs uploads of one document one at a time across two workers and leaves the newest content indexed', async () => {
    const active = new Map<string, number>();
    let maxSameDocument = 0;
    const guarded: JobProcessor = async ({ job, onProgress }) => {
      const now = (active.get(job.documentId) ?? 0) + 1;
      active.set(job.documentId, now);
      maxSameDocument = Math.max(maxSameDocument, now);
      try {
        return await pipelineWith(store).run({ job, onProgress });
      } finally {
        active.set(job.documentId, (active.get(job.documentId) ?? 1) - 1);
      }
    };
    const { queue } = await setup(guarded, { workers: 2 });
    const versions = ['alpha', 'bravo', 'charlie', 'delta'].map((word) => `${word} release notes: ${word} changes the scheduler. `.repeat(60));
    const refs = await queue.enqueue({ jobs: versions.map((body) => text('race', 'release', body)) });
    for (const ref of refs) expect((await finish(queue, ref.jobId)).state).toBe('completed');
    expect(maxSameDocument).toBe(1);
    const hits = await keywordHits('race', 'scheduler');
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((hit) => hit.text.includes('delta') && !/alpha|bravo|charlie/.test(hit.text))).toBe(true);
  });
});
