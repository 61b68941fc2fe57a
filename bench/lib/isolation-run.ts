import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { budgetsPassed, checkLatency, formatCheckLines, loadBudgetFile } from './budgets.js';
import type { IsolationOptions } from './isolation-options.js';
import { ISOLATION_SCHEMA_VERSION, isolationMeasurements, renderIsolationMarkdown, type IsolationReport } from './isolation-report.js';
import { LATENCY_COLLECTION, prepareLatencyCorpus } from './latency-corpus.js';
import { benchServiceEnv } from './prepared-corpus.js';
import { allPages, readPages, requirePythonDocs, subsetPages } from './python-docs.js';
import { buildQueryPool, loadEvalQuestions, QuerySlicer } from './queries.js';
import { writeReportFiles } from './report-files.js';
import { measureSearchDuringIngest, type SearchDuringIngestResult } from './search-during-ingest.js';
import { startService } from './service-process.js';

/**
 * The isolation bench: a service on the embedded default with the 1k-chunk latency corpus (the same cache entry as
 * `npm run bench -- --short`), searched idle and then while Python doc pages are uploaded into another collection.
 * Writes bench/results/isolation[-short].{json,md}; returns the exit code (1: a budget failed).
 */

/** Chunks of the searched corpus: small, so search itself is cheap and what changes is the load around it. */
const SEARCHED_CHUNKS = 1000;
const UPLOAD_COLLECTION = 'bench-uploads';
const WARMUP_SEARCHES = 10;
/** Queries of the busy phase: it runs until ingestion ends, reusing them if it lasts longer (no cache: they cost the same). */
const BUSY_QUERIES = 2000;

function log(line: string): void {
  console.log(`[bench:isolation ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

const loadAverage = () => os.loadavg().map((value) => Math.round(value * 100) / 100);

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Runs the bench with parsed options; `command` is recorded in the report. */
export async function runIsolationBench(options: IsolationOptions, command: string[]): Promise<number> {
  const started = Date.now();
  const createdAt = new Date().toISOString();
  const loadAverageAtStart = loadAverage();
  log(`load average (1/5/15 min) at start: ${loadAverageAtStart.join(' ')} on ${os.availableParallelism()} cores`);
  requirePythonDocs();
  const budgetFile = options.budgets ? await loadBudgetFile(options.budgets) : undefined;
  const subset = await subsetPages();
  const searchedPages = await readPages(subset);
  const uploadList = [...subset, ...(await allPages()).filter((page) => !subset.includes(page))].slice(0, options.pages);
  const uploadPages = await readPages(uploadList);

  const logs = path.join(options.out, 'logs');
  await mkdir(logs, { recursive: true });
  const dataRoot = await mkdtemp(path.join(os.tmpdir(), 'rag-bench-isolation-'));
  const env = benchServiceEnv({ EMBED_CACHE_SIZE: '0', LOG_LEVEL: 'warn' });
  const config = loadConfig({ ...env, DATA_DIR: '/tmp/unused' });
  const slicer = new QuerySlicer(buildQueryPool({ questions: await loadEvalQuestions(), pages: searchedPages, seed: options.seed, maxChars: config.server.maxQueryChars }));
  const queries = { warmup: slicer.take(WARMUP_SEARCHES), idle: slicer.take(options.idleRequests), ingest: slicer.take(BUSY_QUERIES) };
  let report: IsolationReport;
  try {
    const prepared = await prepareLatencyCorpus({ targetChunks: SEARCHED_CHUNKS, seed: options.seed, pages: searchedPages, rebuild: options.rebuildCache, dataDir: path.join(dataRoot, 'data'), logFile: path.join(logs, 'isolation-ingest.log'), log });
    const service = await startService({ env: { ...env, DATA_DIR: prepared.dataDir }, logFile: path.join(logs, 'isolation-service.log') });
    let result: SearchDuringIngestResult;
    try {
      log(`service up on ${prepared.manifest.load.chunks} chunks; idle phase (load ${loadAverage().join(' ')})`);
      result = await measureSearchDuringIngest({
        baseUrl: service.baseUrl,
        searchCollection: LATENCY_COLLECTION,
        uploadCollection: UPLOAD_COLLECTION,
        queries,
        pages: uploadPages,
        uploadsInFlight: options.uploadsInFlight,
        topK: options.topK,
        maxIngestSeconds: options.maxIngestSeconds,
        log,
      });
      service.assertRunning();
    } finally {
      // Pages abandoned at the time cap would hold a graceful shutdown; their data is thrown away anyway.
      await service.stop(5_000);
    }
    report = {
      schemaVersion: ISOLATION_SCHEMA_VERSION,
      kind: 'isolation',
      short: options.short,
      createdAt,
      durationSeconds: Math.round((Date.now() - started) / 1000),
      command,
      environment: { node: process.version, cores: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', loadAverageAtStart, loadAverageAtEnd: loadAverage(), gitCommit: gitCommit() },
      service: {
        startedAs: 'node --import tsx src/serve/main.ts',
        settings: { EMBED_MODEL: config.models.embedModel, EMBED_DTYPE: config.models.embedDtype, MODEL_CONCURRENCY: config.models.concurrency, WORKER_CONCURRENCY: config.queue.workerConcurrency, EMBED_CACHE_SIZE: 0, VECTOR_STORE: config.store.kind },
      },
      corpus: { chunks: prepared.manifest.load.chunks, cacheKey: prepared.cache.key, cacheUsed: prepared.cache.used },
      options: { pages: uploadList.length, uploadsInFlight: options.uploadsInFlight, idleRequests: options.idleRequests, maxIngestSeconds: options.maxIngestSeconds, topK: options.topK, seed: options.seed },
      searchDuringIngest: result,
      budgets: null,
    };
  } finally {
    await rm(dataRoot, { recursive: true, force: true });
  }

  let passed = true;
  if (budgetFile?.isolation && options.budgets) {
    const measured = [isolationMeasurements(report)];
    const results = [...checkLatency(budgetFile.isolation.checks, 'check', measured), ...checkLatency(budgetFile.isolation.targets, 'target', measured)];
    passed = budgetsPassed(results, { enforceTargets: options.enforceTargets });
    report.budgets = { file: options.budgets, enforceTargets: options.enforceTargets, passed, results };
  }
  const markdown = renderIsolationMarkdown(report);
  const files = await writeReportFiles({ dir: options.out, base: options.short ? 'isolation-short' : 'isolation', json: report, markdown });
  console.log(`\n${markdown}`);
  log(`reports: ${files.join(', ')}`);
  log(`load average (1/5/15 min): ${report.environment.loadAverageAtStart.join(' ')} at start, ${report.environment.loadAverageAtEnd.join(' ')} at end`);
  if (report.budgets) {
    console.log(`\nIsolation budgets (${options.budgets}):`);
    for (const line of formatCheckLines(report.budgets.results)) console.log(`  ${line}`);
    console.log(passed ? '\nbench:isolation: all budgets hold' : '\nbench:isolation: BUDGET EXCEEDED (see above)');
  }
  return passed ? 0 : 1;
}
