import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import type { Config } from './config.js';
import { JsonlFeedbackStore } from './feedback/jsonl-feedback-store.js';
import { RedisFeedbackStore } from './feedback/redis-feedback-store.js';
import type { FeedbackStore } from './feedback/types.js';
import { TokenChunker } from './ingest/chunkers/token-chunker.js';
import { parserFor } from './ingest/parsers/index.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { BullMqQueue } from './ingest/queues/bullmq-queue.js';
import { InProcessQueue } from './ingest/queues/in-process-queue.js';
import type { IngestQueue, UploadReferences } from './ingest/types.js';
import { startUploadSweeper } from './ingest/upload-sweeper.js';
import type { Logger } from './logger.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { TransformersEmbedder } from './retrieve/embedders/transformers-embedder.js';
import { CrossEncoderReranker } from './retrieve/rerankers/cross-encoder-reranker.js';
import { CrossEncoderWorkerPool } from './retrieve/rerankers/cross-encoder-worker-pool.js';
import { Answerer } from './retrieve/answer/answerer.js';
import { OpenAIChatGenerator } from './retrieve/answer/openai-chat-generator.js';
import { ANSWER_PROMPT, PromptLibrary } from './retrieve/answer/prompts.js';
import { Retriever } from './retrieve/retriever.js';
import { LanceDbVectorStore } from './retrieve/stores/lancedb-store.js';
import { QdrantVectorStore } from './retrieve/stores/qdrant-store.js';
import type { Embedder, Reranker, VectorStore } from './retrieve/types.js';
import type { HandlerDeps } from './serve/handlers/deps.js';

/** Everything a process of the service needs, built once from the config. */
export interface Runtime {
  deps: HandlerDeps;
  embedder: Embedder;
  reranker: Reranker;
  store: VectorStore;
  pipeline: IngestPipeline;
  queue: IngestQueue;
  /** Stops the queue (bounded wait for running jobs) and closes the store. */
  close(): Promise<void>;
}

/** What ingestion needs (the API process and `npm run worker` alike). */
export interface IngestComponents {
  embedder: Embedder;
  store: VectorStore;
  pipeline: IngestPipeline;
}

/** Builds the embedder (loaded and warmed), the store and the ingestion pipeline; no queue, no HTTP. */
export async function createIngestComponents(config: Readonly<Config>, logger: Logger): Promise<IngestComponents> {
  const embedder = new TransformersEmbedder({
    modelsDir: config.models.dir,
    offline: config.models.offline,
    modelId: config.models.embedModel,
    dtype: config.models.embedDtype,
    maxBatchSize: config.models.embedBatchSize,
  });
  const t0 = performance.now();
  await embedder.warmup();
  logger.info({ model: embedder.modelId, dimensions: embedder.dimensions, ms: Math.round(performance.now() - t0) }, 'embedding model loaded');

  const store = createStore(config, embedder.dimensions);
  const pipeline = new IngestPipeline({
    parserFor,
    chunker: new TokenChunker({ tokenCounter: embedder, chunkSizeTokens: config.chunking.sizeTokens, overlapTokens: config.chunking.overlapTokens }),
    embedder,
    store,
    embedBatchSize: config.models.embedBatchSize,
    fingerprint: { embedModel: embedder.modelId, embedDtype: config.models.embedDtype, chunking: config.chunking },
    logger: logger.child({ component: 'ingest' }),
  });
  return { embedder, store, pipeline };
}

