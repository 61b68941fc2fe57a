/**
 * `npm run bench:ingest`: ingestion throughput against the raw embedding model, and the worker's peak memory on a
 * large real PDF. See bench/README.md for what each number means, the options and measured results.
 *
 * 1. Raw: the embedder that `createIngestComponents` (the production wiring) builds embeds the very chunk texts the
 *    pipeline will embed, in batches of EMBED_BATCH_SIZE with WORKER_CONCURRENCY calls in flight; once before and
 *    once after the pipeline run, so both see the same machine load.
 * 2. Pipeline: that wiring's IngestPipeline (parse → chunk → embed → replace in a temporary LanceDB) ingests the
 *    same files, WORKER_CONCURRENCY documents at a time, as a worker does.
 * 3. Worker: `node --import tsx src/ingest/worker-main.ts` (what `npm run worker` runs) ingests the PDF from a
 *    unique queue on real Redis; its VmHWM (the kernel's peak RSS) is read from /proc when the job is done.
 *
 * Writes bench/results/ingest.{json,md}; with --check exits 1 when a target is missed (2 when the run failed).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { loadConfig, type Config } from '../src/config.js';
import { TokenChunker } from '../src/ingest/chunkers/token-chunker.js';
import { detectContentType, parserFor } from '../src/ingest/parsers/index.js';
import { embeddingText, PIPELINE_VERSION } from '../src/ingest/pipeline.js';
import { BullMqQueue, DEFAULT_PREFIX } from '../src/ingest/queues/bullmq-queue.js';
import type { IngestJob, JobStatus } from '../src/ingest/types.js';
import { createLogger } from '../src/logger.js';
import { TransformersEmbedder } from '../src/retrieve/embedders/transformers-embedder.js';
import { DEFAULT_INTRA_OP_THREADS } from '../src/retrieve/model-files.js';
import type { Embedder } from '../src/retrieve/types.js';
import { createIngestComponents } from '../src/runtime.js';
import { benchServiceEnv } from './lib/prepared-corpus.js';
import { PYTHON_DOCS_ROOT, allPages, requirePythonDocs, subsetPages } from './lib/python-docs.js';
import { writeReportFiles } from './lib/report-files.js';
import { logTail, readProcessMemory, sleep, startScript } from './lib/service-process.js';
import { round } from './lib/stats.js';
import { integerOption } from './lib/cli-options.js';
import { budgetsPassed, checkLatency, formatCheckLines, loadBudgetFile, type CheckResult } from './lib/budgets.js';
import { rawEmbeddingOnAllCores, type AllCoresPass } from './lib/raw-embed-processes.js';

const USAGE = `npm run bench:ingest -- [options]
  --pages N        Python doc pages (fixtures/eval/corpus-subset.txt first, then the other content pages); default 60
  --pdf FILE       the large PDF (default: the largest PDF under /usr/share/doc/c++-annotations*/)
  --skip-worker    do not run the worker process (no peak RSS)
  --worker FILE    the worker's entry point (default src/ingest/worker-main.ts, run under tsx as npm run worker does;
                   dist/ingest/worker-main.js after npm run build measures the compiled worker)
  --redis URL      Redis of the worker run (default redis://127.0.0.1:6379)
  --raw-processes N   processes of the raw model on all cores (default: the cores, nproc)
  --check          exit 1 when a target is missed (or not measured)
  --budgets FILE   also check the 'isolation' section of a bench/budgets.json-style file (ingest-all-cores); exit 1
                   when a check fails
  --out DIR        report directory (default bench/results)`;

/** The ingestion issue's targets. */
const TARGETS = {
  /** Pipeline chunks/s over raw embedding texts/s of the same model on the same texts, all parts together. */
  minPipelineToRawRatio: 0.8,
  /** Isolation issue: pipeline chunks/s over the raw model on all cores (one process per core), all parts together. */
  minPipelineToAllCoresRatio: 0.9,
  /** Peak RSS (VmHWM) of a worker ingesting the big PDF: 1.5 GB = 1.5e9 bytes, in MiB. */
  maxWorkerPeakRssMb: Math.floor(1.5e9 / 1024 / 1024),
};
const COLLECTION = 'bench-ingest';
/** Texts of the one-call-vs-concurrent-calls check. */
const CONCURRENCY_SAMPLE = 640;
const WORKER_JOB_TIMEOUT_MS = 60 * 60_000;

interface Options {
  pages: number;
  pdf: string | undefined;
  skipWorker: boolean;
  worker: string;
  redis: string;
  rawProcesses: number;
  check: boolean;
  budgets: string | undefined;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      pages: { type: 'string', default: '60' },
      pdf: { type: 'string' },
      'skip-worker': { type: 'boolean', default: false },
      worker: { type: 'string', default: path.join('src', 'ingest', 'worker-main.ts') },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      'raw-processes': { type: 'string' },
      check: { type: 'boolean', default: false },
      budgets: { type: 'string' },
      out: { type: 'string', default: path.join('bench', 'results') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const pages = integerOption(values.pages, 'pages', 60, { min: 0 });
  const rawProcesses = integerOption(values['raw-processes'], 'raw-processes', os.availableParallelism(), { max: 64 });
  return { pages, pdf: values.pdf, skipWorker: values['skip-worker'], worker: values.worker, redis: values.redis, rawProcesses, check: values.check, budgets: values.budgets, out: values.out };
}

function log(line: string): void {
  console.log(`[bench:ingest ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

const loadAverage = () => os.loadavg().map((value) => round(value));
const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** One file as the API would enqueue it. */
interface CorpusFile {
  documentId: string;
  filePath: string;
  contentType: string;
  bytes: number;
}

/** A part of the corpus measured on its own: many small HTML pages, one big PDF. */
interface CorpusPart {
  name: 'python-pages' | 'pdf';
  files: CorpusFile[];
}

/** The largest PDF Debian's c++-annotations packages install. */
async function findLargestAnnotationsPdf(): Promise<string> {
  const docRoot = '/usr/share/doc';
  let best: { file: string; bytes: number } | undefined;
  for (const folder of (await readdir(docRoot)).filter((name) => name.startsWith('c++-annotations'))) {
    for (const name of (await readdir(path.join(docRoot, folder))).filter((file) => file.endsWith('.pdf'))) {
      const file = path.join(docRoot, folder, name);
      const { size } = await stat(file);
      if (!best || size > best.bytes) best = { file, bytes: size };
    }
  }
  if (!best) throw new Error('No PDF under /usr/share/doc/c++-annotations*/: run `apt-get install -y c++-annotations-pdf`, or pass --pdf FILE');
  return best.file;
}

async function corpusFile(filePath: string, documentId: string): Promise<CorpusFile> {
  const handle = await open(filePath, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const { size } = await handle.stat();
    return { documentId, filePath, contentType: detectContentType({ fileName: filePath, head: head.subarray(0, bytesRead) }), bytes: size };
  } finally {
    await handle.close();
  }
}

async function buildCorpus(options: Options): Promise<CorpusPart[]> {
  const parts: CorpusPart[] = [];
  if (options.pages > 0) {
    requirePythonDocs();
    const subset = await subsetPages();
    const pageList = [...subset, ...(await allPages()).filter((page) => !subset.includes(page))].slice(0, options.pages);
    parts.push({ name: 'python-pages', files: await Promise.all(pageList.map((page) => corpusFile(path.join(PYTHON_DOCS_ROOT, page), page))) });
  }
  const pdf = options.pdf ?? (await findLargestAnnotationsPdf());
  parts.push({ name: 'pdf', files: [await corpusFile(pdf, path.basename(pdf))] });
  return parts;
}

/** Items per wall-clock second of one timed pass, and how many cores this process kept busy meanwhile. */
interface Pass {
  items: number;
  seconds: number;
  perSecond: number;
  /** CPU time of this process (all threads) over wall time: 1.0 is one core busy all the time. */
  cpuCores: number;
}

async function timedPass(items: number, work: () => Promise<unknown>): Promise<Pass> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { items, seconds: round(wallMs / 1000, 1), perSecond: round((items / wallMs) * 1000, 1), cpuCores: round((used.user + used.system) / 1000 / wallMs) };
}

/** Total items over total time of several passes. */
function rate(passes: readonly Pass[]): number {
  const items = passes.reduce((sum, pass) => sum + pass.items, 0);
  const seconds = passes.reduce((sum, pass) => sum + pass.seconds, 0);
  return round(items / seconds, 1);
}

/** `texts` through `embedder.embed` in batches of `batchSize`, `concurrency` calls in flight: embedding and nothing else. */
function rawEmbedding(embedder: Embedder, texts: readonly string[], batchSize: number, concurrency: number): Promise<Pass> {
  const limit = pLimit(concurrency);
  const batches: string[][] = [];
  for (let start = 0; start < texts.length; start += batchSize) batches.push(texts.slice(start, start + batchSize));
  return timedPass(texts.length, () => Promise.all(batches.map((batch) => limit(() => embedder.embed({ texts: batch })))));
}

/**
 * The texts the pipeline will embed for `part`: the pipeline's parsers, a chunker with its settings and `embeddingText`.
 * `tokenCounter` is a separate embedder instance, so the pipeline's embedder does not start with this run's token memo.
 */
async function chunkTexts(part: CorpusPart, config: Readonly<Config>, tokenCounter: TransformersEmbedder): Promise<string[]> {
  const chunker = new TokenChunker({ tokenCounter, chunkSizeTokens: config.chunking.sizeTokens, overlapTokens: config.chunking.overlapTokens });
  const texts: string[] = [];
  for (const file of part.files) {
    const document = await parserFor(file.contentType).parse({ filePath: file.filePath, fileName: file.documentId, contentType: file.contentType });
    for (const chunk of await chunker.chunk({ document })) texts.push(embeddingText(chunk));
  }
  return texts;
}

interface PartResult {
  name: CorpusPart['name'];
  files: string[];
  bytes: number;
  chunks: number;
  /**
   * Seconds of the pipeline's jobs in each stage, from its progress callback, summed over jobs (`lookup`: hashing the
   * file and reading the stored document). Jobs that run at once overlap, so the sum exceeds the wall time.
   */
  stageSeconds: Record<string, number>;
  /** Before and after the pipeline run. */
  raw: Pass[];
  rawTextsPerSecond: number;
  pipeline: Pass;
  ratio: number;
  /** The raw model on all cores (one process per core) on the same texts, after the pipeline run. */
  rawAllCores: AllCoresPass;
  /** Pipeline chunks/s ÷ raw all-cores texts/s. */
  allCoresRatio: number;
}

/** Texts per embed call, as IngestPipeline computes it. */
const batchSizeOf = (config: Readonly<Config>, embedder: Embedder) => Math.max(1, Math.min(config.models.embedBatchSize, embedder.maxBatchSize));

/**
 * Raw, pipeline, raw on one part, with the production wiring built afresh over its own empty LanceDB in `dataDir`.
 * The store is closed between the pipeline and the second raw pass, so its background index maintenance does not
 * run during that pass (maintenance still pending then is not measured). With `concurrencyCheck`, the first
 * CONCURRENCY_SAMPLE texts are then embedded with one call in flight and with WORKER_CONCURRENCY.
 */
async function measurePart(params: { part: CorpusPart; dataDir: string; tokenCounter: TransformersEmbedder; concurrencyCheck: boolean; rawProcesses: number; logFile: string }): Promise<{ result: PartResult; concurrencyCheck?: ConcurrencyCheck }> {
  const { part } = params;
  const config = loadConfig({ ...benchServiceEnv({}), DATA_DIR: params.dataDir });
  const { embedder, pipeline, store } = await createIngestComponents(config, createLogger({ level: 'warn', name: 'bench-ingest' }));
  const batchSize = batchSizeOf(config, embedder);
  const concurrency = config.queue.workerConcurrency;
  log(`${part.name}: parsing and chunking ${part.files.length} files for the raw texts`);
  const texts = await chunkTexts(part, config, params.tokenCounter);
  const raw: Pass[] = [];
  const rawPass = async () => {
    log(`${part.name}: raw embedding of ${texts.length} texts, ${concurrency} calls in flight (load ${loadAverage().join(' ')})`);
    raw.push(await rawEmbedding(embedder, texts, batchSize, concurrency));
  };

  await rawPass();
  log(`${part.name}: pipeline, ${concurrency} documents at a time (load ${loadAverage().join(' ')})`);
  const limit = pLimit(concurrency);
  const enqueuedAt = new Date().toISOString();
  let chunks = 0;
  const stageMs: Record<string, number> = {};
  const pipelinePass = await timedPass(texts.length, () =>
    Promise.all(
      part.files.map((file) =>
        limit(async () => {
          const job: IngestJob = { collection: COLLECTION, documentId: file.documentId, source: file.documentId, contentType: file.contentType, filePath: file.filePath, metadata: {}, enqueuedAt };
          let stage = 'lookup';
          let since = performance.now();
          const result = await pipeline.run({
            job,
            onProgress: (update) => {
              if (update.stage === stage) return;
              stageMs[stage] = (stageMs[stage] ?? 0) + performance.now() - since;
              stage = update.stage;
              since = performance.now();
            },
          });
          chunks += result.chunks;
        }),
      ),
    ),
  );
  await store.close();
  if (chunks !== texts.length) throw new Error(`${part.name}: the pipeline stored ${chunks} chunks but chunking gave ${texts.length} texts: raw and pipeline would not do the same work`);
  await rawPass();
  log(`${part.name}: raw embedding of ${texts.length} texts on all cores, ${params.rawProcesses} processes (load ${loadAverage().join(' ')})`);
  const rawAllCores = await rawEmbeddingOnAllCores({ texts, batchSize, processes: params.rawProcesses, env: benchServiceEnv({}), logFile: params.logFile });

  const rawTextsPerSecond = rate(raw);
  const result: PartResult = {
    name: part.name,
    files: part.files.map((file) => file.filePath),
    bytes: part.files.reduce((sum, file) => sum + file.bytes, 0),
    chunks,
    stageSeconds: Object.fromEntries(Object.entries(stageMs).map(([stage, ms]) => [stage, round(ms / 1000, 1)])),
    raw,
    rawTextsPerSecond,
    pipeline: pipelinePass,
    ratio: round(pipelinePass.perSecond / rawTextsPerSecond, 3),
    rawAllCores,
    allCoresRatio: round(pipelinePass.perSecond / rawAllCores.perSecond, 3),
  };
  if (!params.concurrencyCheck) return { result };
  const sample = texts.slice(0, CONCURRENCY_SAMPLE);
  log(`${sample.length} texts with 1, then ${concurrency} embed calls in flight (load ${loadAverage().join(' ')})`);
  const oneCall = await rawEmbedding(embedder, sample, batchSize, 1);
  return { result, concurrencyCheck: { concurrency, oneCall, concurrentCalls: await rawEmbedding(embedder, sample, batchSize, concurrency) } };
}

/** Raw embedding of the same texts with one call in flight and with `concurrency`: do concurrent jobs reach another core? */
interface ConcurrencyCheck {
  concurrency: number;
  oneCall: Pass;
  concurrentCalls: Pass;
}

interface WorkerResult {
  /** The entry point, run as `node --import tsx <script>` when it is TypeScript. */
  script: string;
  file: string;
  bytes: number;
  chunks: number;
  jobSeconds: number;
  chunksPerSecond: number;
  /** VmRSS once the worker is ready (model loaded), before the job. */
  rssAfterStartMb: number;
  /** VmHWM after the job: the highest RSS of the process since it started. */
  peakRssMb: number;
  logFile: string;
}

/** Starts the real worker process on a unique queue, has it ingest `file` and reads its peak RSS. */
async function measureWorker(params: { script: string; file: CorpusFile; redisUrl: string; logFile: string }): Promise<WorkerResult> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rag-bench-worker-'));
  const uploadDir = path.join(dataDir, 'uploads');
  await mkdir(uploadDir);
  const queueName = `bench-ingest-${randomUUID()}`;
  const env = benchServiceEnv({ REDIS_URL: params.redisUrl, QUEUE_NAME: queueName, DATA_DIR: dataDir, UPLOAD_DIR: uploadDir, LOG_LEVEL: 'info' });
  await writeFile(params.logFile, ''); // its start is detected in this log
  const worker = startScript({ script: params.script, env, logFile: params.logFile });
  const redis = new Redis(params.redisUrl, { maxRetriesPerRequest: null });
  const queue = new BullMqQueue({ name: queueName, connection: redis, attempts: 1, backoffMs: 1000, maxDepth: 10 }, createLogger({ level: 'warn' }));
  const failure = async (what: string) => new Error(`${what}; worker log ${params.logFile}:\n${await logTail(params.logFile, 10)}`);
  try {
    for (const deadline = Date.now() + 300_000; !(await readFile(params.logFile, 'utf8')).includes('ingestion worker started'); await sleep(200)) {
      if (worker.exitReason() !== undefined) throw await failure(`the worker exited (${worker.exitReason()}) before it started`);
      if (Date.now() > deadline) throw await failure('the worker did not start within 300 s');
    }
    const rssAfterStartMb = readProcessMemory(worker.pid)?.rssMb ?? Number.NaN;

    // The worker deletes the upload once the job completes, as it does with the API's uploads.
    const upload = path.join(uploadDir, `${randomUUID()}.upload`);
    await copyFile(params.file.filePath, upload);
    const job: IngestJob = { collection: COLLECTION, documentId: params.file.documentId, source: params.file.documentId, contentType: params.file.contentType, filePath: upload, metadata: {}, enqueuedAt: new Date().toISOString() };
    const started = performance.now();
    const [ref] = await queue.enqueue({ jobs: [job] });
    let status: JobStatus | null = null;
    for (const deadline = Date.now() + WORKER_JOB_TIMEOUT_MS; status?.state !== 'completed' && status?.state !== 'failed'; await sleep(250)) {
      if (worker.exitReason() !== undefined) throw await failure(`the worker exited (${worker.exitReason()}) during the job`);
      if (Date.now() > deadline) throw await failure(`the job did not finish within ${WORKER_JOB_TIMEOUT_MS / 1000} s`);
      status = await queue.getJob({ jobId: ref?.jobId ?? '' });
    }
    const jobSeconds = (performance.now() - started) / 1000;
    const peakRssMb = readProcessMemory(worker.pid)?.peakRssMb ?? Number.NaN;
    if (status.state !== 'completed') throw await failure(`the worker's job failed: ${JSON.stringify(status.error)}`);
    const chunks = status.chunks ?? 0;
    return { script: params.script, file: params.file.filePath, bytes: params.file.bytes, chunks, jobSeconds: round(jobSeconds, 1), chunksPerSecond: round(chunks / jobSeconds, 1), rssAfterStartMb, peakRssMb, logFile: params.logFile };
  } finally {
    await worker.stop();
    await queue.queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    // Whatever BullMQ and the worker left under the queue's unique name.
    for await (const keys of redis.scanStream({ match: `${DEFAULT_PREFIX}:${queueName}:*`, count: 500 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
    await redis.quit();
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface TargetResult {
  metric: string;
  target: string;
  measured: number | null;
  status: 'pass' | 'fail' | 'missing';
}

function renderMarkdown(report: { parts: PartResult[]; concurrencyCheck: ConcurrencyCheck | null; overall: { rawTextsPerSecond: number; pipelineChunksPerSecond: number; ratio: number; rawAllCoresTextsPerSecond: number; allCoresRatio: number }; worker: WorkerResult | null; targetResults: TargetResult[]; settings: { workerConcurrency: number; embedBatchSize: number } }): string {
  const { workerConcurrency: n, embedBatchSize } = report.settings;
  const rows: string[][] = [];
  const passCell = (pass: Pass) => `${pass.perSecond} (${pass.items} in ${pass.seconds} s, ${pass.cpuCores} cores)`;
  for (const part of report.parts) {
    rows.push([`${part.name}: files / chunks`, `${part.files.length} / ${part.chunks}`]);
    rows.push([`${part.name}: raw texts/s, before · after the pipeline`, part.raw.map(passCell).join(' · ')]);
    rows.push([`${part.name}: pipeline chunks/s`, passCell(part.pipeline)]);
    rows.push([`${part.name}: pipeline / raw`, String(part.ratio)]);
    rows.push([`${part.name}: raw texts/s on all cores (${part.rawAllCores.processes} processes)`, `${part.rawAllCores.perSecond} (${part.rawAllCores.items} in ${part.rawAllCores.seconds} s, ${part.rawAllCores.cpuCores} cores)`]);
    rows.push([`${part.name}: pipeline / raw on all cores`, String(part.allCoresRatio)]);
    rows.push([`${part.name}: pipeline job seconds by stage (summed over jobs)`, Object.entries(part.stageSeconds).map(([stage, seconds]) => `${stage} ${seconds}`).join(' · ')]);
  }
  const check = report.concurrencyCheck;
  if (check) rows.push([`raw texts/s with 1 · ${check.concurrency} calls in flight`, `${passCell(check.oneCall)} · ${passCell(check.concurrentCalls)}`]);
  rows.push(['all: raw texts/s · pipeline chunks/s', `${report.overall.rawTextsPerSecond} · ${report.overall.pipelineChunksPerSecond}`]);
  rows.push(['all: raw texts/s on all cores · pipeline / raw on all cores', `${report.overall.rawAllCoresTextsPerSecond} · ${report.overall.allCoresRatio}`]);
  const worker = report.worker;
  if (worker) {
    rows.push([`worker (${worker.script}): ${path.basename(worker.file)} (${mib(worker.bytes)} MiB)`, `${worker.chunks} chunks in ${worker.jobSeconds} s = ${worker.chunksPerSecond} chunks/s`]);
    rows.push(['worker: RSS when ready · peak (VmHWM), MiB', `${worker.rssAfterStartMb} · ${worker.peakRssMb}`]);
  }
  const lines = [
    '| measurement | value |',
    '| --- | ---: |',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
    '',
    '| target | limit | measured | status |',
    '| --- | ---: | ---: | --- |',
    ...report.targetResults.map((target) => `| ${target.metric} | ${target.target} | ${target.measured ?? 'not measured'} | ${target.status.toUpperCase()} |`),
    '',
    `raw: the production embedder alone on the pipeline's chunk texts, batches of ${embedBatchSize}, ${n} calls in flight. ` +
      `pipeline: IngestPipeline.run (parse, chunk, embed, LanceDB), ${n} documents at a time. ` +
      'cores: CPU time of the bench process over wall time (1.0 = one core busy throughout).',
  ];
  return `${lines.join('\n')}\n`;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const createdAt = new Date().toISOString();
  const loadAverageAtStart = loadAverage();
  const started = Date.now();
  log(`load average (1/5/15 min) at start: ${loadAverageAtStart.join(' ')} on ${os.availableParallelism()} cores`);
  const budgetFile = options.budgets ? await loadBudgetFile(options.budgets) : undefined;
  const corpus = await buildCorpus(options);
  await mkdir(path.join(options.out, 'logs'), { recursive: true });

  const config = loadConfig({ ...benchServiceEnv({}), DATA_DIR: '/tmp/unused' });
  log(`loading ${config.models.embedModel} (${config.models.embedDtype}) the way src/runtime.ts does`);
  const tokenCounter = new TransformersEmbedder({ modelsDir: config.models.dir, offline: config.models.offline, modelId: config.models.embedModel, dtype: config.models.embedDtype, maxBatchSize: 1 });
  await tokenCounter.load();
  const parts: PartResult[] = [];
  let concurrencyCheck: ConcurrencyCheck | null = null;
  const dataRoot = await mkdtemp(path.join(os.tmpdir(), 'rag-bench-ingest-'));
  try {
    for (const part of corpus) {
      const measured = await measurePart({ part, dataDir: path.join(dataRoot, part.name), tokenCounter, concurrencyCheck: concurrencyCheck === null, rawProcesses: options.rawProcesses, logFile: path.join(options.out, 'logs', 'ingest-raw-processes.log') });
      parts.push(measured.result);
      concurrencyCheck ??= measured.concurrencyCheck ?? null;
    }
  } finally {
    await rm(dataRoot, { recursive: true, force: true });
  }

  let worker: WorkerResult | null = null;
  const pdf = corpus.find((part) => part.name === 'pdf')?.files[0];
  if (!options.skipWorker && pdf) {
    log(`worker process: ingesting ${pdf.filePath} (${mib(pdf.bytes)} MiB) through Redis (load ${loadAverage().join(' ')})`);
    worker = await measureWorker({ script: options.worker, file: pdf, redisUrl: options.redis, logFile: path.join(options.out, 'logs', 'ingest-worker.log') });
  }

  const chunks = parts.reduce((sum, part) => sum + part.chunks, 0);
  const pipelineSeconds = parts.reduce((sum, part) => sum + part.pipeline.seconds, 0);
  const rawTextsPerSecond = rate(parts.flatMap((part) => part.raw));
  const pipelineChunksPerSecond = round(chunks / pipelineSeconds, 1);
  const allCoresItems = parts.reduce((sum, part) => sum + part.rawAllCores.items, 0);
  const allCoresSeconds = parts.reduce((sum, part) => sum + part.rawAllCores.seconds, 0);
  const rawAllCoresTextsPerSecond = round(allCoresItems / allCoresSeconds, 1);
  const overall = {
    rawTextsPerSecond,
    pipelineChunksPerSecond,
    ratio: round(pipelineChunksPerSecond / rawTextsPerSecond, 3),
    rawAllCoresTextsPerSecond,
    allCoresRatio: round(pipelineChunksPerSecond / rawAllCoresTextsPerSecond, 3),
  };
  const targetResults: TargetResult[] = [
    { metric: 'pipeline chunks/s ÷ raw texts/s, all parts', target: `≥ ${TARGETS.minPipelineToRawRatio}`, measured: overall.ratio, status: overall.ratio >= TARGETS.minPipelineToRawRatio ? 'pass' : 'fail' },
    {
      metric: `pipeline chunks/s ÷ raw texts/s on all cores (${options.rawProcesses} processes), all parts`,
      target: `≥ ${TARGETS.minPipelineToAllCoresRatio}`,
      measured: overall.allCoresRatio,
      status: overall.allCoresRatio >= TARGETS.minPipelineToAllCoresRatio ? 'pass' : 'fail',
    },
    {
      metric: 'worker peak RSS (VmHWM) on the PDF, MiB',
      target: `< ${TARGETS.maxWorkerPeakRssMb} (1.5 GB)`,
      measured: worker?.peakRssMb ?? null,
      status: worker === null ? 'missing' : worker.peakRssMb < TARGETS.maxWorkerPeakRssMb ? 'pass' : 'fail',
    },
  ];
  const settings = {
    pipelineVersion: PIPELINE_VERSION,
    embedModel: config.models.embedModel,
    embedDtype: config.models.embedDtype,
    embedBatchSize: config.models.embedBatchSize,
    embedIntraOpThreads: DEFAULT_INTRA_OP_THREADS,
    chunking: config.chunking,
    workerConcurrency: config.queue.workerConcurrency,
    store: 'lancedb',
  };
  const report = {
    schemaVersion: 1,
    kind: 'ingest',
    createdAt,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    command: ['npm', 'run', 'bench:ingest', '--', ...process.argv.slice(2)].join(' '),
    environment: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      totalMemoryMb: Math.round(os.totalmem() / 1024 / 1024),
      loadAverageAtStart,
      loadAverageAtEnd: loadAverage(),
      gitCommit: gitCommit(),
    },
    settings,
    method:
      'raw = the embedder built by createIngestComponents (as src/runtime.ts wires it) embedding the chunk texts the pipeline embeds, batches of EMBED_BATCH_SIZE, WORKER_CONCURRENCY calls in flight, once before and once after the pipeline run; ' +
      'pipeline = IngestPipeline.run of the same wiring over the same files into a temporary LanceDB, WORKER_CONCURRENCY documents at a time; ratio = pipeline chunks/s ÷ raw texts/s; ' +
      'cpuCores = CPU time of the bench process ÷ wall time; ' +
      'rawAllCores = --raw-processes processes (default: the cores), each loading the same embedder, embedding a round-robin share of the same texts at once after an untimed batch, timed from the common start to the last one done; allCoresRatio = pipeline chunks/s ÷ rawAllCores texts/s; ' +
      'worker = node --import tsx src/ingest/worker-main.ts (what npm run worker runs; or node <--worker FILE>.js) on a unique BullMQ queue ingesting the PDF, VmHWM from /proc/<pid>/status after the job',
    targets: TARGETS,
    parts,
    concurrencyCheck,
    overall,
    worker,
    targetResults,
    budgets: null as { file: string; passed: boolean; results: CheckResult[] } | null,
  };
  if (budgetFile?.isolation && options.budgets) {
    const values = { ratio: overall.allCoresRatio, rawTextsPerSecond: overall.rawAllCoresTextsPerSecond, pipelineChunksPerSecond: overall.pipelineChunksPerSecond };
    const measured = [{ targetChunks: chunks, chunks, values: {}, runs: [{ scenario: 'ingest-all-cores', concurrency: options.rawProcesses, values }] }];
    const results = [...checkLatency(budgetFile.isolation.checks, 'check', measured), ...checkLatency(budgetFile.isolation.targets, 'target', measured)];
    report.budgets = { file: options.budgets, passed: budgetsPassed(results, { enforceTargets: false }), results };
  }
  const markdown = renderMarkdown(report);
  console.log(`\n${markdown}`);
  console.log(`load average (1/5/15 min): start ${loadAverageAtStart.join(' ')}, end ${report.environment.loadAverageAtEnd.join(' ')}; ${report.environment.cpus} CPUs`);
  const files = await writeReportFiles({ dir: options.out, base: 'ingest', json: report, markdown: `# Ingestion benchmark\n\n\`${report.command}\` · ${createdAt} · load ${loadAverageAtStart.join(' ')} → ${report.environment.loadAverageAtEnd.join(' ')}\n\n${markdown}` });
  log(`reports: ${files.join(', ')}`);
  for (const part of parts.filter((candidate) => candidate.rawAllCores.cpuCores < 0.8 * candidate.rawAllCores.processes)) {
    // Other work held the cores: the all-cores ceiling was not reached, so the ratio against it flatters the pipeline.
    log(`WARNING ${part.name}: raw on all cores kept only ${part.rawAllCores.cpuCores} of ${part.rawAllCores.processes} cores busy (machine load ${report.environment.loadAverageAtEnd.join(' ')}); its ratio is not meaningful`);
  }
  const missed = targetResults.filter((target) => target.status !== 'pass');
  if (missed.length > 0) log(`targets missed: ${missed.map((target) => target.metric).join('; ')}`);
  if (report.budgets) {
    console.log(`\nIsolation budgets (${options.budgets}):`);
    for (const line of formatCheckLines(report.budgets.results)) console.log(`  ${line}`);
  }
  const budgetsFailed = report.budgets !== null && !report.budgets.passed;
  return (options.check && missed.length > 0) || budgetsFailed ? 1 : 0;
}

// Exit explicitly: the ONNX sessions and Redis sockets must not keep the process alive.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  },
);
