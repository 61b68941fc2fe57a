import type { CheckResult, SizeMeasurements } from './budgets.js';
import type { LoadSummary } from './load-loop.js';
import type { RawModelSettings } from './raw-model.js';
import type { ProcessMemory } from './service-process.js';
import type { Summary } from './stats.js';
import { renderLineChart } from './svg-chart.js';
import { renderThroughputMarkdown, throughputValues, type ThroughputResult } from './throughput.js';

/**
 * The latency report: a JSON document with a stable schema (bench/README.md documents every field; additive
 * changes only within a schemaVersion) and its Markdown and SVG renderings.
 */

/** Bumped on any change that is not purely additive. */
export const LATENCY_SCHEMA_VERSION = 1;

/**
 * Scenarios measured at each corpus size. `hybrid-rerank` reranks the default RERANK_CANDIDATES (what budgets check);
 * `hybrid-rerank-sweep` rows rerank another candidate count each (--rerank-sweep), to show the cost per candidate.
 */
export type ScenarioId = 'keyword' | 'dense' | 'hybrid' | 'hybrid-rerank' | 'hybrid-rerank-sweep' | 'hybrid-cached';

/** One scenario at one concurrency. */
export interface ScenarioResult extends LoadSummary {
  scenario: ScenarioId;
  mode: 'dense' | 'keyword' | 'hybrid';
  rerank: boolean;
  /** `disabled`: EMBED_CACHE_SIZE=0, every request runs the model; `hit`: every query was answered before (cache-hit path). */
  embedCache: 'disabled' | 'hit';
  concurrency: number;
  topK: number;
  /** Hits reranked per request (reranked scenarios only). */
  candidates?: number;
  /** CPU seconds the service process tree (API and its child processes) used during the timed requests. */
  serviceCpuSeconds?: number;
}

/** Everything measured at one corpus size. */
export interface SizeResult {
  targetChunks: number;
  chunks: number;
  documents: { pages: number; synthetic: number };
  chunksByKind: { pages: number; synthetic: number };
  corpus: {
    cacheKey: string;
    cacheUsed: boolean;
    cacheDir: string;
    ingestSeconds: number;
    ingestChunksPerSecond: number;
    /** DATA_DIR size right after ingestion (the store keeps replaced versions), and compacted as cached; MiB. */
    diskMbAfterIngest: number | null;
    diskMbCompacted: number | null;
  };
  memory: {
    /** Right after ingestion, in the run that built the cache entry. */
    afterIngest: ProcessMemory | null;
    /** Service started on the loaded data directory, after warm-up queries (the index is open). */
    afterLoad: ProcessMemory | null;
    /** After all cold scenarios; peakRssMb is the high-water mark of the whole service run. */
    afterRun: ProcessMemory | null;
  };
  scenarios: ScenarioResult[];
  /** Hybrid requests/s at each concurrency next to the ideal from one request's CPU time on this machine's cores. */
  throughput?: ThroughputResult;
  /** Raw embedding of the `hybrid` queries in the bench process vs the service embed stage (hybrid, one client, cache disabled); ratio = service p50 / raw p50. */
  embedOverhead: { raw: Summary; serviceEmbedP50Ms: number; serviceEmbedP95Ms: number; ratio: number } | null;
  /** Raw cross-encoder on the candidate sets the service reranked vs the service rerank stage (one client); ratio = service p50 / raw p50. */
  rerankOverhead: { raw: Summary; perPairP50Ms: number; serviceRerankP50Ms: number; serviceRerankP95Ms: number; ratio: number } | null;
}

/** The whole latency report. */
export interface LatencyReport {
  schemaVersion: typeof LATENCY_SCHEMA_VERSION;
  kind: 'latency';
  short: boolean;
  createdAt: string;
  durationSeconds: number;
  command: string[];
  environment: {
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    totalMemoryMb: number;
    /** 1, 5 and 15 minute load averages: a shared machine's noise shows here. */
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
    gitCommit: string;
    gitDirty: boolean;
  };
  service: {
    startedAs: string;
    settings: Record<string, string | number | boolean>;
    rerank: { model: string; latencyOnly: true; candidates: number; note: string };
  };
  options: { sizes: number[]; queries: number; concurrency: number[]; warmup: number; maxSecondsPerPhase: number; topK: number; seed: number; rerankSweep?: number[] };
  queryPool: { size: number; byOrigin: Record<string, number>; reused: boolean };
  /** Models the raw cost was measured with, and how. */
  rawModel: RawModelSettings & { method: string };
  sizes: SizeResult[];
  budgets: { file: string; enforceTargets: boolean; passed: boolean; results: CheckResult[] } | null;
}