/** Builds the embedder, store, pipeline, queue and retriever; loads and warms the embedding model. */
export async function createRuntime(config: Readonly<Config>, logger: Logger): Promise<Runtime> {
  const metrics = createMetrics();
  const loadStarted = performance.now();
  const { embedder, store, pipeline } = await createIngestComponents(config, logger);
  metrics.modelLoadSeconds.set({ role: 'embed', model: embedder.modelId }, (performance.now() - loadStarted) / 1000);
  const reranker = createReranker(config);
  await warmReranker(reranker, logger, metrics);

  const queue = await createQueue(config, pipeline, logger, metrics);
  // Uploads of failed jobs stay for a retry until the queue drops the job; this removes them afterwards. Only the API
  // sweeps (it writes the uploads), and only files older than twice the request timeout and at least an hour.
  const sweeper = startUploadSweeper({
    uploadDir: config.uploadDir,
    references: queue,
    minAgeMs: Math.max(60 * 60_000, 2 * config.server.requestTimeoutMs),
    logger: logger.child({ component: 'uploads' }),
  });
  metrics.setQueueSource({
    depth: () => queue.depth(),
    countsByState: queue instanceof BullMqQueue ? () => bullMqCounts(queue) : async () => countByState(await queue.listJobs({ limit: 1_000_000 })),
  });
  const feedback = createFeedbackStore(config, logger);

  const retriever = new Retriever({
    embedder,
    store,
    reranker,
    modelLimit: pLimit(config.models.concurrency),
    modelQueueLimit: config.models.queueLimit,
    embedCacheSize: config.models.embedCacheSize,
    rerankCandidates: config.models.rerankCandidates,
    timeouts: config.timeouts,
    onStage: (stage, ms) => metrics.retrievalStageDuration.observe({ stage }, ms / 1000),
  });
  const answerer = createAnswerer(config, retriever, logger);

  const deps: HandlerDeps = {
    config,
    queue,
    store,
    retriever,
    answerer,
    logger,
    metrics,
    feedback: feedback.store,
    readiness: {
      embedder: async () => {
        await embedder.embed({ texts: ['ready'] });
      },
      store: () => store.health(),
      ...(queue instanceof BullMqQueue ? { redis: () => queue.health() } : {}),
    },
    optionalReadiness: { reranker: () => reranker.load() },
  };

  return {
    deps,
    embedder,
    reranker,
    store,
    pipeline,
    queue,
    close: async () => {
      await sweeper.stop();
      await queue.close();
      await store.close();
      await feedback.close();
      await reranker.dispose();
    },
  };
}

/** A reranker this process runs itself (loaded, warmed and stopped with the runtime). */
export type LocalReranker = CrossEncoderReranker | CrossEncoderWorkerPool;

/**
 * The cross-encoder as configured: RERANK_WORKERS processes scoring each request's candidates in parallel (the
 * default; see CrossEncoderWorkerPool for the measurements), or with RERANK_WORKERS=0 one session in this process.
 * bench/lib/raw-model.ts builds its raw reranker here too, so the two cannot drift apart.
 */
export function createReranker(config: Readonly<Config>): LocalReranker {
  const options = {
    modelsDir: config.models.dir,
    offline: config.models.offline,
    modelId: config.models.rerankModel,
    dtype: config.models.rerankDtype,
    maxBatchSize: Math.max(config.models.rerankCandidates, 32),
    maxTokens: config.models.rerankMaxTokens,
    intraOpThreads: config.models.rerankThreads,
  };
  return config.models.rerankWorkers > 0
    ? new CrossEncoderWorkerPool({ ...options, workers: config.models.rerankWorkers, env: { ...config.models.rerankWorkerEnv } })
    : new CrossEncoderReranker(options);
}

/**
 * Loads the cross-encoder and scores one pair so the first `rerank: true` request does not pay for it. A missing
 * model does not stop the service: search works without it, reranked requests fall back to fused order (and say so),
 * and /readyz reports the reranker as an optional check until a later load succeeds.
 */
async function warmReranker(reranker: LocalReranker, logger: Logger, metrics: ServiceMetrics): Promise<void> {
  const started = performance.now();
  try {
    await reranker.warmup();
    const seconds = (performance.now() - started) / 1000;
    metrics.modelLoadSeconds.set({ role: 'rerank', model: reranker.modelId }, seconds);
    logger.info({ model: reranker.modelId, ms: Math.round(seconds * 1000) }, 'reranking model loaded');
  } catch (error) {
    logger.warn({ model: reranker.modelId, err: error }, 'reranking model unavailable: rerank requests keep the fused order until it loads');
  }
}

/**
 * BullMQ on Redis when REDIS_URL is set (this process only enqueues; `npm run worker` processes),
 * otherwise the embedded runner.
 */
