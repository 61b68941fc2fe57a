import type { CheckResult } from './budgets.js';
import type { RankingMetrics } from './retrieval-metrics.js';
import type { Summary } from './stats.js';

/** The eval report: JSON with a stable schema (see bench/README.md) and its Markdown table. */

/** Bumped on any change that is not purely additive. */
export const EVAL_SCHEMA_VERSION = 1;

/** Mean metrics over a set of questions. */
export type MeanMetrics = RankingMetrics & { questions: number; answerInTop5Chunks: number };

/** Quality of one search mode. */
export interface ModeResult {
  mode: 'dense' | 'keyword' | 'hybrid';
  /** True for the keyword-only (BM25) baseline. */
  baseline: boolean;
  overall: MeanMetrics;
  byStyle: { keyword: MeanMetrics; paraphrase: MeanMetrics };
  /** HTTP round trip of the eval searches (single client, topK chunks). */
  latencyMs: Summary | null;
  /**
   * Recall of the first `depths[i]` chunks before any reranking: the share of questions with a chunk of a labelled
   * page (`relevantPage`) and with a chunk holding the answer text (`answerChunk`) among them. A reranker over N
   * candidates can only reorder these, so this is the ceiling of reranking N candidates.
   */
  candidateRecall?: { depths: number[]; relevantPage: number[]; answerChunk: number[] };
}

/** One question's outcome per mode. */
export interface QuestionResult {
  id: string;
  style: 'keyword' | 'paraphrase';
  relevant: string[];
  byMode: Record<
    string,
    {
      top10: string[];
      firstRelevantRank: number | null;
      answerInTop5Chunks: boolean;
      /** 1-based rank among the chunks of the first chunk of a labelled page, and of the first holding the answer. */
      relevantChunkRank?: number | null;
      answerChunkRank?: number | null;
    }
  >;
}

/** The whole eval report. */
export interface EvalReport {
  schemaVersion: typeof EVAL_SCHEMA_VERSION;
  kind: 'eval';
  short: boolean;
  createdAt: string;
  durationSeconds: number;
  command: string[];
  gitCommit: string;
  corpus: {
    name: 'subset' | 'full';
    docsPackage: string;
    pages: number;
    chunks: number;
    failedPages: { documentId: string; error: string }[];
    cacheKey: string;
    cacheUsed: boolean;
    ingestSeconds: number;
  };
  settings: Record<string, string | number>;
  method: { chunksPerSearch: number; k: number; gains: string; collapse: string };
  questions: number;
  modes: ModeResult[];
  /**
   * Ceiling of reranking the default mode's first `depths[j]` chunks with pairs cut to `windows[i]` tokens
   * (RERANK_CANDIDATES × RERANK_MAX_TOKENS): `share[i][j]` of the questions have a chunk among them whose answer text
   * lies within the tokens the cross-encoder reads (tokenizer of the configured reranker).
   */
  rerankCeiling?: { mode: 'hybrid'; windows: number[]; depths: number[]; share: number[][] };
  perQuestion: QuestionResult[];
  floors: { file: string; passed: boolean; results: CheckResult[] } | null;
}

const metric = (value: number) => value.toFixed(3);

function metricRow(label: string, metrics: MeanMetrics): string {
  return `| ${label} | ${metric(metrics.hitAt1)} | ${metric(metrics.hitAt5)} | ${metric(metrics.mrrAt10)} | ${metric(metrics.ndcgAt10)} | ${metric(metrics.answerInTop5Chunks)} | ${metrics.questions} |`;
}

const LABELS: Record<ModeResult['mode'], string> = {
  keyword: 'keyword (BM25 baseline)',
  dense: 'dense',
  hybrid: 'hybrid (RRF)',
};

