import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting of the service, parsed once from the environment at startup.
 * Each has a default that works for the embedded single-machine mode; the README lists them in one table.
 * Nothing else in the code base reads process.env.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const optionalUrl = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .pipe(z.url().optional())
  .optional();

const apiKeyScope = z.enum(['query', 'ingest', 'admin']);

/** One API key as configured: the secret (or its sha256 hex), its scopes and optional collection grants. */
const apiKeySchema = z.object({
  name: z.string().min(1).max(64),
  key: z.string().min(16).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  scopes: z.array(apiKeyScope).min(1),
  collections: z.array(z.string()).optional(),
  rateLimitPerMinute: z.number().int().positive().optional(),
}).refine((key) => key.key !== undefined || key.sha256 !== undefined, {
  message: 'each API key needs "key" or "sha256"',
});

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  DATA_DIR: z.string().default('./data'),
  UPLOAD_DIR: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  MAX_UPLOAD_BYTES: int(1, 2 ** 40).default(50 * 1024 * 1024),
  MAX_FILES_PER_REQUEST: int(1, 1000).default(20),
  MAX_JSON_BYTES: int(1024, 2 ** 30).default(10 * 1024 * 1024),
  MAX_QUERY_CHARS: int(1, 100_000).default(2000),
  MAX_METADATA_BYTES: int(2, 1024 * 1024).default(16 * 1024),
  REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(120_000),

  MODELS_DIR: z.string().default('./models'),
  MODELS_OFFLINE: bool.optional(),
  HF_HUB_OFFLINE: bool.optional(),
  EMBED_MODEL: z.string().default('Xenova/all-MiniLM-L6-v2'),
  EMBED_DTYPE: z.enum(['fp32', 'q8']).default('q8'),
  EMBED_BATCH_SIZE: int(1, 512).default(32),
  EMBED_CACHE_SIZE: int(0, 1_000_000).default(10_000),
  RERANK_MODEL: z.string().default('Xenova/ms-marco-MiniLM-L-6-v2'),
  RERANK_DTYPE: z.enum(['fp32', 'q8']).default('q8'),
  RERANK_CANDIDATES: int(1, 200).default(5),
  RERANK_MAX_TOKENS: int(16, 512).default(192),
  RERANK_THREADS: int(1, 64).default(1),
  RERANK_WORKERS: int(0, 64).default(2),
  MODEL_CONCURRENCY: int(1, 64).default(2),
  MODEL_QUEUE_LIMIT: int(0, 100_000).default(256),

  CHUNK_SIZE_TOKENS: int(16, 8192).default(200),
  CHUNK_OVERLAP_TOKENS: int(0, 4096).default(30),

  VECTOR_STORE: z.enum(['lancedb', 'qdrant']).optional(),
  QDRANT_URL: optionalUrl,
  QDRANT_API_KEY: z.string().optional(),
  QDRANT_COLLECTION_PREFIX: z.string().regex(/^[A-Za-z0-9_-]*$/).default('rag_'),

  REDIS_URL: optionalUrl,
  QUEUE_NAME: z.string().regex(/^[A-Za-z0-9_-]+$/).default('rag-ingest'),
  WORKER_CONCURRENCY: int(1, 64).default(2),
  JOB_ATTEMPTS: int(1, 100).default(5),
  JOB_BACKOFF_MS: int(0, 3_600_000).default(2000),
  MAX_QUEUE_DEPTH: int(1, 10_000_000).default(10_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),

  LLM_BASE_URL: optionalUrl,
  LLM_MODEL: z.string().default('gpt-4o-mini'),
  LLM_API_KEY: z.string().optional(),
  LLM_MAX_TOKENS: int(1, 100_000).default(512),
  LLM_TEMPERATURE: z.coerce.number().min(0).max(2).default(0),

  EMBED_TIMEOUT_MS: int(1, 600_000).default(5000),
  SEARCH_TIMEOUT_MS: int(1, 600_000).default(5000),
  RERANK_TIMEOUT_MS: int(1, 600_000).default(5000),
  LLM_TIMEOUT_MS: int(1, 600_000).default(30_000),

  API_KEYS: z.string().optional(),
  RATE_LIMIT_PER_MINUTE: int(0, 10_000_000).default(1200),
  ALLOW_OPEN_ACCESS: bool.default(false),
  FEEDBACK_STREAM: z.string().min(1).max(256).default('rag:feedback'),
  METRICS_ENABLED: bool.default(true),
});

