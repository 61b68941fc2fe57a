import { LRUCache } from 'lru-cache';
import type { LimitFunction } from 'p-limit';
import { RateLimitedError, StageTimeoutError, UpstreamError, type AppError } from '../errors/index.js';
import type { Embedder, MetadataFilter, Reranker, ScoredChunk, SearchMode, VectorStore } from './types.js';

/** Per-stage wall-clock times of one retrieval, in milliseconds. */
export interface RetrievalTimings {
  embedMs: number;
  searchMs: number;
  rerankMs: number;
  totalMs: number;
}

/** One retrieval request as the orchestrator sees it (already validated). */
export interface RetrievalRequest {
  collection: string;
  query: string;
  topK: number;
  mode: SearchMode;
  filter?: MetadataFilter | undefined;
  /** Rerank the top `candidates` hits with the cross-encoder before cutting to topK. */
  rerank: boolean;
  /** Hits fetched for reranking; defaults to RERANK_CANDIDATES. */
  candidates?: number | undefined;
}

/**
 * What reranking did for a request that asked for it. When the cross-encoder cannot answer (model missing, stage
 * timeout, model queue full) the hits keep their fused order and `fallback` says why, instead of failing the request.
 */
export interface RerankOutcome {
  applied: boolean;
  /** Hits fetched and (when applied) scored by the cross-encoder. */
  candidates: number;
  fallback?: { code: string; message: string };
}

/** Hits in final order plus timings. */
export interface RetrievalResult {
  results: ScoredChunk[];
  timings: RetrievalTimings;
  /** True when the query embedding came from the cache. */
  embeddingCached: boolean;
  /** Present when the request asked for reranking. */
  rerank?: RerankOutcome;
}

/** Collaborators and limits of the retriever. */
export interface RetrieverDeps {
  embedder: Embedder;
  store: VectorStore;
  /** Absent when no reranker is configured; `rerank: true` then falls back to fused order (RERANKER_UNAVAILABLE). */
  reranker?: Reranker | undefined;
  /** Bounds concurrent model work (embedding, reranking) across the process. */
  modelLimit: LimitFunction;
  /** Calls allowed to wait for a model slot before new ones are refused with 503. */
  modelQueueLimit: number;
  embedCacheSize: number;
  rerankCandidates: number;
  timeouts: { embedMs: number; searchMs: number; rerankMs: number };
  /** Observes each stage's duration (metrics). */
  onStage?: (stage: 'embed' | 'search' | 'rerank', ms: number) => void;
}

/**
 * The query path: embed the query (LRU-cached) → search the store (dense, keyword or hybrid) →
 * optionally rerank with a cross-encoder. Every stage has its own timeout.
 */
export class Retriever {
  private readonly cache: LRUCache<string, Float32Array> | undefined;

  constructor(private readonly deps: RetrieverDeps) {
    this.cache = deps.embedCacheSize > 0 ? new LRUCache({ max: deps.embedCacheSize }) : undefined;
  }

  /** Runs the query path for one request. */
  async retrieve(request: RetrievalRequest): Promise<RetrievalResult> {
    const started = performance.now();
    const { store, timeouts } = this.deps;

    let vector: Float32Array | undefined;
    let embeddingCached = false;
    let embedMs = 0;
    if (request.mode !== 'keyword') {
      const t0 = performance.now();
      const cached = this.cache?.get(request.query);
      if (cached) {
        vector = cached;
        embeddingCached = true;
      } else {
        vector = await this.withModelSlot('embed', timeouts.embedMs, () => this.embedQuery(request.query));
        this.cache?.set(request.query, vector);
      }
      embedMs = performance.now() - t0;
      this.deps.onStage?.('embed', embedMs);
    }

    const wanted = request.rerank ? Math.max(request.topK, request.candidates ?? this.deps.rerankCandidates) : request.topK;
    const t1 = performance.now();
    let results = await withTimeout('search', timeouts.searchMs, () =>
      store.search({ collection: request.collection, mode: request.mode, vector, text: request.query, topK: wanted, filter: request.filter }),
    );
    const searchMs = performance.now() - t1;
    this.deps.onStage?.('search', searchMs);

    let rerankMs = 0;
    let rerank: RerankOutcome | undefined;
    if (request.rerank) {
      const t2 = performance.now();
      rerank = { applied: false, candidates: results.length };
      try {
        results = await this.rerank(request.query, results);
        rerank.applied = true;
      } catch (error) {
        if (!isRerankFallback(error)) throw error;
        rerank.fallback = { code: error.code, message: error.message };
      }
      rerankMs = performance.now() - t2;
      if (rerank.applied) this.deps.onStage?.('rerank', rerankMs);
    }

    return {
      results: results.slice(0, request.topK),
      timings: { embedMs: round(embedMs), searchMs: round(searchMs), rerankMs: round(rerankMs), totalMs: round(performance.now() - started) },
      embeddingCached,
      ...(rerank ? { rerank } : {}),
    };
  }

  /** Scores the hits with the cross-encoder and sorts them by its score. */
  private async rerank(query: string, hits: ScoredChunk[]): Promise<ScoredChunk[]> {
    const { reranker, timeouts } = this.deps;
    if (hits.length === 0) return hits;
    if (!reranker) throw new UpstreamError('RERANKER_UNAVAILABLE', 'Reranking is not configured on this deployment (set RERANK_MODEL)', { retryable: false });
    const passages = hits.map((hit) => hit.text);
    // A request may ask for more candidates (up to 200) than one score() call takes: the retriever batches, not the adapter.
    const scores = await this.withModelSlot('rerank', timeouts.rerankMs, async () => {
      const all: number[] = [];
      for (let start = 0; start < passages.length; start += reranker.maxBatchSize) {
        all.push(...(await reranker.score({ query, passages: passages.slice(start, start + reranker.maxBatchSize) })));
      }
      return all;
    });
    return hits.map((hit, index) => ({ ...hit, score: scores[index] ?? Number.NEGATIVE_INFINITY })).sort((a, b) => b.score - a.score);
  }

  private async embedQuery(query: string): Promise<Float32Array> {
    const [vector] = await this.deps.embedder.embed({ texts: [query] });
    return vector as Float32Array;
  }

  /** Runs model work under the process-wide concurrency bound; refuses when too many calls already wait. */
  private withModelSlot<T>(stage: 'embed' | 'rerank', timeoutMs: number, work: () => Promise<T>): Promise<T> {
    const { modelLimit, modelQueueLimit } = this.deps;
    if (modelLimit.pendingCount >= modelQueueLimit) {
      return Promise.reject(
        new RateLimitedError('OVERLOADED', `Too many requests are waiting for the ${stage} model (${modelLimit.pendingCount}); retry shortly`, 1),
      );
    }
    return withTimeout(stage, timeoutMs, () => modelLimit(work));
  }
}

/** Rejects with StageTimeoutError when `work` takes longer than `timeoutMs`. */
export async function withTimeout<T>(stage: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StageTimeoutError(stage, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Failures of the optional rerank stage that degrade to fused order rather than failing the request. */
function isRerankFallback(error: unknown): error is AppError {
  return error instanceof UpstreamError || error instanceof StageTimeoutError || (error instanceof RateLimitedError && error.code === 'OVERLOADED');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