async function createQueue(config: Readonly<Config>, pipeline: IngestPipeline, logger: Logger, metrics: ServiceMetrics): Promise<IngestQueue & UploadReferences> {
  if (config.queue.redisUrl) {
    return new BullMqQueue(
      {
        name: config.queue.name,
        connection: config.queue.redisUrl,
        attempts: config.queue.attempts,
        backoffMs: config.queue.backoffMs,
        maxDepth: config.queue.maxDepth,
      },
      logger.child({ component: 'queue' }),
    );
  }
  const queue = new InProcessQueue(
    ({ job, onProgress }) => pipeline.run({ job, onProgress }),
    {
      journalDir: path.join(config.dataDir, 'jobs'),
      concurrency: config.queue.workerConcurrency,
      attempts: config.queue.attempts,
      backoffMs: config.queue.backoffMs,
      maxDepth: config.queue.maxDepth,
      onStateChange: (state) => metrics.ingestJobs.inc({ state }),
      onCompleted: async (job) => {
        if (job.filePath) await rm(job.filePath, { force: true });
      },
    },
    logger.child({ component: 'queue' }),
  );
  await queue.start();
  return queue;
}

/** Feedback goes to a Redis stream when REDIS_URL is set (every replica appends to one place), else to JSONL under DATA_DIR. */
function createFeedbackStore(config: Readonly<Config>, logger: Logger): { store: FeedbackStore; close(): Promise<void> } {
  if (config.queue.redisUrl) {
    const client = new Redis(config.queue.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5000, lazyConnect: true });
    client.on('error', (error: Error) => logger.warn({ err: error, component: 'feedback' }, 'redis connection error'));
    const store = new RedisFeedbackStore({ client, stream: config.feedback.redisStream });
    return {
      store,
      close: async () => {
        await client.quit().catch(() => client.disconnect());
      },
    };
  }
  const store = new JsonlFeedbackStore({ dir: path.join(config.dataDir, 'feedback') });
  return { store, close: () => store.close() };
}

async function bullMqCounts(queue: BullMqQueue): Promise<Record<string, number>> {
  const counts = await queue.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed');
  return {
    queued: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts['waiting-children'] ?? 0),
    active: counts.active ?? 0,
    completed: counts.completed ?? 0,
    failed: counts.failed ?? 0,
  };
}

function countByState(jobs: { state: string }[]): Record<string, number> {
  const counts: Record<string, number> = { queued: 0, active: 0, completed: 0, failed: 0 };
  for (const job of jobs) counts[job.state] = (counts[job.state] ?? 0) + 1;
  return counts;
}

function createStore(config: Readonly<Config>, dimensions: number): VectorStore {
  if (config.store.kind === 'qdrant') {
    return new QdrantVectorStore({ url: config.store.url, apiKey: config.store.apiKey, collectionPrefix: config.store.collectionPrefix, dimensions });
  }
  return new LanceDbVectorStore({ dir: config.store.dir, dimensions });
}

/**
 * The answer path. An LLM is configured by LLM_BASE_URL (any OpenAI-compatible server) or LLM_API_KEY alone (OpenAI);
 * without either, every answer is extractive. The prompt templates are read once, here, so a broken template fails startup.
 */
function createAnswerer(config: Readonly<Config>, retriever: Retriever, logger: Logger): Answerer {
  const { llm } = config;
  const configured = llm.baseUrl !== undefined || llm.apiKey !== undefined;
  const generator = configured
    ? new OpenAIChatGenerator({ baseUrl: llm.baseUrl, apiKey: llm.apiKey, model: llm.model, maxTokens: llm.maxTokens, temperature: llm.temperature, timeoutMs: config.timeouts.llmMs })
    : undefined;
  logger.info({ llm: configured ? { model: llm.model, baseUrl: llm.baseUrl ? new URL(llm.baseUrl).origin : 'openai' } : 'none (extractive answers)', prompt: ANSWER_PROMPT }, 'answer path configured');
  return new Answerer({
    retriever,
    generator,
    prompt: PromptLibrary.load().get(ANSWER_PROMPT),
    llmTimeoutMs: config.timeouts.llmMs,
    logger: logger.child({ component: 'answer' }),
  });
}
