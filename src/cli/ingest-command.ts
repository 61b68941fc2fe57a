import path from 'node:path';
import { SingleBar } from 'cli-progress';
import pLimit, { type LimitFunction } from 'p-limit';
import { SUPPORTED_EXTENSIONS } from '../ingest/parsers/index.js';
import { JobWatcher } from './job-watcher.js';
import { ChunkProgress, formatDuration } from './progress.js';
import { ServiceClient, ServiceError } from './service-client.js';
import { collectFiles, type FileToIngest } from './walk.js';

/** Options of `rag ingest`. */
export interface IngestCommandOptions {
  paths: string[];
  collection: string;
  url: string;
  apiKey?: string | undefined;
  metadata?: string | undefined;
  concurrency: number;
  ext?: string | undefined;
  /** Globs matched against paths relative to each folder given; matching files (or folders) are not uploaded. */
  exclude?: string[] | undefined;
  timeout: number;
  json?: boolean | undefined;
}

interface Failure {
  documentId: string;
  code: string;
  message: string;
}

/** What `rag ingest` prints at the end (and as JSON with --json). */
export interface IngestSummary {
  collection: string;
  documents: number;
  /** Supported files under the folders that --exclude left out (not counted in `documents`). */
  excluded: number;
  indexed: number;
  unchanged: number;
  failed: number;
  /** Chunks of every document that completed, unchanged ones included. */
  chunks: number;
  /** Chunks embedded and written by this run (documents indexed, not unchanged). */
  indexedChunks: number;
  seconds: number;
  /** indexedChunks per second of the whole run. */
  chunksPerSecond: number;
  failures: Failure[];
}

/**
 * Jobs uploaded and not yet finished, per upload slot (at least MIN_JOBS_IN_FLIGHT): uploads run ahead of the jobs so
 * the watcher can poll in rounds, but the queue and UPLOAD_DIR hold only a bounded number of this run's files.
 */
const JOBS_IN_FLIGHT_PER_UPLOAD = 8;
const MIN_JOBS_IN_FLIGHT = 32;