/** Scopes an API key may hold. */
export type ApiKeyScope = z.infer<typeof apiKeyScope>;
/** One configured API key. */
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;

/** The parsed, frozen configuration handed to every component. */
export interface Config {
  env: string;
  server: {
    port: number;
    host: string;
    requestTimeoutMs: number;
    maxUploadBytes: number;
    maxFilesPerRequest: number;
    maxJsonBytes: number;
    maxQueryChars: number;
    maxMetadataBytes: number;
  };
  dataDir: string;
  uploadDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  models: {
    dir: string;
    offline: boolean;
    embedModel: string;
    embedDtype: 'fp32' | 'q8';
    embedBatchSize: number;
    embedCacheSize: number;
    rerankModel: string;
    rerankDtype: 'fp32' | 'q8';
    rerankCandidates: number;
    /** Tokens per (query, passage) pair the cross-encoder reads; longer passages are cut (RERANK_MAX_TOKENS). */
    rerankMaxTokens: number;
    /** ONNX intra-op threads of each cross-encoder session (RERANK_THREADS). */
    rerankThreads: number;
    /** Worker processes scoring a request's candidates in parallel, one session each; 0: one session in the API process (RERANK_WORKERS). */
    rerankWorkers: number;
    /** Environment of the reranker's worker processes: this one less the service's secrets (see withoutServiceSecrets). */
    rerankWorkerEnv: Readonly<NodeJS.ProcessEnv>;
    concurrency: number;
    queueLimit: number;
  };
  chunking: { sizeTokens: number; overlapTokens: number };
  store:
    | { kind: 'lancedb'; dir: string }
    | { kind: 'qdrant'; url: string; apiKey: string | undefined; collectionPrefix: string };
  queue: {
    redisUrl: string | undefined;
    name: string;
    workerConcurrency: number;
    attempts: number;
    backoffMs: number;
    maxDepth: number;
    shutdownTimeoutMs: number;
  };
  llm: { baseUrl: string | undefined; model: string; apiKey: string | undefined; maxTokens: number; temperature: number };
  timeouts: { embedMs: number; searchMs: number; rerankMs: number; llmMs: number };
  auth: {
    keys: ApiKeyConfig[];
    rateLimitPerMinute: number;
    /** Serve without API keys on a non-loopback HOST (ALLOW_OPEN_ACCESS=true). */
    allowOpenAccess: boolean;
  };
  /** Redis stream for feedback when REDIS_URL is set (otherwise DATA_DIR/feedback/feedback.jsonl). */
  feedback: { redisStream: string };
  metricsEnabled: boolean;
}

/** Raised when the environment cannot be parsed; the message names each offending variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function parseApiKeys(raw: string | undefined): ApiKeyConfig[] {
  if (raw === undefined || raw.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('API_KEYS must be a JSON array like [{"name":"app","key":"<secret>","scopes":["query"]}]');
  }
  const parsed = z.array(apiKeySchema).safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `API_KEYS[${issue.path.join('.')}]: ${issue.message}`);
    throw new ConfigError(issues.join('; '));
  }
  return parsed.data;
}

/**
 * Variables holding the service's own secrets or where they live. Child processes that only read model files (the
 * reranker's workers) never get them; Hub variables such as HF_TOKEN stay, since a worker may download its model.
 */
const SERVICE_SECRETS = ['API_KEYS', 'LLM_API_KEY', 'QDRANT_API_KEY', 'QDRANT_URL', 'REDIS_URL', 'RAG_API_KEY'];

/** `env` without SERVICE_SECRETS. */
export function withoutServiceSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SERVICE_SECRETS) delete copy[name];
  return copy;
}