/** Flattens a size's results into the named values budget checks refer to (see bench/README.md). */
export function measurementsOf(size: SizeResult): SizeMeasurements {
  const hybrid = size.scenarios.find((scenario) => scenario.scenario === 'hybrid' && scenario.concurrency === 1);
  const values: Record<string, number | null> = {
    'memory.rssAfterLoadMb': size.memory.afterLoad?.rssMb ?? null,
    'memory.rssAfterRunMb': size.memory.afterRun?.rssMb ?? null,
    'memory.peakRssMb': size.memory.afterRun?.peakRssMb ?? null,
    'memory.workersPeakRssMb': size.memory.afterRun?.children?.peakRssMb ?? null,
    'embedOverhead.ratio': size.embedOverhead?.ratio ?? null,
    'rerankOverhead.ratio': size.rerankOverhead?.ratio ?? null,
    'httpOverhead.p50Ms': hybrid?.client && hybrid.server.totalMs ? round(hybrid.client.p50 - hybrid.server.totalMs.p50) : null,
    ...throughputValues(size.throughput ?? null),
  };
  return {
    targetChunks: size.targetChunks,
    chunks: size.chunks,
    values,
    runs: size.scenarios.map((scenario) => ({ scenario: scenario.scenario, concurrency: scenario.concurrency, values: scenarioValues(scenario) })),
  };
}

