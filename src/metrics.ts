import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Label values for one HTTP request: `route` is the Express route template, never the raw URL. */
export type HttpLabels = 'method' | 'route' | 'status';

/**
 * The service's Prometheus metrics, all on one registry created per process (or per test service),
 * so several services in one test process never share counters. Every metric name starts with `rag_`.
 */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Requests by method, route template and status code. */
  readonly httpRequests: Counter<HttpLabels>;
  /** Request latency in seconds by method, route template and status code. */
  readonly httpDuration: Histogram<HttpLabels>;
  /** Per-stage retrieval latency in seconds (`embed`, `search`, `rerank`). */
  readonly retrievalStageDuration: Histogram<'stage'>;
  /** Ingestion jobs entering each state (`queued`, `active`, `completed`, `failed`). */
  readonly ingestJobs: Counter<'state'>;
  /** Seconds a model took to load and warm up, by role (`embed`, `rerank`) and model id. */
  readonly modelLoadSeconds: Gauge<'role' | 'model'>;
  /** Feedback received, by rating. */
  readonly feedback: Counter<'rating'>;
  /** Requests refused by a limit, by reason (`rate_limit` per key, `overloaded` model or ingestion queue full). */
  readonly rejected: Counter<'reason'>;
  /** Where scrapes read the queue's depth (waiting + running jobs) and, optionally, its job counts by state. */
  setQueueSource(source: QueueStatsSource): void;
  /** The exposition text for GET /metrics. */
  render(): Promise<string>;
  /** The Content-Type of `render()`'s output. */
  readonly contentType: string;
}

/** Read at scrape time; a failing source leaves the previous values (the scrape itself never fails). */
export interface QueueStatsSource {
  depth: () => Promise<number>;
  countsByState?: () => Promise<Record<string, number>>;
}

/** Latency buckets from 5 ms to 60 s: covers a cached keyword search up to a slow LLM answer. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Creates a fresh registry with the service's metrics and (optionally) Node's default process metrics. */
export function createMetrics(params: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): ServiceMetrics {
  const registry = new Registry();
  if (params.labels) registry.setDefaultLabels(params.labels);
  if (params.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'rag_' });

  let queueSource: QueueStatsSource | undefined;
  new Gauge({
    name: 'rag_ingest_queue_depth',
    help: 'Ingestion jobs waiting or running, read at scrape time.',
    registers: [registry],
    async collect() {
      if (!queueSource) return;
      try {
        this.set(await queueSource.depth());
      } catch {
        // A scrape must not fail because the queue backend is briefly unreachable; /readyz reports that.
      }
    },
  });
  new Gauge({
    name: 'rag_ingest_jobs',
    help: 'Ingestion jobs currently known in each state (queued, active, completed, failed), read at scrape time.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      if (!queueSource?.countsByState) return;
      try {
        for (const [state, count] of Object.entries(await queueSource.countsByState())) this.set({ state }, count);
      } catch {
        // As above.
      }
    },
  });

  return {
    registry,
    httpRequests: new Counter({
      name: 'rag_http_requests_total',
      help: 'HTTP requests by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'rag_http_request_duration_seconds',
      help: 'HTTP request latency in seconds by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    retrievalStageDuration: new Histogram({
      name: 'rag_retrieval_stage_duration_seconds',
      help: 'Retrieval latency in seconds per stage (embed, search, rerank).',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    ingestJobs: new Counter({
      name: 'rag_ingest_jobs_total',
      help: 'Ingestion jobs entering each state (queued, active, completed, failed).',
      labelNames: ['state'],
      registers: [registry],
    }),
    modelLoadSeconds: new Gauge({
      name: 'rag_model_load_seconds',
      help: 'Seconds the model took to load and warm up.',
      labelNames: ['role', 'model'],
      registers: [registry],
    }),
    feedback: new Counter({
      name: 'rag_feedback_total',
      help: 'Feedback received, by rating.',
      labelNames: ['rating'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'rag_rejected_requests_total',
      help: 'Requests refused by a limit, by reason (rate_limit: per-key limit; overloaded: model or ingestion queue full).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    setQueueSource(source) {
      queueSource = source;
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
