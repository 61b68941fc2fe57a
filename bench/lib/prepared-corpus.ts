import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { PIPELINE_VERSION } from '../../src/ingest/pipeline.js';
import { compactLanceDb, directoryBytes } from './compact-data-dir.js';
import { cacheKey, fileDigest, findCacheEntry, restoreCacheEntry, saveCacheEntry } from './data-cache.js';
import type { LoadOutcome } from './corpus-loader.js';
import { ServiceClient } from './http-client.js';
import { pythonDocsVersion } from './python-docs.js';
import { startService, type ProcessMemory } from './service-process.js';

/**
 * The service environment of bench runs and the cached, loaded data directories they search.
 */

/** The latency-only cross-encoder exported by scripts/export-model: for timing reranking, never for quality. */
export const LATENCY_ONLY_RERANK_MODEL = 'local/minilm-l6-cross-encoder-LATENCY-ONLY';

/** Settings that would make a service leave the embedded default (external store, Redis queue); dropped from bench runs. */
const NON_EMBEDDED_VARIABLES = ['REDIS_URL', 'QDRANT_URL', 'QDRANT_API_KEY', 'VECTOR_STORE', 'PORT', 'HOST', 'DATA_DIR', 'UPLOAD_DIR', 'API_KEYS'];

/**
 * Environment of a bench service: the caller's environment (MODELS_DIR, MODELS_OFFLINE, EMBED_* …) on the embedded
 * default, with the per-client rate limit off (one bench client sends far more than 1200 requests a minute) and
 * the latency-only reranker.
 */
export function benchServiceEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of NON_EMBEDDED_VARIABLES) delete env[name];
  return { ...env, RATE_LIMIT_PER_MINUTE: '0', RERANK_MODEL: LATENCY_ONLY_RERANK_MODEL, ...overrides };
}

/** Everything about ingestion that changes what lands in the data directory. */
export async function ingestionFingerprint(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const config = loadConfig({ ...env, DATA_DIR: '/tmp/unused' });
  const onnx = config.models.embedDtype === 'q8' ? 'model_quantized.onnx' : 'model.onnx';
  const candidates = [path.join(config.models.dir, config.models.embedModel, 'onnx', onnx), path.join(config.models.dir, '.hub-cache', config.models.embedModel, 'onnx', onnx)];
  const modelFile = candidates.find((file) => existsSync(file));
  return {
    pipelineVersion: PIPELINE_VERSION,
    embedModel: config.models.embedModel,
    embedDtype: config.models.embedDtype,
    embedModelSha256: modelFile ? await fileDigest(modelFile) : 'not-local',
    chunking: config.chunking,
    store: config.store.kind,
    lancedb: await packageVersion('@lancedb/lancedb'),
    transformers: await packageVersion('@huggingface/transformers'),
    pythonDocs: pythonDocsVersion(),
  };
}

function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

async function packageVersion(name: string): Promise<string> {
  try {
    return (JSON.parse(await readFile(path.join('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Time the ingesting service stays up after the last job, so the store's scheduled index refresh runs. */
const STORE_SETTLE_MS = 8_000;

/** What is recorded with a cached data directory. */
export interface CorpusManifest {
  key: string;
  parameters: Record<string, unknown>;
  fingerprint: Record<string, unknown>;
  collection: string;
  load: LoadOutcome;
  /** Service memory right after ingestion finished, in the run that built the entry. */
  memoryAfterIngest: ProcessMemory | null;
  /** Size of the data directory right after ingestion and once compacted (what is cached), in MiB. */
  disk?: { afterIngestMb: number; compactedMb: number };
  createdAt: string;
}

/** A data directory ready to be searched, and where it came from. */
export interface PreparedCorpus {
  dataDir: string;
  manifest: CorpusManifest;
  cache: { key: string; dir: string; used: boolean };
}

/** Options of `prepareCorpus`. */
export interface PrepareCorpusOptions {
  /** Short readable prefix of the cache key, e.g. `latency-10000`. */
  label: string;
  /** Corpus parameters (size, seed, page list …), part of the key. */
  parameters: Record<string, unknown>;
  collection: string;
  /** Environment of the service that ingests. */
  env: NodeJS.ProcessEnv;
  /** Fresh, empty directory that becomes the DATA_DIR. */
  dataDir: string;
  logFile: string;
  /** Ignore (and overwrite) a cached entry. */
  rebuild: boolean;
  load: (client: ServiceClient) => Promise<LoadOutcome>;
  log: (line: string) => void;
}

/** Restores the cached data directory for these parameters, or ingests through a service and caches the result. */
export async function prepareCorpus(options: PrepareCorpusOptions): Promise<PreparedCorpus> {
  const fingerprint = await ingestionFingerprint(options.env);
  const key = cacheKey(options.label, { parameters: options.parameters, fingerprint });
  await mkdir(options.dataDir, { recursive: true });
  const entry = options.rebuild ? null : await findCacheEntry<CorpusManifest>(key);
  if (entry) {
    options.log(`corpus ${options.label}: using cached data ${entry.dir}`);
    await restoreCacheEntry(entry, options.dataDir);
    return { dataDir: options.dataDir, manifest: entry.manifest, cache: { key, dir: entry.dir, used: true } };
  }
  options.log(`corpus ${options.label}: not cached (key ${key}); ingesting through the HTTP API`);
  const service = await startService({ env: { ...options.env, DATA_DIR: options.dataDir }, logFile: options.logFile });
  const client = new ServiceClient(service.baseUrl);
  let manifest: CorpusManifest;
  try {
    const load = await options.load(client);
    // The store folds new rows into its indexes in the background a moment after the last write; a stop
    // waits for a running refresh but drops a scheduled one, so give it time to start before stopping.
    options.log(`corpus ${options.label}: waiting ${STORE_SETTLE_MS / 1000} s for background index maintenance before saving`);
    await new Promise((resolve) => setTimeout(resolve, STORE_SETTLE_MS));
    manifest = {
      key,
      parameters: options.parameters,
      fingerprint,
      collection: options.collection,
      load,
      memoryAfterIngest: service.memory(),
      createdAt: new Date().toISOString(),
    };
  } finally {
    client.close();
    await service.stop();
  }
  const afterIngest = await directoryBytes(options.dataDir);
  const config = loadConfig({ ...options.env, DATA_DIR: options.dataDir });
  if (config.store.kind === 'lancedb') {
    options.log(`corpus ${options.label}: compacting the LanceDB tables (${mib(afterIngest)} MiB after ingestion)`);
    await compactLanceDb(config.store.dir);
  }
  manifest.disk = { afterIngestMb: mib(afterIngest), compactedMb: mib(await directoryBytes(options.dataDir)) };
  options.log(`corpus ${options.label}: data directory ${manifest.disk.afterIngestMb} MiB after ingestion, ${manifest.disk.compactedMb} MiB compacted`);
  const dir = await saveCacheEntry(key, options.dataDir, manifest);
  options.log(`corpus ${options.label}: ${manifest.load.chunks} chunks in ${manifest.load.seconds} s, cached in ${dir}`);
  return { dataDir: options.dataDir, manifest, cache: { key, dir, used: false } };
}
