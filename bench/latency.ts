/**
 * `npm run bench`: per-stage search latency and throughput of the service over HTTP, at several corpus sizes,
 * with a concurrency sweep, the raw model cost next to the service's embed stage, and the service's memory.
 * Writes bench/results/latency[-short].{json,md,svg}; with --budgets, exits 1 when a budget is exceeded.
 * See bench/README.md for the flags, the method and the report schema.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { budgetsPassed, checkLatency, formatCheckLines, loadBudgetFile } from './lib/budgets.js';
import { parseIsolationOptions } from './lib/isolation-options.js';
import { runIsolationBench } from './lib/isolation-run.js';
import { LATENCY_COLLECTION, prepareLatencyCorpus } from './lib/latency-corpus.js';
import { ServiceClient, type SearchRequest } from './lib/http-client.js';
import { measurementsOf, renderLatencyChart, renderLatencyMarkdown, LATENCY_SCHEMA_VERSION, type LatencyReport, type ScenarioId, type ScenarioResult, type SizeResult } from './lib/latency-report.js';
import { runLoad, summarizeLoad, type Sample } from './lib/load-loop.js';
import { benchServiceEnv, LATENCY_ONLY_RERANK_MODEL } from './lib/prepared-corpus.js';
import { allPages, readPages, requirePythonDocs, subsetPages, type PageText } from './lib/python-docs.js';
import { buildQueryPool, loadEvalQuestions, QuerySlicer } from './lib/queries.js';
import { RawModelTimer } from './lib/raw-model.js';
import { processTreeCpuSeconds } from './lib/process-cpu.js';
import { round, type Summary } from './lib/stats.js';
import { compareWithIdeal, type ThroughputResult } from './lib/throughput.js';
import { startService } from './lib/service-process.js';
import { writeReportFiles } from './lib/report-files.js';
import { integerListOption, integerOption } from './lib/cli-options.js';

const USAGE = `npm run bench -- [options]
  --short                 CI size: --sizes 1000 --queries 200 --max-seconds 30 --warmup 10
  --sizes 1000,10000,100000   corpus sizes in chunks (default: 1000,10000,100000)
  --queries 300           requests per scenario at most (default 300)
  --concurrency 1,4,16    clients for the hybrid sweep (default 1,4,16)
  --warmup 20             untimed requests before each scenario (default 20)
  --max-seconds 180       time cap per scenario (default 180)
  --top-k 10              topK of every search (default 10; reranked searches: at most the candidate count)
  --rerank-sweep 5,10,20  also time reranking at these candidate counts, one client (default: 5,10,20 without the
                          service's RERANK_CANDIDATES; none with --short); 0 turns it off
  --seed 42               seed of the corpus generator and the query pool
  --budgets FILE          check bench/budgets.json-style budgets; exit 1 when one fails
  --enforce-targets       also fail on the query-path targets (reported only by default)
  --rebuild-cache         re-ingest even when a cached data directory exists
  --prepare-only          build (or check) the cached corpus of every size, measure nothing, write no report
  --skip-isolation        do not run the isolation bench afterwards (search during bulk ingestion, npm run bench:isolation)
  --out DIR               report directory (default bench/results)`;

const COLLECTION = LATENCY_COLLECTION;

interface Options {
  short: boolean;
  sizes: number[];
  queries: number;
  concurrency: number[];
  warmup: number;
  maxSeconds: number;
  topK: number;
  rerankSweep: number[];
  seed: number;
  budgets: string | undefined;
  enforceTargets: boolean;
  rebuildCache: boolean;
  prepareOnly: boolean;
  skipIsolation: boolean;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      short: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      queries: { type: 'string' },
      concurrency: { type: 'string' },
      warmup: { type: 'string' },
      'max-seconds': { type: 'string' },
      'top-k': { type: 'string' },
      'rerank-sweep': { type: 'string' },
      seed: { type: 'string' },
      budgets: { type: 'string' },
      'enforce-targets': { type: 'boolean', default: false },
      'rebuild-cache': { type: 'boolean', default: false },
      'prepare-only': { type: 'boolean', default: false },
      'skip-isolation': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const short = values.short ?? false;
  const concurrency = integerListOption(values.concurrency, 'concurrency', [1, 4, 16]);
  return {
    short,
    sizes: integerListOption(values.sizes, 'sizes', short ? [1000] : [1000, 10_000, 100_000]),
    queries: integerOption(values.queries, 'queries', short ? 200 : 300),
    concurrency: concurrency.includes(1) ? concurrency : [1, ...concurrency],
    warmup: integerOption(values.warmup, 'warmup', short ? 10 : 20),
    maxSeconds: integerOption(values['max-seconds'], 'max-seconds', short ? 30 : 180),
    topK: integerOption(values['top-k'], 'top-k', 10, { max: 100 }),
    rerankSweep: values['rerank-sweep'] === '0' ? [] : integerListOption(values['rerank-sweep'], 'rerank-sweep', short ? [] : [5, 10, 20], { max: 200 }),
    seed: integerOption(values.seed, 'seed', 42),
    budgets: values.budgets,
    enforceTargets: values['enforce-targets'] ?? false,
    rebuildCache: values['rebuild-cache'] ?? false,
    prepareOnly: values['prepare-only'] ?? false,
    skipIsolation: values['skip-isolation'] ?? false,
    out: values.out ?? path.join('bench', 'results'),
  };
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** The query slices every size uses, so sizes are compared on the same queries. */
interface QueryPlan {
  warmup: string[];
  byScenario: Record<Exclude<ScenarioId, 'hybrid-cached' | 'hybrid-rerank-sweep'>, string[]>;
  sweep: Map<number, string[]>;
}

