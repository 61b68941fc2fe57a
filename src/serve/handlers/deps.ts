import type { Config } from '../../config.js';
import type { FeedbackStore } from '../../feedback/types.js';
import type { IngestQueue } from '../../ingest/types.js';
import type { Logger } from '../../logger.js';
import type { ServiceMetrics } from '../../metrics.js';
import type { Answerer } from '../../retrieve/answer/answerer.js';
import type { Retriever } from '../../retrieve/retriever.js';
import type { VectorStore } from '../../retrieve/types.js';

/** A named readiness probe: resolves when the dependency is usable, throws with the reason otherwise. */
export type ReadinessCheck = () => Promise<void>;

/** What HTTP handlers may use; built once in src/runtime.ts. */
export interface HandlerDeps {
  config: Readonly<Config>;
  queue: IngestQueue;
  store: VectorStore;
  retriever: Retriever;
  /** Retrieval → LLM (or extractive fallback) answers with citations. */
  answerer: Answerer;
  readiness: Record<string, ReadinessCheck>;
  /** Probes of optional features (the reranker): reported by /readyz but never make the service not ready. */
  optionalReadiness?: Record<string, ReadinessCheck> | undefined;
  logger: Logger;
  /** Prometheus metrics of this process. */
  metrics: ServiceMetrics;
  /** Durable feedback storage (JSONL, or a Redis stream with REDIS_URL). */
  feedback: FeedbackStore;
}
