/**
 * `npm run eval`: retrieval quality (hit@1, hit@5, MRR@10, nDCG@10) of the dense, keyword and hybrid modes on the
 * labelled Python-docs questions (fixtures/eval), through the service's HTTP API. `--short` indexes the 153-page
 * subset, the default indexes every page of python3.11-doc. Writes bench/results/eval[-short].{json,md};
 * with --floors, exits 1 when a metric drops below its committed floor. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { budgetsPassed, checkQuality, formatCheckLines, loadBudgetFile } from './lib/budgets.js';
import { loadCorpus } from './lib/corpus-loader.js';
import { stableStringify } from './lib/data-cache.js';
import { renderEvalMarkdown, EVAL_SCHEMA_VERSION, type EvalReport, type MeanMetrics, type ModeResult, type QuestionResult } from './lib/eval-report.js';
import { ServiceClient } from './lib/http-client.js';
import { benchServiceEnv, prepareCorpus } from './lib/prepared-corpus.js';
import { allPages, pythonDocsVersion, readPages, requirePythonDocs, subsetPages } from './lib/python-docs.js';
import { loadEvalQuestions, type EvalQuestion } from './lib/queries.js';
import { writeReportFiles } from './lib/report-files.js';
import { CANDIDATE_DEPTHS, collapseToDocuments, firstMatchRank, firstRelevantRank, meanMetrics, recallAtDepths, scoreRanking, type RankingMetrics } from './lib/retrieval-metrics.js';
import { startService } from './lib/service-process.js';
import { summarize } from './lib/stats.js';
import { integerOption } from './lib/cli-options.js';
import { AutoTokenizer } from '@huggingface/transformers';
import { loadModel } from '../src/retrieve/model-files.js';
import { pairTokensToReadAnswer, rerankCeiling, RERANK_WINDOWS } from './lib/rerank-window.js';

const USAGE = `npm run eval -- [options]
  --short              index fixtures/eval/corpus-subset.txt (153 pages) instead of every page
  --floors FILE        check the quality floors of a bench/budgets.json-style file; exit 1 when one fails
  --chunks 50          chunks asked for per search before collapsing to pages (default 50, max 100)
  --rebuild-cache      re-ingest even when a cached data directory exists
  --out DIR            report directory (default bench/results)`;

const COLLECTION = 'pydocs';
const MODES = ['dense', 'keyword', 'hybrid'] as const;

interface Options {
  short: boolean;
  floors: string | undefined;
  chunks: number;
  rebuildCache: boolean;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      short: { type: 'boolean', default: false },
      floors: { type: 'string' },
      chunks: { type: 'string', default: '50' },
      'rebuild-cache': { type: 'boolean', default: false },
      out: { type: 'string', default: path.join('bench', 'results') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const chunks = integerOption(values.chunks, 'chunks', 50, { min: 10, max: 100 });
  return { short: values.short ?? false, floors: values.floors, chunks, rebuildCache: values['rebuild-cache'] ?? false, out: values.out ?? 'bench/results' };
}

function log(line: string): void {
  console.log(`[eval ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** Case and whitespace differences (and the ¶ header links) do not decide whether a chunk holds the answer. */