/** One scenario on a running service. */
async function measureScenario(params: {
  client: ServiceClient;
  scenario: ScenarioId;
  concurrency: number;
  queries: string[];
  warmup: string[];
  options: Options;
  /**
   * Hits reranked per request: the service's RERANK_CANDIDATES for `hybrid-rerank` (asked for implicitly, so the
   * default is what is timed), an explicit `candidates` for `hybrid-rerank-sweep`. topK is at most this.
   */
  rerankCandidates: number;
  /** CPU seconds of the service process tree so far; read around the timed requests (not the warm-up). */
  serviceCpu?: () => number | null;
}): Promise<ScenarioResult> {
  const { client, scenario, concurrency, options } = params;
  const mode = scenario === 'keyword' || scenario === 'dense' ? scenario : 'hybrid';
  const rerank = scenario === 'hybrid-rerank' || scenario === 'hybrid-rerank-sweep';
  const candidates = rerank ? params.rerankCandidates : undefined;
  const topK = candidates !== undefined ? Math.min(options.topK, candidates) : options.topK;
  const body = (query: string): SearchRequest => ({ query, topK, mode, rerank, ...(scenario === 'hybrid-rerank-sweep' ? { candidates } : {}) });
  const send = async (query: string): Promise<Sample> => {
    const { response, clientMs } = await client.search(COLLECTION, body(query));
    return { ok: true, clientMs, server: response.timings };
  };
  const maxDurationMs = options.maxSeconds * 1000;
  // Reranked searches are the slowest: a few warm-up requests are enough.
  const warmup = rerank ? params.warmup.slice(0, 3) : params.warmup;
  await runLoad({ queries: warmup, concurrency, maxRequests: warmup.length, maxDurationMs, send });
  const cpuBefore = params.serviceCpu?.() ?? null;
  const run = await runLoad({ queries: params.queries, concurrency, maxRequests: params.queries.length, maxDurationMs, send });
  const cpuAfter = params.serviceCpu?.() ?? null;
  const summary = summarizeLoad(run);
  const result: ScenarioResult = {
    scenario,
    mode,
    rerank,
    embedCache: scenario === 'hybrid-cached' ? 'hit' : 'disabled',
    concurrency,
    topK,
    ...(candidates !== undefined ? { candidates } : {}),
    ...summary,
    ...(cpuBefore !== null && cpuAfter !== null ? { serviceCpuSeconds: round(cpuAfter - cpuBefore, 3) } : {}),
  };
  const client95 = summary.client ? `${summary.client.p50.toFixed(1)}/${summary.client.p95.toFixed(1)}/${summary.client.p99.toFixed(1)}` : '–';
  const server95 = summary.server.totalMs ? `${summary.server.totalMs.p50.toFixed(1)}/${summary.server.totalMs.p95.toFixed(1)}` : '–';
  const label = scenario === 'hybrid-rerank-sweep' ? `rerank ×${candidates}` : scenario;
  log(`  ${label.padEnd(14)} c=${String(concurrency).padEnd(2)} ${summary.requests} req ${summary.throughputRps} req/s · client p50/p95/p99 ${client95} ms · server total p50/p95 ${server95} ms${summary.errors > 0 ? ` · ${summary.errors} ERRORS: ${summary.errorExamples[0]}` : ''}`);
  return result;
}