/** Parses the environment into a frozen Config, failing fast with messages that name each variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${issues.join('; ')}`);
  }
  const e = parsed.data;
  if (e.CHUNK_OVERLAP_TOKENS >= e.CHUNK_SIZE_TOKENS) {
    throw new ConfigError('CHUNK_OVERLAP_TOKENS must be smaller than CHUNK_SIZE_TOKENS');
  }
  const storeKind = e.VECTOR_STORE ?? (e.QDRANT_URL ? 'qdrant' : 'lancedb');
  if (storeKind === 'qdrant' && !e.QDRANT_URL) {
    throw new ConfigError('VECTOR_STORE=qdrant needs QDRANT_URL (e.g. http://localhost:6333)');
  }
  const dataDir = path.resolve(e.DATA_DIR);
  const config: Config = {
    env: e.NODE_ENV,
    server: {
      port: e.PORT,
      host: e.HOST,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      maxUploadBytes: e.MAX_UPLOAD_BYTES,
      maxFilesPerRequest: e.MAX_FILES_PER_REQUEST,
      maxJsonBytes: e.MAX_JSON_BYTES,
      maxQueryChars: e.MAX_QUERY_CHARS,
      maxMetadataBytes: e.MAX_METADATA_BYTES,
    },
    dataDir,
    uploadDir: path.resolve(e.UPLOAD_DIR ?? path.join(dataDir, 'uploads')),
    logLevel: e.LOG_LEVEL,
    models: {
      dir: path.resolve(e.MODELS_DIR),
      offline: e.MODELS_OFFLINE ?? e.HF_HUB_OFFLINE ?? false,
      embedModel: e.EMBED_MODEL,
      embedDtype: e.EMBED_DTYPE,
      embedBatchSize: e.EMBED_BATCH_SIZE,
      embedCacheSize: e.EMBED_CACHE_SIZE,
      rerankModel: e.RERANK_MODEL,
      rerankDtype: e.RERANK_DTYPE,
      rerankCandidates: e.RERANK_CANDIDATES,
      rerankMaxTokens: e.RERANK_MAX_TOKENS,
      rerankThreads: e.RERANK_THREADS,
      rerankWorkers: e.RERANK_WORKERS,
      rerankWorkerEnv: Object.freeze(withoutServiceSecrets(env)),
      concurrency: e.MODEL_CONCURRENCY,
      queueLimit: e.MODEL_QUEUE_LIMIT,
    },
    chunking: { sizeTokens: e.CHUNK_SIZE_TOKENS, overlapTokens: e.CHUNK_OVERLAP_TOKENS },
    store:
      storeKind === 'qdrant'
        ? { kind: 'qdrant', url: e.QDRANT_URL as string, apiKey: e.QDRANT_API_KEY, collectionPrefix: e.QDRANT_COLLECTION_PREFIX }
        : { kind: 'lancedb', dir: path.join(dataDir, 'lancedb') },
    queue: {
      redisUrl: e.REDIS_URL,
      name: e.QUEUE_NAME,
      workerConcurrency: e.WORKER_CONCURRENCY,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      maxDepth: e.MAX_QUEUE_DEPTH,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    llm: {
      baseUrl: e.LLM_BASE_URL,
      model: e.LLM_MODEL,
      apiKey: e.LLM_API_KEY,
      maxTokens: e.LLM_MAX_TOKENS,
      temperature: e.LLM_TEMPERATURE,
    },
    timeouts: { embedMs: e.EMBED_TIMEOUT_MS, searchMs: e.SEARCH_TIMEOUT_MS, rerankMs: e.RERANK_TIMEOUT_MS, llmMs: e.LLM_TIMEOUT_MS },
    auth: { keys: parseApiKeys(e.API_KEYS), rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE, allowOpenAccess: e.ALLOW_OPEN_ACCESS },
    feedback: { redisStream: e.FEEDBACK_STREAM },
    metricsEnabled: e.METRICS_ENABLED,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
