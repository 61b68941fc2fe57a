import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnprocessableDocumentError } from '../../errors/index.js';
import { createLogger } from '../../logger.js';
import { TransformersEmbedder } from '../../retrieve/embedders/transformers-embedder.js';
import { LanceDbVectorStore } from '../../retrieve/stores/lancedb-store.js';
import { TokenChunker } from '../chunkers/token-chunker.js';
import { parserFor } from '../parsers/index.js';
import { IngestPipeline } from '../pipeline.js';
import type { IngestJob, JobStatus } from '../types.js';
import { InProcessQueue, type JobProcessor } from './in-process-queue.js';

/**
 * The embedded runner with the real pipeline (exported MiniLM model, LanceDB): a DELETE against jobs of the same
 * document that are queued, running, failed, or enqueued while the DELETE waits. Jobs are held at a gate inside
 * their progress callback, so every interleaving below is exact, without timing assumptions.
 */

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let tmp: string;
let store: LanceDbVectorStore;
let pipeline: IngestPipeline;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rag-in-process-test-'));
  const embedder = new TransformersEmbedder({ modelsDir: path.resolve(process.env.MODELS_DIR ?? 'models'), offline: true, modelId: 'Xenova/all-MiniLM-L6-v2', dtype: 'q8', maxBatchSize: 32 });
  await embedder.warmup();
  store = new LanceDbVectorStore({ dir: path.join(tmp, 'lancedb'), dimensions: embedder.dimensions });
  const chunker = new TokenChunker({ tokenCounter: embedder, chunkSizeTokens: 200, overlapTokens: 30 });
  pipeline = new IngestPipeline({ parserFor, chunker, embedder, store, embedBatchSize: 32, fingerprint: { test: true }, logger });
});

afterAll(async () => {
  await store?.close();
  await rm(tmp, { recursive: true, force: true });
});

const COLLECTION = 'manuals';

function text(documentId: string, body: string): IngestJob {
  return { collection: COLLECTION, documentId, source: `${documentId}.txt`, contentType: 'text/plain', text: body, metadata: {}, enqueuedAt: new Date().toISOString() };
}

/** A body of distinctive words, so keyword search tells the versions apart. */
const version = (word: string) => `${word} maintenance manual: ${word} explains how the turbine is serviced. `.repeat(40);

/** A gate a job waits at, once, when it reports `stage` (before the runner sees that progress). */
function gate() {
  let reached!: () => void;
  let open!: () => void;
  return { reached: new Promise<void>((resolve) => (reached = resolve)), opened: new Promise<void>((resolve) => (open = resolve)), arrive: () => reached(), open: () => open() };
}

async function newQueue(processor: JobProcessor, journalDir = path.join(tmp, `jobs-${Math.random().toString(36).slice(2)}`)) {
  const queue = new InProcessQueue(processor, { journalDir, concurrency: 2, attempts: 2, backoffMs: 50, maxDepth: 100 }, logger);
  await queue.start();
  return queue;
}

async function finish(queue: InProcessQueue, jobId: string): Promise<JobStatus> {
  await queue.drain();
  return (await queue.getJob({ jobId })) as JobStatus;
}

async function keywordHits(query: string, documentId: string) {
  return (await store.search({ collection: COLLECTION, mode: 'keyword', text: query, topK: 50 })).filter((hit) => hit.documentId === documentId);
}

const deleteChunks = (documentId: string) => () => store.deleteDocument({ collection: COLLECTION, documentId });

