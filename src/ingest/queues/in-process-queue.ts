import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError, RateLimitedError, ValidationError, toAppError } from '../../errors/index.js';
import type { Logger } from '../../logger.js';
import type { IngestJob, IngestQueue, IngestResult, JobState, JobStatus, UploadReferences } from '../types.js';
import { DOCUMENT_DELETED_SKIP, ingestJobSchema } from '../types.js';
import type { ProgressListener } from '../pipeline.js';
import { settlesWithin } from '../settles-within.js';

/** Runs one job; the pipeline in production. */
export type JobProcessor = (params: { job: IngestJob; onProgress: ProgressListener }) => Promise<IngestResult>;

/** Settings of the embedded runner. */
export interface InProcessQueueOptions {
  /** Folder for the job journal (one JSON file per job), so queued work survives a restart. */
  journalDir: string;
  concurrency: number;
  /** Attempts per job, first included, for retryable failures. */
  attempts: number;
  /** Base of the exponential backoff between attempts, in ms. */
  backoffMs: number;
  /** Waiting + running jobs above which enqueue answers OVERLOADED. */
  maxDepth: number;
  /** Finished jobs kept for GET /v1/jobs; older ones are forgotten (oldest first). */
  keepFinished?: number;
  /** How long deleteDocument waits for a running job of the document to stop, in ms; default 30 000. */
  deleteWaitMs?: number;
  /** Called after a job completes (e.g. to delete its upload). */
  onCompleted?: (job: IngestJob) => Promise<void>;
  /** Observes every state change (metrics). */
  onStateChange?: (state: JobState) => void;
}

interface Entry {
  status: JobStatus;
  job: IngestJob;
  /** Set by deleteDocument on the document's unfinished and failed jobs: the job must not index (kept in the journal). */
  cancelled?: boolean;
}

/** Thrown from the progress callback of a run whose document was deleted meanwhile; the run completes as skipped. */
class DocumentDeletedInterrupt extends Error {
  override readonly name = 'DocumentDeletedInterrupt';
}

/**
 * The embedded ingestion runner: jobs run in this process with bounded concurrency, retry with exponential
 * backoff when the failure is retryable, and never run two jobs of the same document at once.
 * Used when REDIS_URL is unset; BullMQ replaces it for scale-out.
 */
