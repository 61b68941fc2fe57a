import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServiceClient } from './http-client.js';
import { PYTHON_DOCS_ROOT, type PageText } from './python-docs.js';
import type { SyntheticDocument } from './synthetic-documents.js';

/**
 * Loads a corpus through the service's real ingestion path: HTML pages as multipart uploads (document id = the
 * page's relative path), generated documents as JSON text. A few jobs stay in flight so the service's workers
 * are never idle, and the corpus stops growing once it reaches the requested number of chunks.
 */

/** One document to ingest. */
export type CorpusItem =
  | { kind: 'page'; page: PageText }
  | { kind: 'synthetic'; document: SyntheticDocument };

/** What a load produced. */
export interface LoadOutcome {
  chunks: number;
  documents: { pages: number; synthetic: number };
  chunksByKind: { pages: number; synthetic: number };
  failed: { documentId: string; error: string }[];
  seconds: number;
  /** Jobs still running when `stop` ended the load (absent when it did not). */
  abandoned?: number;
}

/** Options of `loadCorpus`. */
export interface LoadCorpusOptions {
  client: ServiceClient;
  collection: string;
  /** Real pages, in the order they are ingested. */
  pages: readonly PageText[];
  /** Makes the documents used once the pages are exhausted; called at most once, and only if needed. */
  synthetic?: (() => Iterator<SyntheticDocument>) | undefined;
  /** Stop adding documents at about this many chunks; omit to ingest every page. */
  targetChunks?: number | undefined;
  /** Jobs in flight at once. */
  window?: number;
  docsRoot?: string;
  /**
   * Once this returns true, submit nothing more and stop waiting: jobs still in flight are abandoned (counted in
   * `abandoned`), for a caller that stops the service next.
   */
  stop?: () => boolean;
  log: (line: string) => void;
}

/** Initial guess of visible characters per chunk (200-token chunks); refined from completed jobs. */
const INITIAL_CHARS_PER_CHUNK = 700;

/** Ingests until the target is reached (or every page is in); throws when more than 2% of the documents fail. */
export async function loadCorpus(options: LoadCorpusOptions): Promise<LoadOutcome> {
  const { client, collection, log } = options;
  const window = options.window ?? 4;
  const target = options.targetChunks ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const outcome: LoadOutcome = { chunks: 0, documents: { pages: 0, synthetic: 0 }, chunksByKind: { pages: 0, synthetic: 0 }, failed: [], seconds: 0 };
  const inFlight = new Map<string, { item: CorpusItem; chars: number; estimate: number }>();
  let completedChars = 0;
  let completedChunks = 0;
  const charsPerChunk = () => (completedChunks >= 20 ? completedChars / completedChunks : INITIAL_CHARS_PER_CHUNK);
  const inFlightEstimate = () => [...inFlight.values()].reduce((sum, job) => sum + job.estimate, 0);
  let pageIndex = 0;
  let synthetic: Iterator<SyntheticDocument> | undefined;
  let lastLog = performance.now();

  const nextItem = (): CorpusItem | undefined => {
    const planned = outcome.chunks + inFlightEstimate();
    if (planned >= target) return undefined;
    while (pageIndex < options.pages.length) {
      const page = options.pages[pageIndex++] as PageText;
      // A page that would overshoot a finite target by more than 5% is skipped; smaller pages may still fit.
      if (Number.isFinite(target) && planned + page.visibleChars / charsPerChunk() > target * 1.05) continue;
      return { kind: 'page', page };
    }
    if (!Number.isFinite(target) || !options.synthetic) return undefined;
    synthetic ??= options.synthetic();
    const next = synthetic.next();
    return next.done ? undefined : { kind: 'synthetic', document: next.value };
  };

  for (;;) {
    if (options.stop?.()) {
      outcome.abandoned = inFlight.size;
      break;
    }
    while (inFlight.size < window) {
      const item = nextItem();
      if (!item) break;
      const chars = item.kind === 'page' ? item.page.visibleChars : item.document.text.length;
      const jobId = await submit(client, collection, item, options.docsRoot ?? PYTHON_DOCS_ROOT);
      inFlight.set(jobId, { item, chars, estimate: Math.max(1, Math.round(chars / charsPerChunk())) });
    }
    if (inFlight.size === 0) break;
    await sleep(100);
    for (const [jobId, job] of inFlight) {
      const status = await client.job(jobId);
      if (status.state !== 'completed' && status.state !== 'failed') continue;
      inFlight.delete(jobId);
      const documentId = job.item.kind === 'page' ? job.item.page.page : job.item.document.documentId;
      if (status.state === 'failed') {
        outcome.failed.push({ documentId, error: `${status.error?.code ?? 'UNKNOWN'}: ${status.error?.message ?? ''}` });
        log(`  ! ${documentId} failed: ${status.error?.code} ${status.error?.message ?? ''}`);
        continue;
      }
      const chunks = status.chunks ?? 0;
      outcome.chunks += chunks;
      completedChunks += chunks;
      completedChars += job.chars;
      const kind = job.item.kind === 'page' ? 'pages' : 'synthetic';
      outcome.documents[kind] += 1;
      outcome.chunksByKind[kind] += chunks;
    }
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      const seconds = (performance.now() - started) / 1000;
      const goal = Number.isFinite(target) ? `/${target}` : '';
      log(`  ingested ${outcome.chunks}${goal} chunks from ${outcome.documents.pages + outcome.documents.synthetic} documents in ${seconds.toFixed(0)} s (${(outcome.chunks / seconds).toFixed(0)} chunks/s)`);
    }
  }
  outcome.seconds = Math.round((performance.now() - started) / 100) / 10;
  const total = outcome.documents.pages + outcome.documents.synthetic + outcome.failed.length;
  if (outcome.failed.length > Math.max(1, total * 0.02)) {
    throw new Error(`${outcome.failed.length} of ${total} documents failed to ingest, e.g. ${outcome.failed.slice(0, 3).map((failure) => `${failure.documentId}: ${failure.error}`).join('; ')}`);
  }
  return outcome;
}

async function submit(client: ServiceClient, collection: string, item: CorpusItem, docsRoot: string): Promise<string> {
  if (item.kind === 'synthetic') return client.ingestText(collection, item.document);
  const bytes = await readFile(path.join(docsRoot, item.page.page));
  return client.uploadFile(collection, { bytes, fileName: path.posix.basename(item.page.page), contentType: 'text/html', documentId: item.page.page });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
