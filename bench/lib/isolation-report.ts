import type { CheckResult, SizeMeasurements } from './budgets.js';
import type { PhaseResult, SearchDuringIngestResult } from './search-during-ingest.js';
import type { Summary } from './stats.js';

/**
 * The isolation report (`kind: 'isolation'`): search and /healthz idle and during bulk ingestion, side by side, with
 * the budgets of bench/budgets.json's `isolation` section. JSON schema documented in bench/README.md.
 */

/** Bumped on any change that is not purely additive. */
export const ISOLATION_SCHEMA_VERSION = 1;

/** Scenario name budgets use for this measurement. */
export const SEARCH_DURING_INGEST = 'search-during-ingest';

/** The whole isolation report. */
export interface IsolationReport {
  schemaVersion: typeof ISOLATION_SCHEMA_VERSION;
  kind: 'isolation';
  short: boolean;
  createdAt: string;
  durationSeconds: number;
  command: string[];
  environment: { node: string; cores: number; cpuModel: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[]; gitCommit: string };
  service: { startedAs: string; settings: Record<string, string | number> };
  corpus: { chunks: number; cacheKey: string; cacheUsed: boolean };
  options: { pages: number; uploadsInFlight: number; idleRequests: number; maxIngestSeconds: number; topK: number; seed: number };
  searchDuringIngest: SearchDuringIngestResult;
  budgets: { file: string; enforceTargets: boolean; passed: boolean; results: CheckResult[] } | null;
}

/** The named values budgets refer to (`idle.search.client.p95`, `ingest.healthz.p99`, `ratio.searchClientP95` …). */
export function isolationMeasurements(report: Pick<IsolationReport, 'corpus' | 'searchDuringIngest'>): SizeMeasurements {
  const result = report.searchDuringIngest;
  const values: Record<string, number | null> = {
    ...phaseValues('idle', result.idle),
    ...phaseValues('ingest', result.ingest),
    'ratio.searchClientP50': result.ratios.searchClientP50,
    'ratio.searchClientP95': result.ratios.searchClientP95,
    'ratio.serverTotalP95': result.ratios.serverTotalP95,
    'upload.chunksPerSecond': result.upload.chunksPerSecond,
    'upload.failed': result.upload.failed,
  };
  return { targetChunks: report.corpus.chunks, chunks: report.corpus.chunks, values: {}, runs: [{ scenario: SEARCH_DURING_INGEST, concurrency: 1, values }] };
}

function phaseValues(phase: 'idle' | 'ingest', result: PhaseResult): Record<string, number | null> {
  const values: Record<string, number | null> = {
    [`${phase}.search.requests`]: result.search.requests,
    [`${phase}.search.errorRate`]: result.search.errorRate,
    [`${phase}.healthz.errors`]: result.healthz.errors,
  };
  const add = (prefix: string, summary: Summary | null) => {
    for (const stat of ['p50', 'p95', 'p99', 'max'] as const) values[`${prefix}.${stat}`] = summary?.[stat] ?? null;
  };
  add(`${phase}.search.client`, result.search.client);
  add(`${phase}.search.serverTotal`, result.search.server.totalMs);
  add(`${phase}.healthz`, result.healthz.latencyMs);
  return values;
}

const ms = (value: number | null | undefined) => (value === null || value === undefined ? '–' : value.toFixed(1));
const times = (value: number | null) => (value === null ? '–' : `${value.toFixed(2)}×`);

/** Markdown: budgets, then idle and during-ingestion side by side with the ratio. */
export function renderIsolationMarkdown(report: IsolationReport): string {
  const env = report.environment;
  const result = report.searchDuringIngest;
  const { idle, ingest, upload } = result;
  const row = (name: string, pick: (phase: PhaseResult) => number | null | undefined, ratioValue: number | null) => `| ${name} | ${ms(pick(idle))} | ${ms(pick(ingest))} | ${times(ratioValue)} |`;
  const lines = [
    `# Isolation benchmark: search during bulk ingestion${report.short ? ' (short, CI)' : ''}`,
    '',
    `${report.createdAt} · ${report.durationSeconds} s · commit \`${env.gitCommit.slice(0, 12)}\` · node ${env.node} · ${env.cores} × ${env.cpuModel} · load average ${env.loadAverageAtStart.join(' ')} at start, ${env.loadAverageAtEnd.join(' ')} at end (shared machine: compare ratios, not absolute times, across runs)`,
    '',
    `- Service \`${report.service.startedAs}\` on the embedded default, ${Object.entries(report.service.settings).map(([key, value]) => `${key}=${value}`).join(', ')}; searched corpus: ${report.corpus.chunks} chunks in '${result.searchCollection}' (${report.corpus.cacheUsed ? 'from the cache' : 'ingested in this run'}).`,
    `- One closed-loop client sends hybrid searches (topK=${report.options.topK}, embedding cache off: every search runs the model) while a prober sends GET /healthz every 20 ms. Idle: ${idle.search.requests} searches. During ingestion: ${upload.pagesOffered} Python doc pages uploaded into '${result.uploadCollection}' with ${result.uploadsInFlight} uploads in flight; searches run until the last page is ingested (or ${report.options.maxIngestSeconds} s).`,
    `- Ingested ${upload.pagesIngested} of ${upload.pagesOffered} pages (${upload.failed} failed${upload.abandoned > 0 ? `, ${upload.abandoned} still in flight at the time cap` : ''}), ${upload.chunks} chunks in ${upload.seconds} s = ${upload.chunksPerSecond} chunks/s while searches ran.`,
    '',
  ];
  if (report.budgets) {
    lines.push(`## Budgets (${report.budgets.file}): ${report.budgets.passed ? 'passed' : '**FAILED**'}`, '', '| kind | budget | metric | limit | measured | status |', '| --- | --- | --- | --- | ---: | --- |');
    for (const check of report.budgets.results) {
      const limit = check.limit.max !== undefined ? `≤ ${check.limit.max}` : `≥ ${check.limit.min}`;
      const status = check.status === 'pass' ? 'ok' : check.kind === 'target' ? `missed${report.budgets.enforceTargets ? '' : ' (reported only)'}` : `**${check.status}**`;
      lines.push(`| ${check.kind} | ${check.id} | ${check.metric} | ${limit} | ${check.measured ?? '–'} | ${status} |`);
    }
    lines.push('');
  }
  lines.push(
    '## Idle vs during ingestion (milliseconds)',
    '',
    '| measurement | idle | during ingestion | ratio |',
    '| --- | ---: | ---: | ---: |',
    `| searches (requests) | ${idle.search.requests} | ${ingest.search.requests} | |`,
    row('search p50, client', (phase) => phase.search.client?.p50, result.ratios.searchClientP50),
    row('search p95, client', (phase) => phase.search.client?.p95, result.ratios.searchClientP95),
    row('search p99, client', (phase) => phase.search.client?.p99, null),
    row('search total p95, server', (phase) => phase.search.server.totalMs?.p95, result.ratios.serverTotalP95),
    row('search embed p95, server', (phase) => phase.search.server.embedMs?.p95, null),
    row('/healthz p50', (phase) => phase.healthz.latencyMs?.p50, null),
    row('/healthz p99', (phase) => phase.healthz.latencyMs?.p99, result.ratios.healthzP99),
    row('/healthz max', (phase) => phase.healthz.latencyMs?.max, null),
    `| errors (search / healthz) | ${idle.search.errors} / ${idle.healthz.errors} | ${ingest.search.errors} / ${ingest.healthz.errors} | |`,
    '',
  );
  return `${lines.join('\n')}\n`;
}
