import { SingleBar } from 'cli-progress';
import pLimit from 'p-limit';
import { SUPPORTED_EXTENSIONS } from '../ingest/parsers/index.js';
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
  indexed: number;
  unchanged: number;
  failed: number;
  chunks: number;
  seconds: number;
  chunksPerSecond: number;
  failures: Failure[];
}

/** Uploads every file, waits for each job, prints a summary; returns the process exit code (1 if anything failed). */
export async function runIngestCommand(options: IngestCommandOptions): Promise<number> {
  const extensions = new Set((options.ext ? options.ext.split(',') : SUPPORTED_EXTENSIONS).map((ext) => (ext.startsWith('.') ? ext : `.${ext}`).toLowerCase()));
  if (options.metadata) {
    try {
      JSON.parse(options.metadata);
    } catch {
      console.error('--metadata must be a JSON object, e.g. \'{"team":"docs"}\'');
      return 2;
    }
  }
  const files = await collectFiles(options.paths, extensions);
  if (files.length === 0) {
    console.error(`No files with a supported extension (${[...extensions].join(' ')}) under ${options.paths.join(' ')}`);
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
  const summary: IngestSummary = { collection: options.collection, documents: files.length, indexed: 0, unchanged: 0, failed: 0, chunks: 0, seconds: 0, chunksPerSecond: 0, failures: [] };
  const bar = new SingleBar({
    format: 'ingest |{bar}| {percentage}% | {value}/{total} documents | {chunks} chunks | {failed} failed | ETA {eta_formatted}',
    noTTYOutput: true,
    notTTYSchedule: 10_000,
    etaBuffer: 50,
    stream: process.stderr,
  });
  bar.start(files.length, 0, { chunks: 0, failed: 0 });

  const limit = pLimit(options.concurrency);
  await Promise.all(
    files.map((file) =>
      limit(async () => {
        const outcome = await ingestOne(client, options, file, deadline);
        if ('failure' in outcome) {
          summary.failed += 1;
          summary.failures.push(outcome.failure);
        } else {
          summary.chunks += outcome.chunks;
          if (outcome.unchanged) summary.unchanged += 1;
          else summary.indexed += 1;
        }
        bar.increment(1, { chunks: summary.chunks, failed: summary.failed });
      }),
    ),
  );
  bar.stop();

  summary.seconds = Math.round((Date.now() - started) / 100) / 10;
  summary.chunksPerSecond = Math.round((summary.chunks / Math.max(summary.seconds, 0.1)) * 10) / 10;
  printSummary(summary, options.json === true);
  return summary.failed > 0 ? 1 : 0;
}

async function ingestOne(
  client: ServiceClient,
  options: IngestCommandOptions,
  file: FileToIngest,
  deadline: number,
): Promise<{ chunks: number; unchanged: boolean } | { failure: Failure }> {
  try {
    const jobId = await client.upload({ collection: options.collection, filePath: file.path, documentId: file.documentId, metadata: options.metadata });
    let delay = 200;
    for (;;) {
      const job = await client.job(jobId);
      if (job.state === 'completed') return { chunks: job.chunks ?? 0, unchanged: job.unchanged === true };
      if (job.state === 'failed') return { failure: { documentId: file.documentId, code: job.error?.code ?? 'FAILED', message: job.error?.message ?? 'failed' } };
      if (Date.now() > deadline) return { failure: { documentId: file.documentId, code: 'TIMEOUT', message: `job ${jobId} still ${job.state} at the --timeout` } };
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 1.5, 2000);
    }
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
    `\n${summary.documents} documents → ${summary.indexed} indexed, ${summary.unchanged} unchanged, ${summary.failed} failed; ` +
      `${summary.chunks} chunks in ${summary.seconds} s (${summary.chunksPerSecond} chunks/s) into '${summary.collection}'`,
  );
  for (const failure of summary.failures.slice(0, 50)) console.log(`  FAILED ${failure.documentId}: [${failure.code}] ${failure.message}`);
  if (summary.failures.length > 50) console.log(`  … and ${summary.failures.length - 50} more (use --json for all)`);
}