/** Service logs (kept, under the report directory) and temporary data directories (removed). */
interface RunDirs {
  logs: string;
  data: string;
}

/** Raw-vs-service ratio, rounded; null without both values. */
function ratioOf(service: number | undefined, raw: number | undefined): number | null {
  return service === undefined || raw === undefined || raw <= 0 ? null : Math.round((service / raw) * 100) / 100;
}

/** Restores or builds the corpus of one size; returns the prepared data directory. */
function prepareSizeCorpus(targetChunks: number, options: Options, pages: PageText[], dirs: RunDirs) {
  return prepareLatencyCorpus({
    targetChunks,
    seed: options.seed,
    pages,
    rebuild: options.rebuildCache,
    dataDir: path.join(dirs.data, `data-${targetChunks}`),
    logFile: path.join(dirs.logs, `service-ingest-${targetChunks}.log`),
    log,
  });
}

/**
 * The cold scenarios (EMBED_CACHE_SIZE=0) on one service, with the raw model timed right after the matching
 * scenario while the service idles, then the cache-hit path on a second service with the default cache.
 */
async function measureSize(params: { targetChunks: number; options: Options; pages: PageText[]; plan: QueryPlan; raw: RawModelTimer; dirs: RunDirs }): Promise<SizeResult> {
  const { targetChunks, options, plan, raw, dirs } = params;
  const prepared = await prepareSizeCorpus(targetChunks, options, params.pages, dirs);
  const load = prepared.manifest.load;
  log(`corpus ${targetChunks}: ${load.chunks} chunks (${load.documents.pages} pages, ${load.documents.synthetic} synthetic documents), cache ${prepared.cache.used ? 'used' : 'built'}`);

  const scenarios: ScenarioResult[] = [];
  let afterLoad: SizeResult['memory']['afterLoad'] = null;
  let afterRun: SizeResult['memory']['afterRun'] = null;
  let rawEmbed: Summary | null = null;
  let rawRerank: Summary | null = null;
  const cold = await startService({ env: benchServiceEnv({ DATA_DIR: prepared.dataDir, EMBED_CACHE_SIZE: '0' }), logFile: path.join(dirs.logs, `service-${targetChunks}.log`) });
  const client = new ServiceClient(cold.baseUrl);
  const measure = async (scenario: ScenarioId, concurrency: number, queries: string[], rerankCandidates = raw.settings.rerankCandidates) => {
    cold.assertRunning();
    const result = await measureScenario({ client, scenario, concurrency, queries, warmup: plan.warmup, options, rerankCandidates, serviceCpu: () => processTreeCpuSeconds(cold.pid) });
    // A service killed from outside (another job's clean-up) must fail the run, not produce a scenario of refused connections.
    cold.assertRunning();
    return result;
  };
  try {
    // Opens the tables and loads the reranker before anything is timed.
    for (const mode of ['keyword', 'dense', 'hybrid'] as const) {
      for (const query of plan.warmup.slice(0, 3)) await client.search(COLLECTION, { query, topK: options.topK, mode, rerank: mode === 'hybrid' });
    }
    // Background maintenance the first open may start (index refresh) runs now rather than during timing.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    afterLoad = cold.memory();
    log(`  service RSS after load + warm-up: ${afterLoad?.rssMb ?? '?'} MiB`);
    scenarios.push(await measure('keyword', 1, plan.byScenario.keyword));
    scenarios.push(await measure('dense', 1, plan.byScenario.dense));
    scenarios.push(await measure('hybrid', 1, plan.byScenario.hybrid));
    // ONNX Runtime's first runs after a load are slow (allocations per new shape): warm up with at least 20 calls.
    rawEmbed = await raw.embedding(plan.byScenario.hybrid, Math.max(20, options.warmup));
    log(`  raw embedding (bench process, same queries) p50/p95 ${rawEmbed?.p50}/${rawEmbed?.p95} ms`);
    const rerank = await measure('hybrid-rerank', 1, plan.byScenario['hybrid-rerank']);
    scenarios.push(rerank);
    // The raw cross-encoder on the very candidate sets the service reranked (hybrid, RERANK_CANDIDATES hits).
    const sets: { query: string; passages: string[] }[] = [];
    for (const query of plan.byScenario['hybrid-rerank'].slice(0, Math.min(rerank.requests, options.short ? 10 : 20))) {
      const { response } = await client.search(COLLECTION, { query, topK: raw.settings.rerankCandidates, mode: 'hybrid', rerank: false });
      sets.push({ query, passages: response.results.map((hit) => hit.text) });
    }
    rawRerank = await raw.rerank(sets, 5);
    log(`  raw rerank (bench process, same candidates) p50/p95 ${rawRerank?.p50}/${rawRerank?.p95} ms over ${sets.length} queries`);
    for (const candidates of options.rerankSweep.filter((count) => count !== raw.settings.rerankCandidates)) {
      scenarios.push(await measure('hybrid-rerank-sweep', 1, plan.byScenario['hybrid-rerank'], candidates));
    }
    for (const concurrency of options.concurrency.filter((value) => value !== 1)) scenarios.push(await measure('hybrid', concurrency, plan.sweep.get(concurrency) ?? []));
    afterRun = cold.memory();
  } finally {
    client.close();
    await cold.stop();
  }

  // The cache-hit path: the default EMBED_CACHE_SIZE; every query is answered once (warm-up) before it is timed.
  const cached = await startService({ env: benchServiceEnv({ DATA_DIR: prepared.dataDir }), logFile: path.join(dirs.logs, `service-${targetChunks}-cached.log`) });
  const cachedClient = new ServiceClient(cached.baseUrl);
  try {
    scenarios.push(await measureScenario({ client: cachedClient, scenario: 'hybrid-cached', concurrency: 1, queries: plan.byScenario.hybrid, warmup: plan.byScenario.hybrid, options, rerankCandidates: raw.settings.rerankCandidates }));
  } finally {
    cachedClient.close();
    await cached.stop();
  }
  await rm(prepared.dataDir, { recursive: true, force: true });

  const single = (scenario: ScenarioId) => scenarios.find((result) => result.scenario === scenario && result.concurrency === 1);
  const serviceEmbed = single('hybrid')?.server.embedMs;
  const serviceRerank = single('hybrid-rerank')?.server.rerankMs;
  const embedRatio = ratioOf(serviceEmbed?.p50, rawEmbed?.p50);
  const throughput = hybridThroughput(scenarios);
  log(`  throughput vs ideal (${throughput.cores} cores, ${throughput.cpuMsPerRequest ?? '?'} ms CPU per request): ${throughput.rows.map((row) => `c=${row.clients} ${row.requestsPerSecond}/${row.idealRequestsPerSecond ?? '?'} req/s = ${row.ratio ?? '?'}`).join(' · ')}`);
  const rerankRatio = ratioOf(serviceRerank?.p50, rawRerank?.p50);
  return {
    targetChunks,
    chunks: load.chunks,
    documents: load.documents,
    chunksByKind: load.chunksByKind,
    corpus: {
      cacheKey: prepared.cache.key,
      cacheUsed: prepared.cache.used,
      cacheDir: prepared.cache.dir,
      ingestSeconds: load.seconds,
      ingestChunksPerSecond: load.seconds > 0 ? Math.round((load.chunks / load.seconds) * 10) / 10 : 0,
      diskMbAfterIngest: prepared.manifest.disk?.afterIngestMb ?? null,
      diskMbCompacted: prepared.manifest.disk?.compactedMb ?? null,
    },
    memory: { afterIngest: prepared.manifest.memoryAfterIngest, afterLoad, afterRun },
    scenarios,
    throughput,
    embedOverhead: rawEmbed && serviceEmbed && embedRatio !== null ? { raw: rawEmbed, serviceEmbedP50Ms: serviceEmbed.p50, serviceEmbedP95Ms: serviceEmbed.p95, ratio: embedRatio } : null,
    rerankOverhead:
      rawRerank && serviceRerank && rerankRatio !== null
        ? {
            raw: rawRerank,
            perPairP50Ms: Math.round((rawRerank.p50 / raw.settings.rerankCandidates) * 100) / 100,
            serviceRerankP50Ms: serviceRerank.p50,
            serviceRerankP95Ms: serviceRerank.p95,
            ratio: rerankRatio,
          }
        : null,
  };
}