describe('InProcessQueue.deleteDocument with the real pipeline and store', () => {
  it('stops a running job before it writes, skips a queued one, deletes the chunks, then runs a job enqueued during the DELETE', async () => {
    const held = gate();
    const queue = await newQueue(({ job, onProgress }) =>
      pipeline.run({
        job,
        onProgress: async (update) => {
          if (job.text?.startsWith('bravo') && update.stage === 'embed') {
            held.arrive();
            await held.opened;
          }
          await onProgress(update);
        },
      }),
    );
    try {
      const [first] = await queue.enqueue({ jobs: [text('turbine', version('alpha'))] });
      const indexed = await finish(queue, first!.jobId);
      expect(indexed).toMatchObject({ state: 'completed', unchanged: false });
      expect((await keywordHits('alpha', 'turbine')).length).toBe(indexed.chunks);

      const [running] = await queue.enqueue({ jobs: [text('turbine', version('bravo'))] });
      await held.reached;
      const [queued] = await queue.enqueue({ jobs: [text('turbine', version('charlie'))] });
      const deleting = queue.deleteDocument({ collection: COLLECTION, documentId: 'turbine', deleteChunks: deleteChunks('turbine') });
      // The queued job is settled at once; the running one is only flagged until it reaches a progress point.
      expect(await queue.getJob({ jobId: queued!.jobId })).toMatchObject({ state: 'completed', chunks: 0, skipped: { code: 'DOCUMENT_DELETED' } });
      const [during] = await queue.enqueue({ jobs: [text('turbine', version('delta'))] });
      expect((await queue.getJob({ jobId: during!.jobId }))?.state).toBe('queued');
      held.open();

      expect(await deleting).toEqual({ deletedChunks: indexed.chunks, cancelledJobs: 2 });
      expect(await finish(queue, running!.jobId)).toMatchObject({ state: 'completed', chunks: 0, unchanged: false, skipped: { code: 'DOCUMENT_DELETED' } });
      const after = await finish(queue, during!.jobId);
      expect(after).toMatchObject({ state: 'completed', unchanged: false });
      expect(after.skipped).toBeUndefined();
      for (const word of ['alpha', 'bravo', 'charlie']) expect(await keywordHits(word, 'turbine')).toEqual([]);
      expect((await keywordHits('delta', 'turbine')).length).toBe(after.chunks);

      // Deleted for good once nothing is pending; the next upload indexes it again.
      expect(await queue.deleteDocument({ collection: COLLECTION, documentId: 'turbine', deleteChunks: deleteChunks('turbine') })).toEqual({ deletedChunks: after.chunks, cancelledJobs: 0 });
      await queue.drain();
      expect(await store.getDocument({ collection: COLLECTION, documentId: 'turbine' })).toBeNull();
      const [again] = await queue.enqueue({ jobs: [text('turbine', version('delta'))] });
      expect(await finish(queue, again!.jobId)).toMatchObject({ state: 'completed', unchanged: false, chunks: after.chunks });
      expect((await store.getDocument({ collection: COLLECTION, documentId: 'turbine' }))?.chunkCount).toBe(after.chunks);
    } finally {
      held.open();
      await queue.close();
    }
  });

  it('a failed job of before the DELETE indexes nothing when retried, also after a restart', async () => {
    const journalDir = path.join(tmp, 'jobs-restart');
    let calls = 0;
    const failing: JobProcessor = async () => {
      calls += 1;
      throw new UnprocessableDocumentError('NO_EXTRACTABLE_TEXT', 'no text');
    };
    const queue = await newQueue(failing, journalDir);
    const [failed] = await queue.enqueue({ jobs: [text('scan', 'unreadable')] });
    expect(await finish(queue, failed!.jobId)).toMatchObject({ state: 'failed' });
    // Neither chunks nor pending jobs: the caller gets a 404 from the handler.
    expect(await queue.deleteDocument({ collection: COLLECTION, documentId: 'scan', deleteChunks: deleteChunks('scan') })).toEqual({ deletedChunks: 0, cancelledJobs: 0 });
    await queue.close();

    const restarted = await newQueue(failing, journalDir);
    try {
      await restarted.retryJob({ jobId: failed!.jobId });
      expect(await finish(restarted, failed!.jobId)).toMatchObject({ state: 'completed', chunks: 0, skipped: { code: 'DOCUMENT_DELETED' } });
      expect(calls).toBe(1);
    } finally {
      await restarted.close();
    }
  });
});
