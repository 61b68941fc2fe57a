import { loadCorpus, type LoadOutcome } from './corpus-loader.js';
import { startHealthProbe, type HealthProbeResult } from './health-probe.js';
import { ServiceClient } from './http-client.js';
import { runLoad, summarizeLoad, type LoadSummary, type Sample } from './load-loop.js';
import type { PageText } from './python-docs.js';

/**
 * Search while a content team uploads: the same single search client and /healthz prober against one running
 * service, first idle, then while Python doc pages are uploaded with several uploads in flight. Both phases run in
 * the same service and the same minute, so the ratio compares like with like on a shared machine.
 */

/** One phase: search as one closed-loop client sees it, /healthz as a prober sees it. */
export interface PhaseResult {
  search: LoadSummary;
  healthz: HealthProbeResult;
}

/** What the bulk upload of the busy phase did. */
export interface UploadOutcome {
  pagesOffered: number;
  pagesIngested: number;
  failed: number;
  chunks: number;
  seconds: number;
  chunksPerSecond: number;
  /** False when the busy phase hit its time cap: later pages were not submitted, those in flight abandoned. */
  allPagesIngested: boolean;
  /** Pages in flight when the time cap ended the phase. */
  abandoned: number;
}

/** Idle and busy phases with their ratios (busy ÷ idle). */
export interface SearchDuringIngestResult {
  searchCollection: string;
  uploadCollection: string;
  uploadsInFlight: number;
  idle: PhaseResult;
  ingest: PhaseResult;
  upload: UploadOutcome;
  ratios: { searchClientP50: number | null; searchClientP95: number | null; serverTotalP95: number | null; healthzP99: number | null };
}

/** Options of `measureSearchDuringIngest`. */
export interface SearchDuringIngestOptions {
  baseUrl: string;
  /** Collection holding the searched corpus. */
  searchCollection: string;
  /** Collection the pages are uploaded into (a separate one: the searched corpus and its size stay the same). */
  uploadCollection: string;
  queries: { warmup: string[]; idle: string[]; ingest: string[] };
  pages: readonly PageText[];
  uploadsInFlight: number;
  topK: number;
  /** Time cap of the busy phase: afterwards no page is submitted and those in flight are abandoned (the service is stopped next). */
  maxIngestSeconds: number;
  log: (line: string) => void;
}

/** Ratio rounded to 0.01; null without both values. */
export function ratio(busy: number | undefined, idle: number | undefined): number | null {
  return busy === undefined || idle === undefined || idle <= 0 ? null : Math.round((busy / idle) * 100) / 100;
}

/** Runs the idle phase, then the busy phase, on a service that is up and holds `searchCollection`. */
export async function measureSearchDuringIngest(options: SearchDuringIngestOptions): Promise<SearchDuringIngestResult> {
  const { log } = options;
  const search = new ServiceClient(options.baseUrl);
  const probe = new ServiceClient(options.baseUrl);
  const uploads = new ServiceClient(options.baseUrl);
  const send = async (query: string): Promise<Sample> => {
    const { response, clientMs } = await search.search(options.searchCollection, { query, topK: options.topK, mode: 'hybrid', rerank: false });
    return { ok: true, clientMs, server: response.timings };
  };
  try {
    await runLoad({ queries: options.queries.warmup, concurrency: 1, maxRequests: options.queries.warmup.length, maxDurationMs: 60_000, send });

    const idleProbe = startHealthProbe(probe);
    const idleRun = await runLoad({ queries: options.queries.idle, concurrency: 1, maxRequests: options.queries.idle.length, maxDurationMs: 60_000, send });
    const idle: PhaseResult = { search: summarizeLoad(idleRun), healthz: await idleProbe.stop() };
    log(`  idle: ${describePhase(idle)}`);

    log(`  uploading ${options.pages.length} pages into '${options.uploadCollection}', ${options.uploadsInFlight} in flight, searching meanwhile`);
    let ingestDone = false;
    const deadline = performance.now() + options.maxIngestSeconds * 1000;
    const ingestion = loadCorpus({
      client: uploads,
      collection: options.uploadCollection,
      pages: options.pages,
      window: options.uploadsInFlight,
      stop: () => performance.now() > deadline,
      log,
    }).finally(() => {
      ingestDone = true;
    });
    // The first uploads are still being received and parsed for a moment: start timing once they are queued.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const busyProbe = startHealthProbe(probe);
    const busyRun = await runLoad({ queries: options.queries.ingest, concurrency: 1, maxRequests: Number.MAX_SAFE_INTEGER, maxDurationMs: options.maxIngestSeconds * 1000, stop: () => ingestDone, send });
    const ingest: PhaseResult = { search: summarizeLoad(busyRun), healthz: await busyProbe.stop() };
    const loaded = await ingestion;
    log(`  during ingestion: ${describePhase(ingest)}`);
    const upload = uploadOutcome(options.pages.length, loaded);
    log(`  ingested ${upload.pagesIngested}/${upload.pagesOffered} pages, ${upload.chunks} chunks in ${upload.seconds} s (${upload.chunksPerSecond} chunks/s)`);
    return {
      searchCollection: options.searchCollection,
      uploadCollection: options.uploadCollection,
      uploadsInFlight: options.uploadsInFlight,
      idle,
      ingest,
      upload,
      ratios: {
        searchClientP50: ratio(ingest.search.client?.p50, idle.search.client?.p50),
        searchClientP95: ratio(ingest.search.client?.p95, idle.search.client?.p95),
        serverTotalP95: ratio(ingest.search.server.totalMs?.p95, idle.search.server.totalMs?.p95),
        healthzP99: ratio(ingest.healthz.latencyMs?.p99, idle.healthz.latencyMs?.p99),
      },
    };
  } finally {
    search.close();
    probe.close();
    uploads.close();
  }
}

function uploadOutcome(pagesOffered: number, loaded: LoadOutcome): UploadOutcome {
  return {
    pagesOffered,
    pagesIngested: loaded.documents.pages,
    failed: loaded.failed.length,
    chunks: loaded.chunks,
    seconds: loaded.seconds,
    chunksPerSecond: loaded.seconds > 0 ? Math.round((loaded.chunks / loaded.seconds) * 10) / 10 : 0,
    allPagesIngested: loaded.documents.pages + loaded.failed.length === pagesOffered,
    abandoned: loaded.abandoned ?? 0,
  };
}

/** One log line: search p50/p95 and /healthz p50/p99. */
export function describePhase(phase: PhaseResult): string {
  const search = phase.search.client;
  const health = phase.healthz.latencyMs;
  const errors = phase.search.errors + phase.healthz.errors;
  return `${phase.search.requests} searches, client p50/p95 ${search?.p50 ?? '–'}/${search?.p95 ?? '–'} ms; ${phase.healthz.requests} /healthz, p50/p99 ${health?.p50 ?? '–'}/${health?.p99 ?? '–'} ms${errors > 0 ? `; ${errors} ERRORS ${phase.search.errorExamples[0] ?? ''}` : ''}`;
}