/** Hybrid requests/s at each concurrency next to the ideal from the single-client run's CPU time per request. */
function hybridThroughput(scenarios: readonly ScenarioResult[]): ThroughputResult {
  const hybrid = scenarios.filter((result) => result.scenario === 'hybrid');
  const single = hybrid.find((result) => result.concurrency === 1);
  const answered = single ? single.requests - single.errors : 0;
  return compareWithIdeal({
    cores: os.availableParallelism(),
    cpuSecondsPerRequest: single?.serviceCpuSeconds !== undefined && answered > 0 ? single.serviceCpuSeconds / answered : null,
    latencySeconds: single?.client ? single.client.mean / 1000 : null,
    measured: hybrid.map((result) => ({ clients: result.concurrency, requestsPerSecond: result.throughputRps })),
  });
}

function gitState(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const createdAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  log(`load average (1/5/15 min) at start: ${loadAverageAtStart.map((value) => value.toFixed(2)).join(' ')} on ${os.availableParallelism()} cores`);
  requirePythonDocs();
  const budgetFile = options.budgets ? await loadBudgetFile(options.budgets) : undefined;
  const dirs: RunDirs = { logs: path.join(options.out, 'logs'), data: await mkdtemp(path.join(os.tmpdir(), 'rag-bench-')) };
  await mkdir(dirs.logs, { recursive: true });

  // Short runs read only the quick-eval subset of pages; full runs use every page, subset first.
  const subset = await subsetPages();
  const pageList = options.short ? subset : [...subset, ...(await allPages()).filter((page) => !subset.includes(page))];
  log(`reading ${pageList.length} Python doc pages`);
  const pages = await readPages(pageList);

  if (options.prepareOnly) {
    // Ingestion of a large size takes most of an hour; building the caches ahead keeps the timed run short.
    try {
      for (const targetChunks of options.sizes) {
        const prepared = await prepareSizeCorpus(targetChunks, options, pages, dirs);
        log(`corpus ${targetChunks}: ${prepared.manifest.load.chunks} chunks, cache ${prepared.cache.used ? 'present' : 'built'} (${prepared.cache.dir})`);
        await rm(prepared.dataDir, { recursive: true, force: true });
      }
    } finally {
      await rm(dirs.data, { recursive: true, force: true });
    }
    return 0;
  }

  const serviceConfig = loadConfig({ ...benchServiceEnv({}), DATA_DIR: '/tmp/unused' });
  const pool = buildQueryPool({ questions: await loadEvalQuestions(), pages, seed: options.seed, maxChars: serviceConfig.server.maxQueryChars });
  const slicer = new QuerySlicer(pool);
  const plan: QueryPlan = {
    warmup: slicer.take(options.warmup),
    byScenario: {
      keyword: slicer.take(options.queries),
      dense: slicer.take(options.queries),
      hybrid: slicer.take(options.queries),
      'hybrid-rerank': slicer.take(options.queries),
    },
    sweep: new Map(options.concurrency.filter((value) => value !== 1).map((value) => [value, slicer.take(options.queries)])),
  };
  const byOrigin: Record<string, number> = {};
  for (const query of pool) byOrigin[query.origin] = (byOrigin[query.origin] ?? 0) + 1;

  const raw = new RawModelTimer(benchServiceEnv({}));
  const sizes: SizeResult[] = [];
  try {
    for (const targetChunks of options.sizes) {
      log(`== corpus size ${targetChunks} chunks`);
      sizes.push(await measureSize({ targetChunks, options, pages, plan, raw, dirs }));
    }
  } finally {
    // Loaded data directories can be large: never leave them behind, whatever happened.
    await rm(dirs.data, { recursive: true, force: true });
  }

  const git = gitState();
  const report: LatencyReport = {
    schemaVersion: LATENCY_SCHEMA_VERSION,
    kind: 'latency',
    short: options.short,
    createdAt,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    command: process.argv.slice(2),
    environment: {
      node: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      totalMemoryMb: Math.round(os.totalmem() / 1024 / 1024),
      loadAverageAtStart: loadAverageAtStart.map((value) => Math.round(value * 100) / 100),
      loadAverageAtEnd: os.loadavg().map((value) => Math.round(value * 100) / 100),
      gitCommit: git.commit,
      gitDirty: git.dirty,
    },
    service: {
      startedAs: 'node --import tsx src/serve/main.ts',
      settings: {
        EMBED_MODEL: serviceConfig.models.embedModel,
        EMBED_DTYPE: serviceConfig.models.embedDtype,
        MODEL_CONCURRENCY: serviceConfig.models.concurrency,
        CHUNK_SIZE_TOKENS: serviceConfig.chunking.sizeTokens,
        CHUNK_OVERLAP_TOKENS: serviceConfig.chunking.overlapTokens,
        VECTOR_STORE: serviceConfig.store.kind,
        RERANK_CANDIDATES: serviceConfig.models.rerankCandidates,
        RERANK_MAX_TOKENS: serviceConfig.models.rerankMaxTokens,
        RERANK_WORKERS: serviceConfig.models.rerankWorkers,
        RERANK_THREADS: serviceConfig.models.rerankThreads,
        RATE_LIMIT_PER_MINUTE: 0,
      },
      rerank: {
        model: LATENCY_ONLY_RERANK_MODEL,
        latencyOnly: true,
        candidates: serviceConfig.models.rerankCandidates,
        note: 'LATENCY-ONLY cross-encoder: timings are real, scores are not; never report quality from it',
      },
    },
    options: { sizes: options.sizes, queries: options.queries, concurrency: options.concurrency, warmup: options.warmup, maxSecondsPerPhase: options.maxSeconds, topK: options.topK, seed: options.seed, rerankSweep: options.rerankSweep },
    queryPool: { size: pool.length, byOrigin, reused: slicer.wrapped },
    rawModel: {
      ...raw.settings,
      method:
        "the service's own TransformersEmbedder and the reranker src/runtime.ts's createReranker builds (CrossEncoderWorkerPool with RERANK_WORKERS > 0, else CrossEncoderReranker), in the bench process, timed right after the matching scenario while the service idles",
    },
    sizes,
    budgets: null,
  };

  let passed = true;
  if (budgetFile && options.budgets) {
    const measurements = sizes.map(measurementsOf);
    const results = [...checkLatency(budgetFile.latency.checks, 'check', measurements), ...checkLatency(budgetFile.latency.targets, 'target', measurements)];
    passed = budgetsPassed(results, { enforceTargets: options.enforceTargets });
    report.budgets = { file: options.budgets, enforceTargets: options.enforceTargets, passed, results };
  }

  const base = options.short ? 'latency-short' : 'latency';
  const files = await writeReportFiles({
    dir: options.out,
    base,
    json: report,
    markdown: renderLatencyMarkdown(report, `${base}.svg`),
    svg: renderLatencyChart(report),
  });
  log(`reports: ${files.join(', ')}`);
  log(`load average (1/5/15 min): ${report.environment.loadAverageAtStart.join(' ')} at start, ${report.environment.loadAverageAtEnd.join(' ')} at end`);
  if (report.budgets) {
    console.log(`\nBudgets (${options.budgets}):`);
    for (const line of formatCheckLines(report.budgets.results)) console.log(`  ${line}`);
    console.log(passed ? '\nbench: all budgets hold' : '\nbench: BUDGET EXCEEDED (see above)');
  }
  if (options.skipIsolation) return passed ? 0 : 1;
  // The isolation scenario is part of every bench run, at the matching size (CI-sized with --short).
  log('== isolation: search during bulk ingestion (npm run bench:isolation)');
  const isolationFlags = [...(options.short ? ['--short'] : []), ...(options.budgets ? ['--budgets', options.budgets] : []), ...(options.enforceTargets ? ['--enforce-targets'] : []), '--seed', String(options.seed), '--top-k', String(options.topK), '--out', options.out];
  const isolationCode = await runIsolationBench(parseIsolationOptions(isolationFlags), isolationFlags);
  return passed && isolationCode === 0 ? 0 : 1;
}

// Exit explicitly: the raw model's ONNX session and keep-alive sockets must not keep the process alive.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  },
);