export class InProcessQueue implements IngestQueue, UploadReferences {
  private readonly entries = new Map<string, Entry>();
  private readonly waiting: string[] = [];
  private readonly busyDocuments = new Set<string>();
  /** The run of each busy document, so deleteDocument can wait for it. */
  private readonly runsByDocument = new Map<string, Promise<void>>();
  /** Documents with a deleteDocument in progress (count per document): none of their jobs starts meanwhile. */
  private readonly deletingDocuments = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The last journal write of each entry (see persist). */
  private readonly persisting = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly processor: JobProcessor,
    private readonly options: InProcessQueueOptions,
    private readonly logger: Logger,
  ) {}

  /** Reloads unfinished jobs from the journal (jobs that were running when the process died run again). */
  async start(): Promise<void> {
    await mkdir(this.options.journalDir, { recursive: true });
    const files = (await readdir(this.options.journalDir)).filter((name) => name.endsWith('.json'));
    const loaded: Entry[] = [];
    for (const file of files) {
      try {
        const entry = JSON.parse(await readFile(path.join(this.options.journalDir, file), 'utf8')) as Entry;
        entry.job = ingestJobSchema.parse(entry.job);
        loaded.push(entry);
      } catch (error) {
        this.logger.warn({ err: error, file }, 'skipping unreadable job journal entry');
      }
    }
    loaded.sort((a, b) => a.status.createdAt.localeCompare(b.status.createdAt));
    for (const entry of loaded) {
      if (entry.status.state === 'active') entry.status = { ...entry.status, state: 'queued', stage: undefined, progress: 0 };
      this.entries.set(entry.status.jobId, entry);
      if (entry.status.state === 'queued') this.waiting.push(entry.status.jobId);
    }
    if (this.waiting.length > 0) this.logger.info({ jobs: this.waiting.length }, 'resuming unfinished ingestion jobs');
    this.pump();
  }

  async enqueue(params: { jobs: IngestJob[] }): Promise<{ jobId: string; documentId: string }[]> {
    if (this.closed) throw new RateLimitedError('OVERLOADED', 'The service is shutting down; retry shortly', 5);
    const depth = await this.depth();
    if (depth + params.jobs.length > this.options.maxDepth) {
      throw new RateLimitedError('OVERLOADED', `The ingestion queue is full (${depth} jobs waiting or running; limit MAX_QUEUE_DEPTH=${this.options.maxDepth}); retry later`, 30, {
        details: { depth, maxDepth: this.options.maxDepth },
      });
    }
    const refs: { jobId: string; documentId: string }[] = [];
    for (const job of params.jobs) {
      const jobId = randomUUID();
      const status: JobStatus = {
        jobId,
        documentId: job.documentId,
        collection: job.collection,
        source: job.source,
        state: 'queued',
        progress: 0,
        attempts: 0,
        createdAt: new Date().toISOString(),
      };
      const entry = { status, job };
      this.entries.set(jobId, entry);
      await this.persist(entry);
      this.waiting.push(jobId);
      this.options.onStateChange?.('queued');
      refs.push({ jobId, documentId: job.documentId });
    }
    this.forgetOldFinished();
    this.pump();
    return refs;
  }

  async getJob(params: { jobId: string }): Promise<JobStatus | null> {
    return this.entries.get(params.jobId)?.status ?? null;
  }

  async listJobs(params: { state?: JobState; limit?: number; collections?: readonly string[] | undefined }): Promise<JobStatus[]> {
    const limit = params.limit ?? 100;
    const collections = params.collections ? new Set(params.collections) : undefined;
    return [...this.entries.values()]
      .map((entry) => entry.status)
      .filter((status) => params.state === undefined || status.state === params.state)
      .filter((status) => collections === undefined || collections.has(status.collection))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit);
  }

  async retryJob(params: { jobId: string }): Promise<JobStatus> {
    const entry = this.entries.get(params.jobId);
    if (!entry) throw new NotFoundError('job', params.jobId);
    if (entry.status.state !== 'failed') {
      throw new ValidationError(`Job '${params.jobId}' is ${entry.status.state}; only failed jobs can be retried`, { code: 'JOB_NOT_FAILED' });
    }
    entry.status = { ...entry.status, state: 'queued', progress: 0, stage: undefined, error: undefined, attempts: 0, finishedAt: undefined };
    await this.persist(entry);
    this.waiting.push(params.jobId);
    this.options.onStateChange?.('queued');
    this.pump();
    return entry.status;
  }

  async depth(): Promise<number> {
    return this.waiting.length + this.busyDocuments.size;
  }

  async uploadsInUse(): Promise<Set<string>> {
    const names = new Set<string>();
    for (const { status, job } of this.entries.values()) {
      if (status.state !== 'completed' && job.filePath !== undefined) names.add(path.basename(job.filePath));
    }
    return names;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([...this.running]);
  }

  /** Resolves once nothing is waiting or running (tests and the CLI use it). */
  async drain(): Promise<void> {
    while (this.waiting.length > 0 || this.running.size > 0 || this.timers.size > 0) {
      await Promise.race([...this.running, new Promise((resolve) => setTimeout(resolve, 20))]);
    }
  }

  private pump(): void {
    if (this.closed) return;
    while (this.running.size < this.options.concurrency) {
      const index = this.waiting.findIndex((jobId) => {
        const entry = this.entries.get(jobId);
        if (entry === undefined) return false;
        const key = documentKey(entry.job);
        return !this.busyDocuments.has(key) && !this.deletingDocuments.has(key);
      });
      if (index === -1) return;
      const [jobId] = this.waiting.splice(index, 1);
      const entry = this.entries.get(jobId as string) as Entry;
      const key = documentKey(entry.job);
      const run = this.runEntry(entry).finally(() => {
        this.running.delete(run);
        if (this.runsByDocument.get(key) === run) this.runsByDocument.delete(key);
        this.pump();
      });
      this.running.add(run);
      this.runsByDocument.set(key, run);
    }
  }

  /**
   * Deletes the document's chunks with no job of it running. Order, all within this one process: (1) mark the
   * document as being deleted, so pump() starts none of its jobs; (2) complete its queued jobs as skipped and flag
   * its running and failed ones (a flagged run throws at its next progress point, before the store write that
   * follows the `upsert` progress, and a flagged failed job completes as skipped if retried); (3) wait for the
   * running job to end; (4) delete the chunks; (5) unmark, so jobs enqueued since step 1 run now, after the delete.
   * A run that wrote before step 2 has its chunks removed by step 4, and reports skipped as well.
   */
  async deleteDocument(params: { collection: string; documentId: string; deleteChunks: () => Promise<number> }): Promise<{ deletedChunks: number; cancelledJobs: number }> {
    const key = documentKey(params);
    this.deletingDocuments.set(key, (this.deletingDocuments.get(key) ?? 0) + 1);
    try {
      // Steps 1 and 2 run without an await, so no other code of this process sees them half done.
      let cancelledJobs = 0;
      const settled: Entry[] = [];
      const flagged: Entry[] = [];
      for (const entry of this.entries.values()) {
        const { state } = entry.status;
        if (documentKey(entry.job) !== key || state === 'completed') continue;
        entry.cancelled = true;
        if (state !== 'failed') cancelledJobs += 1; // a failed job is not pending; it is only kept from indexing if retried
        if (state === 'queued') {
          const index = this.waiting.indexOf(entry.status.jobId);
          if (index !== -1) this.waiting.splice(index, 1);
          this.markCancelled(entry);
          settled.push(entry);
        } else {
          flagged.push(entry);
        }
      }
      await Promise.all([...settled.map((entry) => this.afterCancelled(entry)), ...flagged.map((entry) => this.persist(entry))]);
      await this.waitForRun(key, params.documentId);
      return { deletedChunks: await params.deleteChunks(), cancelledJobs };
    } finally {
      const count = (this.deletingDocuments.get(key) ?? 1) - 1;
      if (count > 0) this.deletingDocuments.set(key, count);
      else this.deletingDocuments.delete(key);
      this.pump();
    }
  }

  /** Resolves when no job of the document runs; throws OVERLOADED after deleteWaitMs. */
  private async waitForRun(key: string, documentId: string): Promise<void> {
    const waitMs = this.options.deleteWaitMs ?? 30_000;
    const deadline = Date.now() + waitMs;
    for (let run = this.runsByDocument.get(key); run !== undefined; run = this.runsByDocument.get(key)) {
      if (!(await settlesWithin(run, deadline - Date.now()))) {
        throw new RateLimitedError('OVERLOADED', `An ingestion job of document '${documentId}' did not stop within ${waitMs} ms; it will not index, retry the DELETE shortly to remove the stored chunks`, 5, {
          details: { documentId },
        });
      }
    }
  }

  private async runEntry(entry: Entry): Promise<void> {
    const key = documentKey(entry.job);
    this.busyDocuments.add(key);
    if (entry.cancelled) {
      // A failed job of a since-deleted document, retried: nothing to index.
      try {
        await this.completeCancelled(entry);
      } finally {
        this.busyDocuments.delete(key);
      }
      return;
    }
    entry.status = { ...entry.status, state: 'active', attempts: entry.status.attempts + 1, error: undefined };
    this.options.onStateChange?.('active');
    await this.persist(entry);
    try {
      const result = await this.processor({
        job: entry.job,
        onProgress: ({ stage, percent }) => {
          // The pipeline writes to the store right after reporting `upsert`: a run cancelled by now stops here.
          if (entry.cancelled && stage !== 'done') throw new DocumentDeletedInterrupt(`document '${entry.job.documentId}' was deleted`);
          entry.status = { ...entry.status, stage, progress: percent };
        },
      });
      if (entry.cancelled) {
        await this.completeCancelled(entry);
        return;
      }
      entry.status = { ...entry.status, state: 'completed', progress: 100, stage: 'done', chunks: result.chunks, unchanged: result.unchanged, finishedAt: new Date().toISOString() };
      this.options.onStateChange?.('completed');
      this.logger.info({ jobId: entry.status.jobId, documentId: entry.job.documentId, requestId: entry.job.requestId, chunks: result.chunks, unchanged: result.unchanged }, 'ingestion job completed');
      await this.persist(entry);
      await this.options.onCompleted?.(entry.job).catch((error: unknown) => this.logger.warn({ err: error }, 'post-completion cleanup failed'));
    } catch (thrown) {
      if (entry.cancelled) {
        // Whatever stopped the run (our interrupt or a failure), the document is deleted: nothing to retry.
        await this.completeCancelled(entry);
        return;
      }
      const error = toAppError(thrown);
      const willRetry = error.isRetryable && entry.status.attempts < this.options.attempts && !this.closed;
      if (willRetry) {
        const delay = this.options.backoffMs * 2 ** (entry.status.attempts - 1);
        this.logger.warn({ err: error, jobId: entry.status.jobId, requestId: entry.job.requestId, attempt: entry.status.attempts, delay }, 'ingestion failed; retrying');
        entry.status = { ...entry.status, state: 'queued', error: { code: error.code, message: error.message } };
        this.options.onStateChange?.('queued');
        await this.persist(entry);
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (entry.status.state !== 'queued') return; // completed by deleteDocument meanwhile
          this.waiting.push(entry.status.jobId);
          this.pump();
        }, delay);
        this.timers.add(timer);
      } else {
        this.logger.warn({ err: error, jobId: entry.status.jobId, requestId: entry.job.requestId }, 'ingestion failed');
        entry.status = { ...entry.status, state: 'failed', error: { code: error.code, message: error.message }, finishedAt: new Date().toISOString() };
        this.options.onStateChange?.('failed');
        await this.persist(entry);
      }
    } finally {
      this.busyDocuments.delete(key);
    }
  }

  /** Completes a job of a deleted document as skipped (DOCUMENT_DELETED) and lets go of its upload. */
  private async completeCancelled(entry: Entry): Promise<void> {
    this.markCancelled(entry);
    await this.afterCancelled(entry);
  }

  private markCancelled(entry: Entry): void {
    entry.status = {
      ...entry.status,
      state: 'completed',
      progress: 100,
      stage: 'done',
      chunks: 0,
      unchanged: false,
      skipped: DOCUMENT_DELETED_SKIP,
      error: undefined,
      finishedAt: new Date().toISOString(),
    };
    this.options.onStateChange?.('completed');
    this.logger.info({ jobId: entry.status.jobId, documentId: entry.job.documentId, requestId: entry.job.requestId }, 'ingestion job skipped: its document was deleted');
  }

  private async afterCancelled(entry: Entry): Promise<void> {
    await this.persist(entry);
    await this.options.onCompleted?.(entry.job).catch((error: unknown) => this.logger.warn({ err: error }, 'post-completion cleanup failed'));
  }

  /**
   * Writes the entry atomically (temp file + rename) so a crash never leaves a half-written journal file. Writes of
   * one entry are serialised in call order (deleteDocument may persist an entry while its run does), so the last
   * state wins and two writes never share the temp file.
   */
  private persist(entry: Entry): Promise<void> {
    const jobId = entry.status.jobId;
    const snapshot = JSON.stringify(entry);
    const write = async () => {
      const file = path.join(this.options.journalDir, `${jobId}.json`);
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, snapshot);
      await rename(temp, file);
    };
    const next = (this.persisting.get(jobId) ?? Promise.resolve()).then(write, write);
    this.persisting.set(jobId, next);
    const forget = () => {
      if (this.persisting.get(jobId) === next) this.persisting.delete(jobId);
    };
    next.then(forget, forget);
    return next;
  }

  private forgetOldFinished(): void {
    const keep = this.options.keepFinished ?? 10_000;
    const finished = [...this.entries.values()].filter((entry) => entry.status.state === 'completed' || entry.status.state === 'failed');
    if (finished.length <= keep) return;
    finished.sort((a, b) => a.status.createdAt.localeCompare(b.status.createdAt));
    for (const entry of finished.slice(0, finished.length - keep)) {
      this.entries.delete(entry.status.jobId);
      void rm(path.join(this.options.journalDir, `${entry.status.jobId}.json`), { force: true });
    }
  }
}

function documentKey(job: Pick<IngestJob, 'collection' | 'documentId'>): string {
  return `${job.collection}\u0000${job.documentId}`;
}