/** Uploads every file, waits for each job, prints a summary; returns the process exit code (1 if anything failed). */
export async function runIngestCommand(options: IngestCommandOptions): Promise<number> {
  const extensions = new Set((options.ext ? options.ext.split(',') : SUPPORTED_EXTENSIONS).map((ext) => (ext.startsWith('.') ? ext : `.${ext}`).toLowerCase()));
  if (options.metadata && !isJsonObject(options.metadata)) {
    console.error('--metadata must be a JSON object, e.g. \'{"team":"docs"}\'');
    return 2;
  }
  const exclude = options.exclude ?? [];
  if (exclude.length > 0 && typeof path.matchesGlob !== 'function') {
    console.error(`--exclude needs Node.js 20.17 or newer (path.matchesGlob); this is ${process.version}`);
    return 2;
  }
  const { files, excluded } = await collectFiles(options.paths, { extensions, exclude });
  if (files.length === 0) {
    const why = excluded > 0 ? ` (${excluded} excluded by --exclude)` : '';
    console.error(`No files with a supported extension (${[...extensions].join(' ')}) under ${options.paths.join(' ')}${why}`);
    return 2;
  }
  const client = new ServiceClient({ baseUrl: options.url, apiKey: options.apiKey });
  try {
    await client.ready();
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }

  const started = Date.now();
  const deadline = started + options.timeout * 1000;
  const summary: IngestSummary = {
    collection: options.collection,
    documents: files.length,
    excluded,
    indexed: 0,
    unchanged: 0,
    failed: 0,
    chunks: 0,
    indexedChunks: 0,
    seconds: 0,
    chunksPerSecond: 0,
    failures: [],
  };
  // The bar moves by (estimated) chunks, running jobs pro rata, so its ETA holds across small pages and large PDFs alike.
  const progress = new ChunkProgress(
    files.map((file) => ({ key: file.path, bytes: file.size, kind: path.extname(file.path).toLowerCase() })),
    started,
  );
  const bar = new SingleBar({
    format: 'ingest |{bar}| {percentage}% | {finished}/{documents} documents | {chunks} chunks | {failed} failed | {elapsed} elapsed | ETA {timeLeft}',
    noTTYOutput: true,
    notTTYSchedule: 10_000,
    stream: process.stderr,
  });
  let finished = 0;
  const payload = () => ({
    finished,
    documents: files.length,
    chunks: summary.chunks,
    failed: summary.failed,
    elapsed: formatDuration((Date.now() - started) / 1000),
    // Not `eta`: cli-progress fills that token itself (a document-count ETA in bare seconds).
    timeLeft: finished === files.length ? '0s' : formatDuration(progress.etaSeconds(Date.now())),
  });
  // The bar counts permille of the estimate, never backwards (ChunkProgress.fractionShown); the chunks token is real.
  const redraw = () => bar.update(Math.round(progress.fractionShown() * 1000), payload());
  console.error(`Ingesting ${files.length} files into '${options.collection}'${excluded > 0 ? ` (${excluded} excluded by --exclude)` : ''}`);
  bar.start(1000, 0, payload());

  const uploads = pLimit(options.concurrency);
  const jobsInFlight = pLimit(Math.max(MIN_JOBS_IN_FLIGHT, options.concurrency * JOBS_IN_FLIGHT_PER_UPLOAD));
  const watcher = new JobWatcher(client, { collection: options.collection });
  await Promise.all(
    files.map((file) =>
      jobsInFlight(async () => {
        const outcome = await ingestOne({ client, uploads, watcher }, options, file, deadline, (fraction) => {
          progress.update(file.path, fraction);
          redraw();
        });
        if ('failure' in outcome) {
          summary.failed += 1;
          summary.failures.push(outcome.failure);
        } else {
          summary.chunks += outcome.chunks;
          if (outcome.unchanged) summary.unchanged += 1;
          else {
            summary.indexed += 1;
            summary.indexedChunks += outcome.chunks;
          }
        }
        finished += 1;
        progress.finish(file.path, 'failure' in outcome ? undefined : outcome.chunks);
        redraw();
      }),
    ),
  );
  bar.stop();

  summary.seconds = Math.round((Date.now() - started) / 100) / 10;
  summary.chunksPerSecond = Math.round((summary.indexedChunks / Math.max(summary.seconds, 0.1)) * 10) / 10;
  printSummary(summary, options.json === true);
  return summary.failed > 0 ? 1 : 0;
}

async function ingestOne(
  { client, uploads, watcher }: { client: ServiceClient; uploads: LimitFunction; watcher: JobWatcher },
  options: IngestCommandOptions,
  file: FileToIngest,
  deadline: number,
  onProgress: (fraction: number) => void,
): Promise<{ chunks: number; unchanged: boolean } | { failure: Failure }> {
  try {
    const jobId = await uploads(() => client.upload({ collection: options.collection, filePath: file.path, documentId: file.documentId, metadata: options.metadata }));
    const job = await watcher.wait(jobId, { deadline, onProgress });
    if (job?.state === 'completed') return { chunks: job.chunks ?? 0, unchanged: job.unchanged === true };
    if (job?.state === 'failed') return { failure: { documentId: file.documentId, code: job.error?.code ?? 'FAILED', message: job.error?.message ?? 'failed' } };
    return { failure: { documentId: file.documentId, code: 'TIMEOUT', message: `job ${jobId} still ${job?.state ?? 'queued'} at the --timeout` } };
  } catch (error) {
    const code = error instanceof ServiceError ? error.code : 'CLIENT_ERROR';
    return { failure: { documentId: file.documentId, code, message: (error as Error).message } };
  }
}

function printSummary(summary: IngestSummary, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  console.log(
    `\n${summary.documents} documents${summary.excluded > 0 ? ` (${summary.excluded} files excluded)` : ''} → ${summary.indexed} indexed, ${summary.unchanged} unchanged, ${summary.failed} failed; ` +
      `${summary.chunks} chunks (${summary.indexedChunks} newly indexed) in ${summary.seconds} s (${summary.chunksPerSecond} chunks/s indexed) into '${summary.collection}'`,
  );
  for (const failure of summary.failures.slice(0, 50)) console.log(`  FAILED ${failure.documentId}: [${failure.code}] ${failure.message}`);
  if (summary.failures.length > 50) console.log(`  … and ${summary.failures.length - 50} more (use --json for all)`);
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