function scenarioValues(scenario: ScenarioResult): Record<string, number | null> {
  const values: Record<string, number | null> = { errorRate: scenario.errorRate, throughputRps: scenario.throughputRps, requests: scenario.requests };
  const add = (prefix: string, summary: Summary | null) => {
    for (const stat of ['p50', 'p95', 'p99', 'max', 'mean'] as const) values[`${prefix}.${stat}`] = summary?.[stat] ?? null;
  };
  add('client', scenario.client);
  add('server.embedMs', scenario.server.embedMs);
  add('server.searchMs', scenario.server.searchMs);
  add('server.rerankMs', scenario.server.rerankMs);
  add('server.totalMs', scenario.server.totalMs);
  return values;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

const SCENARIO_LABELS: Record<ScenarioId, string> = {
  keyword: 'keyword (BM25)',
  dense: 'dense',
  hybrid: 'hybrid = embed + hybrid search',
  'hybrid-rerank': 'hybrid + rerank (LATENCY-ONLY model)',
  'hybrid-rerank-sweep': 'hybrid + rerank',
  'hybrid-cached': 'hybrid, embedding-cache hit',
};

/** The query-path issue's reranked p95 target, used for the budget arithmetic in the summary. */
const RERANK_TARGET_MS = 100;

const ms = (value: number | null | undefined) => (value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(1));
const count = (value: number) => value.toLocaleString('en-US');

/** The Markdown summary: budgets first, then per-size tables, model overhead, memory and the chart. */
export function renderLatencyMarkdown(report: LatencyReport, chartFile: string): string {
  const lines: string[] = [];
  const env = report.environment;
  lines.push(`# Latency benchmark${report.short ? ' (short, CI)' : ''}`, '');
  lines.push(
    `${report.createdAt} · ${report.durationSeconds.toFixed(0)} s · commit \`${env.gitCommit.slice(0, 12)}\`${env.gitDirty ? ' (dirty tree)' : ''} · node ${env.node} · ${env.cpus} × ${env.cpuModel} · load average ${env.loadAverageAtStart.map((value) => value.toFixed(2)).join(' ')} at start, ${env.loadAverageAtEnd.map((value) => value.toFixed(2)).join(' ')} at end`,
    '',
  );
  lines.push(
    `- Service started as \`${report.service.startedAs}\` on the embedded default (LanceDB in DATA_DIR, in-process queue); ${Object.entries(report.service.settings).map(([key, value]) => `${key}=${value}`).join(', ')}.`,
    `- **Reranking uses \`${report.service.rerank.model}\`, a LATENCY-ONLY cross-encoder: its timings are real, its relevance scores are meaningless. No quality number comes from it.** Candidates: ${report.service.rerank.candidates} (RERANK_CANDIDATES default).`,
    '- Cold scenarios run with EMBED_CACHE_SIZE=0, so every request pays the embedding model; `hybrid-cached` is a separate service with the default cache, measuring repeated queries (cache-hit path).',
    `- ${report.options.queries} queries per scenario at most, ${report.options.maxSecondsPerPhase} s at most, after ${report.options.warmup} warm-up requests that are not counted; topK=${report.options.topK}. Queries come from a pool of ${count(report.queryPool.size)} (${Object.entries(report.queryPool.byOrigin).map(([origin, n]) => `${n} ${origin}`).join(', ')})${report.queryPool.reused ? '; the pool ran out and queries were reused' : ', none repeated across scenarios'}.`,
    '- client = HTTP round trip measured by the bench; embed/search/rerank/total = server-side stage times from the response `timings`. All in milliseconds.',
    '',
  );

  if (report.budgets) {
    lines.push(`## Budgets (${report.budgets.file}): ${report.budgets.passed ? 'passed' : '**FAILED**'}`, '');
    lines.push('| kind | budget | where | metric | limit | measured | status |', '| --- | --- | --- | --- | --- | ---: | --- |');
    for (const result of report.budgets.results) {
      const limit = result.limit.max !== undefined ? `≤ ${result.limit.max}` : `≥ ${result.limit.min}`;
      const status = result.status === 'pass' ? 'ok' : result.kind === 'target' ? `missed${report.budgets.enforceTargets ? '' : ' (reported only)'}` : `**${result.status}**`;
      lines.push(`| ${result.kind} | ${result.id} | ${result.where} | ${result.metric} | ${limit} | ${result.measured ?? '–'} | ${status} |`);
    }
    lines.push('');
  }

  for (const size of report.sizes) {
    lines.push(`## ${count(size.chunks)} chunks (target ${count(size.targetChunks)})`, '');
    lines.push(
      `${size.documents.pages} real pages (${count(size.chunksByKind.pages)} chunks) + ${size.documents.synthetic} documents recombined from real sentences (${count(size.chunksByKind.synthetic)} chunks). ` +
        (size.corpus.cacheUsed ? `Loaded from the cache (\`${size.corpus.cacheKey}\`, ingested earlier in ${size.corpus.ingestSeconds} s).` : `Ingested in this run: ${size.corpus.ingestSeconds} s, ${size.corpus.ingestChunksPerSecond} chunks/s; now cached as \`${size.corpus.cacheKey}\`.`),
      '',
    );
    lines.push(
      '| scenario | clients | requests | req/s | client p50 | p95 | p99 | max | embed p50 | search p50 | search p95 | rerank p50 | rerank p95 | total p50 | total p95 | total p99 | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const scenario of size.scenarios) {
      const server = scenario.server;
      lines.push(
        `| ${SCENARIO_LABELS[scenario.scenario]}${scenario.candidates !== undefined ? `, ${scenario.candidates} candidates` : ''} | ${scenario.concurrency} | ${scenario.requests}${scenario.stoppedBy === 'time' ? ' (time cap)' : ''} | ${scenario.throughputRps} | ${ms(scenario.client?.p50)} | ${ms(scenario.client?.p95)} | ${ms(scenario.client?.p99)} | ${ms(scenario.client?.max)} | ${ms(server.embedMs?.p50)} | ${ms(server.searchMs?.p50)} | ${ms(server.searchMs?.p95)} | ${scenario.rerank ? ms(server.rerankMs?.p50) : '–'} | ${scenario.rerank ? ms(server.rerankMs?.p95) : '–'} | ${ms(server.totalMs?.p50)} | ${ms(server.totalMs?.p95)} | ${ms(server.totalMs?.p99)} | ${scenario.errors}${scenario.errorExamples.length > 0 ? ` (${scenario.errorExamples[0]?.slice(0, 80)})` : ''} |`,
      );
    }
    lines.push('');
  }

  for (const size of report.sizes) {
    if (!size.throughput) continue;
    lines.push(`## Throughput against the ideal, hybrid, ${count(size.chunks)} chunks`, '', ...renderThroughputMarkdown(size.throughput));
  }

  const raw = report.rawModel;
  lines.push('## Raw model cost vs the service stages', '');
  lines.push(
    `Raw = ${raw.method}. Embedding: \`${raw.embedModel}\` (${raw.embedDtype}), one \`embed\` (tokenise + one ONNX forward + pooling) per query of the \`hybrid\` scenario. Reranking: LATENCY-ONLY \`${raw.rerankModel}\` (${raw.rerankDtype}), one \`score\` over the ${raw.rerankCandidates} candidates the service reranked for the same query, each pair cut to ${raw.rerankMaxTokens} tokens (RERANK_MAX_TOKENS). Ratio = service p50 / raw p50 (1.0: the service adds nothing).`,
    '',
    '| corpus chunks | raw embed p50 | raw embed p95 | service embed p50 | service embed p95 | ratio | raw rerank p50 | per pair | service rerank p50 | service rerank p95 | ratio |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const size of report.sizes) {
    const embed = size.embedOverhead;
    const rerank = size.rerankOverhead;
    lines.push(
      `| ${count(size.chunks)} | ${ms(embed?.raw.p50)} | ${ms(embed?.raw.p95)} | ${ms(embed?.serviceEmbedP50Ms)} | ${ms(embed?.serviceEmbedP95Ms)} | ${embed ? `${embed.ratio.toFixed(2)}×` : '–'} | ${ms(rerank?.raw.p50)} | ${ms(rerank?.perPairP50Ms)} | ${ms(rerank?.serviceRerankP50Ms)} | ${ms(rerank?.serviceRerankP95Ms)} | ${rerank ? `${rerank.ratio.toFixed(2)}×` : '–'} |`,
    );
  }
  lines.push('');
  const largest = report.sizes[report.sizes.length - 1];
  const retrievalP95 = largest?.scenarios.find((scenario) => scenario.scenario === 'hybrid' && scenario.concurrency === 1)?.server.totalMs?.p95;
  if (largest?.rerankOverhead && retrievalP95 !== undefined) {
    const perPair = largest.rerankOverhead.perPairP50Ms;
    const room = RERANK_TARGET_MS - retrievalP95;
    const fits = perPair > 0 ? Math.max(0, Math.floor(room / perPair)) : 0;
    lines.push(
      `Rerank budget arithmetic at ${count(largest.chunks)} chunks: one (query, passage) pair costs ${ms(perPair)} ms in the raw cross-encoder (p50), so the default ${raw.rerankCandidates} candidates cost about ${ms(perPair * raw.rerankCandidates)} ms of model time alone, before any retrieval. ` +
        `With retrieval p95 at ${ms(retrievalP95)} ms, a ${RERANK_TARGET_MS} ms reranked p95 leaves room for about ${fits} candidate${fits === 1 ? '' : 's'} with this model on this machine.`,
      '',
    );
  }

  lines.push('## Service memory and disk (MiB; RSS from /proc/<pid>/status)', '');
  lines.push(
    '| corpus chunks | RSS after ingest | RSS after load + warm-up | RSS after the run | peak RSS (VmHWM) | reranker workers: RSS after the run / peak (summed) | DATA_DIR after ingest | DATA_DIR compacted |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const size of report.sizes) {
    const memory = size.memory;
    lines.push(
      `| ${count(size.chunks)} | ${ms(memory.afterIngest?.rssMb)} | ${ms(memory.afterLoad?.rssMb)} | ${ms(memory.afterRun?.rssMb)} | ${ms(memory.afterRun?.peakRssMb)} | ${memory.afterRun?.children ? `${ms(memory.afterRun.children.rssMb)} / ${ms(memory.afterRun.children.peakRssMb)} (${memory.afterRun.children.count})` : '–'} | ${ms(size.corpus.diskMbAfterIngest)} | ${ms(size.corpus.diskMbCompacted)} |`,
    );
  }
  lines.push('', `![p50/p95 against corpus size](${chartFile})`, '');
  return `${lines.join('\n')}\n`;
}

/** SVG: single-client p50/p95 HTTP round trip against corpus size, with the issue's budgets as reference lines. */
export function renderLatencyChart(report: LatencyReport): string {
  const series = (scenario: ScenarioId, stat: 'p50' | 'p95', color: string, dashed: boolean) => ({
    name: `${scenario} ${stat}`,
    color,
    dashed,
    points: report.sizes.flatMap((size) => {
      const result = size.scenarios.find((candidate) => candidate.scenario === scenario && candidate.concurrency === 1);
      return result?.client ? [{ x: size.chunks, y: result.client[stat] }] : [];
    }),
  });
  return renderLineChart({
    title: 'Search latency, HTTP round trip, one client',
    xLabel: 'corpus size (chunks, log scale)',
    yLabel: 'milliseconds (log scale)',
    yScale: 'log',
    series: [
      series('hybrid', 'p50', '#1f77b4', false),
      series('hybrid', 'p95', '#1f77b4', true),
      series('hybrid-rerank', 'p50', '#d62728', false),
      series('hybrid-rerank', 'p95', '#d62728', true),
      series('keyword', 'p50', '#2ca02c', false),
      series('keyword', 'p95', '#2ca02c', true),
    ],
    references: [
      { label: 'hybrid p95 target 20 ms', y: 20, color: '#1f77b4' },
      { label: 'rerank p95 target 100 ms', y: 100, color: '#d62728' },
    ],
  });
}