function normalise(text: string): string {
  return text.replace(/¶/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
}

function meanWithAnswers(scores: { metrics: RankingMetrics; answer: boolean }[]): MeanMetrics {
  const answered = scores.filter((score) => score.answer).length;
  const { questions, ...means } = meanMetrics(scores.map((score) => score.metrics));
  return { ...means, questions, answerInTop5Chunks: scores.length === 0 ? 0 : Math.round((answered / scores.length) * 1000) / 1000 };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const createdAt = new Date().toISOString();
  requirePythonDocs();
  const floorFile = options.floors ? await loadBudgetFile(options.floors) : undefined;
  const questions = await loadEvalQuestions();
  const pageList = options.short ? await subsetPages() : await allPages();
  const corpusName = options.short ? 'subset' : 'full';
  const missing = [...new Set(questions.flatMap((question) => question.relevant))].filter((page) => !pageList.includes(page));
  if (missing.length > 0) throw new Error(`relevant pages missing from the ${corpusName} corpus: ${missing.join(', ')}`);

  const runDir = path.join(options.out, 'logs');
  await mkdir(runDir, { recursive: true });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `rag-eval-${corpusName}-`));
  const env = benchServiceEnv({});
  try {
    return await evaluate({ options, questions, pageList, corpusName, env, dataDir, runDir, floorFile, started, createdAt });
  } finally {
    // Loaded data directories can be large: never leave one behind, whatever happened.
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function evaluate(params: {
  options: Options;
  questions: EvalQuestion[];
  pageList: string[];
  corpusName: 'subset' | 'full';
  env: NodeJS.ProcessEnv;
  dataDir: string;
  runDir: string;
  floorFile: Awaited<ReturnType<typeof loadBudgetFile>> | undefined;
  started: number;
  createdAt: string;
}): Promise<number> {
  const { options, questions, pageList, corpusName, env, dataDir, runDir, floorFile, started, createdAt } = params;
  const prepared = await prepareCorpus({
    label: `eval-${corpusName}`,
    parameters: { pages: stableStringify(pageList) },
    collection: COLLECTION,
    env: { ...env, LOG_LEVEL: 'warn' },
    dataDir,
    logFile: path.join(runDir, `service-eval-${corpusName}-ingest.log`),
    rebuild: options.rebuildCache,
    log,
    load: async (client) => {
      log(`reading ${pageList.length} pages`);
      return loadCorpus({ client, collection: COLLECTION, pages: await readPages(pageList), log });
    },
  });
  const load = prepared.manifest.load;
  log(`corpus: ${load.documents.pages} pages, ${load.chunks} chunks; cache ${prepared.cache.used ? 'used' : 'built'}`);

  // The cross-encoder's own tokenizer (the latency-only export has the vocabulary of ms-marco-MiniLM), to measure how
  // much of each candidate a reranker reads at a given RERANK_MAX_TOKENS.
  const models = loadConfig({ ...env, DATA_DIR: '/tmp/unused' }).models;
  const rerankTokenizer = await loadModel({ modelId: models.rerankModel, modelsDir: models.dir, offline: models.offline, dtype: models.rerankDtype }, () =>
    AutoTokenizer.from_pretrained(models.rerankModel),
  );
  const countTokens = (text: string) => rerankTokenizer.tokenize(text).length;
  const neededByQuestion: (number | null)[][] = [];
  const depths = CANDIDATE_DEPTHS.filter((depth) => depth <= options.chunks);

  const service = await startService({ env: { ...env, DATA_DIR: dataDir }, logFile: path.join(runDir, `service-eval-${corpusName}.log`) });
  const client = new ServiceClient(service.baseUrl);
  const perQuestion: QuestionResult[] = questions.map((question) => ({ id: question.id, style: question.style, relevant: question.relevant, byMode: {} }));
  const modes: ModeResult[] = [];
  try {
    for (const mode of MODES) {
      const scores: { question: EvalQuestion; metrics: RankingMetrics; answer: boolean }[] = [];
      const latencies: number[] = [];
      const answerRanks: (number | null)[] = [];
      const relevantRanks: (number | null)[] = [];
      for (const [index, question] of questions.entries()) {
        const { response, clientMs } = await client.search(COLLECTION, { query: question.question, topK: options.chunks, mode, rerank: false });
        latencies.push(clientMs);
        const ranked = collapseToDocuments(response.results);
        const answerText = question.answerContains === undefined ? undefined : normalise(question.answerContains);
        const answerChunkRank = answerText === undefined ? null : firstMatchRank(response.results, (hit) => normalise(hit.text).includes(answerText));
        const relevantChunkRank = firstMatchRank(response.results, (hit) => question.relevant.includes(hit.documentId));
        if (mode === 'hybrid') {
          const query = normalise(question.question);
          neededByQuestion.push(
            response.results.map((hit) => (answerText === undefined ? null : pairTokensToReadAnswer(countTokens, { query, passage: normalise(hit.text), answer: answerText }))),
          );
        }
        const answer = answerChunkRank !== null && answerChunkRank <= 5;
        scores.push({ question, metrics: scoreRanking(ranked, question.relevant), answer });
        answerRanks.push(answerChunkRank);
        relevantRanks.push(relevantChunkRank);
        (perQuestion[index] as QuestionResult).byMode[mode] = {
          top10: ranked.slice(0, 10),
          firstRelevantRank: firstRelevantRank(ranked, question.relevant, 10),
          answerInTop5Chunks: answer,
          relevantChunkRank,
          answerChunkRank,
        };
      }
      const byStyle = (style: 'keyword' | 'paraphrase') => meanWithAnswers(scores.filter((score) => score.question.style === style));
      const result: ModeResult = {
        mode,
        baseline: mode === 'keyword',
        overall: meanWithAnswers(scores),
        byStyle: { keyword: byStyle('keyword'), paraphrase: byStyle('paraphrase') },
        latencyMs: summarize(latencies),
        candidateRecall: { depths, relevantPage: recallAtDepths(relevantRanks, depths), answerChunk: recallAtDepths(answerRanks, depths) },
      };
      modes.push(result);
      log(`  ${mode.padEnd(8)} hit@1 ${result.overall.hitAt1.toFixed(3)} hit@5 ${result.overall.hitAt5.toFixed(3)} MRR@10 ${result.overall.mrrAt10.toFixed(3)} nDCG@10 ${result.overall.ndcgAt10.toFixed(3)}`);
    }
  } finally {
    client.close();
    await service.stop();
  }

  const config = loadConfig({ ...env, DATA_DIR: '/tmp/unused' });
  let gitCommit = 'unknown';
  try {
    gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout.
  }
  const report: EvalReport = {
    schemaVersion: EVAL_SCHEMA_VERSION,
    kind: 'eval',
    short: options.short,
    createdAt,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    command: process.argv.slice(2),
    gitCommit,
    corpus: {
      name: corpusName,
      docsPackage: pythonDocsVersion(),
      pages: load.documents.pages,
      chunks: load.chunks,
      failedPages: load.failed,
      cacheKey: prepared.cache.key,
      cacheUsed: prepared.cache.used,
      ingestSeconds: load.seconds,
    },
    settings: {
      EMBED_MODEL: config.models.embedModel,
      EMBED_DTYPE: config.models.embedDtype,
      CHUNK_SIZE_TOKENS: config.chunking.sizeTokens,
      CHUNK_OVERLAP_TOKENS: config.chunking.overlapTokens,
      VECTOR_STORE: config.store.kind,
    },
    method: {
      chunksPerSearch: options.chunks,
      k: 10,
      gains: 'Graded relevance for nDCG: the first labelled page has gain 2, other labelled pages gain 1',
      collapse: 'chunk hits are collapsed to their page (documentId = path under the html directory), keeping first-seen order',
    },
    questions: questions.length,
    modes,
    rerankCeiling: {
      mode: 'hybrid',
      windows: [...RERANK_WINDOWS],
      depths,
      share: rerankCeiling(neededByQuestion, RERANK_WINDOWS, depths),
    },
    perQuestion,
    floors: null,
  };

  let passed = true;
  if (floorFile && options.floors) {
    const results = checkQuality(floorFile.quality.floors, corpusName, modes);
    passed = budgetsPassed(results, { enforceTargets: true });
    report.floors = { file: options.floors, passed, results };
  }
  const files = await writeReportFiles({ dir: options.out, base: options.short ? 'eval-short' : 'eval', json: report, markdown: renderEvalMarkdown(report) });
  log(`reports: ${files.join(', ')}`);
  if (report.floors) {
    console.log(`\nQuality floors (${options.floors}):`);
    for (const line of formatCheckLines(report.floors.results)) console.log(`  ${line}`);
    console.log(passed ? '\neval: all floors hold' : '\neval: QUALITY BELOW FLOOR (see above)');
  }
  return passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  },
);