/** Markdown: the overall table, the split by question style, floors and the misses of the default mode. */
export function renderEvalMarkdown(report: EvalReport): string {
  const lines: string[] = [];
  const corpus = report.corpus;
  lines.push(`# Retrieval quality: Python 3.11 docs (${corpus.name === 'subset' ? 'quick subset, CI' : 'all pages'})`, '');
  lines.push(
    `${report.createdAt} · ${report.durationSeconds} s · commit \`${report.gitCommit.slice(0, 12)}\` · python3.11-doc ${corpus.docsPackage} · ${corpus.pages} pages, ${corpus.chunks.toLocaleString('en-US')} chunks` +
      (corpus.cacheUsed ? ' (data directory from the cache)' : ` (ingested in ${corpus.ingestSeconds} s)`) +
      (corpus.failedPages.length > 0 ? ` · ${corpus.failedPages.length} pages failed to ingest` : ''),
    '',
    `${report.questions} labelled questions (fixtures/eval). Each search asks for ${report.method.chunksPerSearch} chunks; ${report.method.collapse}. ${report.method.gains}. No reranking: the only cross-encoder here is latency-only.`,
    `Settings: ${Object.entries(report.settings).map(([key, value]) => `${key}=${value}`).join(', ')}.`,
    '',
  );
  const header = ['| mode | hit@1 | hit@5 | MRR@10 | nDCG@10 | answer in top-5 chunks | questions |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  lines.push('## All questions', '', ...header);
  for (const mode of report.modes) lines.push(metricRow(LABELS[mode.mode], mode.overall));
  for (const style of ['keyword', 'paraphrase'] as const) {
    lines.push('', `## ${style === 'keyword' ? 'Keyword-style questions (use the page\'s own terms)' : 'Paraphrased questions (avoid the page\'s distinctive words)'}`, '', ...header);
    for (const mode of report.modes) lines.push(metricRow(LABELS[mode.mode], mode.byStyle[style]));
  }
  const withRecall = report.modes.filter((mode) => mode.candidateRecall !== undefined);
  const depths = withRecall[0]?.candidateRecall?.depths ?? [];
  if (depths.length > 0) {
    lines.push(
      '',
      '## Candidate recall: the ceiling of reranking N candidates',
      '',
      'Share of questions with a chunk of a labelled page / a chunk holding the answer text among the first N chunks (no reranking). A reranker over N candidates can only reorder these.',
      '',
      `| mode | ${depths.map((depth) => `N=${depth}`).join(' | ')} |`,
      `| --- | ${depths.map(() => '---:').join(' | ')} |`,
    );
    for (const mode of withRecall) {
      const recall = mode.candidateRecall!;
      lines.push(`| ${LABELS[mode.mode]} | ${recall.depths.map((_, i) => `${metric(recall.relevantPage[i] ?? 0)} / ${metric(recall.answerChunk[i] ?? 0)}`).join(' | ')} |`);
    }
  }
  const ceiling = report.rerankCeiling;
  if (ceiling) {
    lines.push(
      '',
      `## Ceiling of reranking: N candidates (RERANK_CANDIDATES) × T tokens per pair (RERANK_MAX_TOKENS), ${ceiling.mode}`,
      '',
      'Share of questions where one of the first N chunks holds the answer text within the first T tokens of its `[CLS] query [SEP] passage [SEP]` pair, i.e. where a cross-encoder is given the answer and can read it. No trained cross-encoder is involved: this bounds what any reranker could surface into the top N.',
      '',
      `| T \\ N | ${ceiling.depths.map((depth) => `${depth}`).join(' | ')} |`,
      `| ---: | ${ceiling.depths.map(() => '---:').join(' | ')} |`,
      ...ceiling.windows.map((window, i) => `| ${window} | ${ceiling.depths.map((_, j) => metric(ceiling.share[i]?.[j] ?? 0)).join(' | ')} |`),
    );
  }
  lines.push('', '## Search latency during the eval (HTTP round trip, ms)', '', '| mode | p50 | p95 | max |', '| --- | ---: | ---: | ---: |');
  for (const mode of report.modes) lines.push(`| ${LABELS[mode.mode]} | ${mode.latencyMs?.p50 ?? '–'} | ${mode.latencyMs?.p95 ?? '–'} | ${mode.latencyMs?.max ?? '–'} |`);

  if (report.floors) {
    lines.push('', `## Quality floors (${report.floors.file}): ${report.floors.passed ? 'passed' : '**FAILED**'}`, '', '| floor | where | metric | min | measured | status |', '| --- | --- | --- | ---: | ---: | --- |');
    if (report.floors.results.length === 0) lines.push(`| – | no floor applies to the ${corpus.name} corpus | | | | |`);
    for (const result of report.floors.results) {
      lines.push(`| ${result.id} | ${result.where} | ${result.metric} | ${result.limit.min} | ${result.measured ?? '–'} | ${result.status === 'pass' ? 'ok' : `**${result.status}**`} |`);
    }
  }

  const misses = report.perQuestion.filter((question) => question.byMode.hybrid?.firstRelevantRank === null || (question.byMode.hybrid?.firstRelevantRank ?? 0) > 5);
  if (misses.length > 0) {
    lines.push('', '## Hybrid misses (no relevant page in the top 5)', '', '| question | style | relevant | hybrid top 3 |', '| --- | --- | --- | --- |');
    for (const miss of misses) {
      lines.push(`| ${miss.id} | ${miss.style} | ${miss.relevant.join(', ')} | ${(miss.byMode.hybrid?.top10 ?? []).slice(0, 3).join(', ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
