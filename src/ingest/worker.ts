import { constants } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import { DelayedError, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { UpstreamError, toAppError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import type { VectorStore } from '../retrieve/types.js';
import type { JobProcessor } from './queues/in-process-queue.js';
import {
  DEFAULT_PREFIX,
  DOCUMENT_MARK_TTL_MS,
  type IngestBullJob,
  type IngestProgress,
  type QueuedIngest,
  decodeFailure,
  encodeFailure,
  ingestKeys,
  queuedIngestSchema,
} from './queues/bullmq-queue.js';
import { RedisDocumentLock } from './queues/redis-document-lock.js';
import { DOCUMENT_DELETED_SKIP, type IngestResult } from './types.js';
import { settlesWithin } from './settles-within.js';

/**
 * Settings of a worker process. The lock and stall defaults let another worker resume the job of a SIGKILLed
 * one within about 8–15 s: the dead worker's job lock (lockDurationMs, renewed every lockDurationMs/4) expires
 * after at most lockDurationMs, and the next stall check (every stalledIntervalMs, run by any live worker and
 * once at worker start) moves the job back to waiting. The price is that a worker whose event loop is blocked
 * for longer than ~3/4 of lockDurationMs loses its locks; the run then stops before writing (see RedisDocumentLock).
 */
export interface IngestWorkerOptions {
  /** QUEUE_NAME. */
  queueName: string;
  /** ioredis client created with `maxRetriesPerRequest: null` (BullMQ requires it); the worker duplicates it for blocking reads and leaves it open. */
  connection: Redis;
  /** Jobs this process runs at once (WORKER_CONCURRENCY). */
  concurrency: number;
  /** close() returns within this budget (SHUTDOWN_TIMEOUT_MS), finished or not. */
  shutdownTimeoutMs: number;
  /** Redis key prefix; default `bull`, as BullMqQueue. */
  prefix?: string;
  /** How long a job (and document) lock lives without renewal; default 10 000 ms. */
  lockDurationMs?: number;
  /** Interval between stall checks; default 5000 ms. */
  stalledIntervalMs?: number;
  /** Times a job may be recovered from a dead worker before it fails with JOB_STALLED; default 2. */
  maxStalledCount?: number;
  /** How long a job waits before trying again when another job holds its document; default 1000 ms (±50 % jitter). */
  busyDocumentDelayMs?: number;
  /** Name recorded on the jobs this worker processes (BullMQ `processedBy`). */
  name?: string;
}

/** What the worker runs and reads. */
export interface IngestWorkerDeps {
  /** Runs one job: the IngestPipeline in production. */
  processor: JobProcessor;
  /** Reads a document's chunk count, reported by a job that a newer upload superseded. */
  store: Pick<VectorStore, 'getDocument'>;
  logger: Logger;
}

/** Thrown from the progress callback to stop a run at the shutdown deadline; the job goes back to waiting. */
class ShutdownInterrupt extends Error {
  override readonly name = 'ShutdownInterrupt';
}

/** Thrown from the progress callback once the document was deleted after the job was enqueued; the job completes as skipped. */
class DocumentDeletedInterrupt extends Error {
  override readonly name = 'DocumentDeletedInterrupt';
}

/** The result of a job whose document was deleted after it was enqueued. */
const DELETED_RESULT: IngestResult = { chunks: 0, unchanged: false, skipped: DOCUMENT_DELETED_SKIP };

interface Run {
  jobId: string;
  interrupted: boolean;
}

/**
 * A BullMQ worker running the ingestion pipeline. Non-retryable AppErrors (bad input) fail the job at once
 * (UnrecoverableError); retryable ones use the job's attempts and exponential backoff. A job never runs while
 * another job of the same document does (RedisDocumentLock), and a job whose document a newer upload has already
 * indexed completes without writing, so retries and races never put older content back. A job enqueued before a
 * DELETE of its document completes as skipped (DOCUMENT_DELETED) without writing (see BullMqQueue.deleteDocument).
 */
export class IngestWorker {
  private worker: Worker<QueuedIngest, IngestResult, string> | undefined;
  private readonly running = new Set<Run>();
  private readonly keys: ReturnType<typeof ingestKeys>;
  private readonly lockDurationMs: number;
  private readonly logger: Logger;

  constructor(
    private readonly deps: IngestWorkerDeps,
    private readonly options: IngestWorkerOptions,
  ) {
    this.keys = ingestKeys(options.prefix ?? DEFAULT_PREFIX, options.queueName);
    this.lockDurationMs = options.lockDurationMs ?? 10_000;
    this.logger = deps.logger;
  }

  /** Starts consuming the queue; resolves once connected. */
  async start(): Promise<void> {
    if (this.worker) return;
    const worker = new Worker<QueuedIngest, IngestResult, string>(this.options.queueName, (job, token) => this.process(job, token), {
      connection: this.options.connection,
      prefix: this.options.prefix ?? DEFAULT_PREFIX,
      concurrency: this.options.concurrency,
      lockDuration: this.lockDurationMs,
      // Renew four times per lock period, so a briefly blocked event loop does not lose the lock.
      lockRenewTime: Math.floor(this.lockDurationMs / 4),
      stalledInterval: this.options.stalledIntervalMs ?? 5000,
      maxStalledCount: this.options.maxStalledCount ?? 2,
      name: this.options.name,
    });
    worker.on('completed', (job, result) => {
      this.logger.info({ jobId: job.id, documentId: job.data.documentId, requestId: job.data.requestId, ...result, ms: Date.now() - (job.processedOn ?? Date.now()) }, 'ingestion job completed');
      // The upload is deleted only once the job is recorded as completed: a crash before that reruns the job, which needs the file.
      if (job.data.filePath) {
        rm(job.data.filePath, { force: true }).catch((error: unknown) => this.logger.warn({ err: error, filePath: job.data.filePath }, 'could not delete the upload'));
      }
      this.forgetPending(job);
    });
    worker.on('failed', (job, error) => {
      if (!job) return;
      const failure = decodeFailure(error.message);
      const final = job.finishedOn !== undefined || error.name === 'UnrecoverableError';
      if (final) this.forgetPending(job);
      this.logger.warn({ jobId: job.id, documentId: job.data.documentId, requestId: job.data.requestId, attempt: job.attemptsMade, final, ...failure }, final ? 'ingestion job failed' : 'ingestion job failed; will retry');
    });
    worker.on('stalled', (jobId) => this.logger.warn({ jobId }, 'resuming a job whose worker stopped (stalled)'));
    worker.on('error', (error) => this.logger.error({ err: error }, 'worker error'));
    this.worker = worker;
    await worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and lets running ones finish. Shortly before the SHUTDOWN_TIMEOUT_MS deadline, runs still
   * going are interrupted at their next progress point and handed back to the queue (no attempt used); close()
   * resolves by the deadline in any case. A run stuck past it is resumed by another worker once its lock expires,
   * so the caller should exit the process afterwards.
   */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const deadline = Date.now() + this.options.shutdownTimeoutMs;
    const grace = Math.min(5000, Math.floor(this.options.shutdownTimeoutMs / 5));
    const closing = worker.close().then(() => true);
    if (await settlesWithin(closing, deadline - grace - Date.now())) return;
    this.logger.warn({ jobs: [...this.running].map((run) => run.jobId) }, 'jobs still running at the shutdown deadline; handing them back to the queue');
    for (const run of this.running) run.interrupted = true;
    if (await settlesWithin(closing, deadline - Date.now())) return;
    this.logger.warn({ jobs: [...this.running].map((run) => run.jobId) }, 'stopping with jobs still running; another worker resumes them after their locks expire');
  }

  /** Drops a finished job from its document's pending set (best effort: DELETE checks job states anyway). */
  private forgetPending(job: IngestBullJob): void {
    const { collection, documentId } = job.data;
    if (typeof collection !== 'string' || typeof documentId !== 'string') return;
    this.options.connection.srem(this.keys.documentPending(collection, documentId), job.id as string).catch((error: unknown) => {
      this.logger.debug({ err: error, jobId: job.id }, 'could not drop the job from its pending set');
    });
  }

  /** True when the document had a DELETE after this job was enqueued (its tombstone is above the job's sequence). */
  private async deletedSince(data: QueuedIngest): Promise<boolean> {
    if (data.sequence === undefined) return false;
    return (await readDeleted(this.options.connection, this.keys.documentDeleted(data.collection, data.documentId))) > data.sequence;
  }

  private async skipDeleted(job: IngestBullJob, when: string): Promise<IngestResult> {
    this.logger.info({ jobId: job.id, documentId: job.data.documentId, requestId: job.data.requestId }, `ingestion job skipped: its document was deleted ${when}`);
    await job.updateProgress({ stage: 'done', percent: 100 } satisfies IngestProgress).catch(() => undefined);
    return DELETED_RESULT;
  }

  private async process(job: IngestBullJob, token: string | undefined): Promise<IngestResult> {
    const jobId = job.id as string;
    const parsed = queuedIngestSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(encodeFailure({ code: 'INVALID_JOB', message: `Malformed job payload: ${parsed.error.message}` }));
    }
    if (token === undefined) throw new Error('BullMQ started a job without a lock token');
    const data = parsed.data;
    // The tombstone only ever rises, so this needs no lock; and a job of a deleted document does not need its upload.
    if (await this.deletedSince(data)) return this.skipDeleted(job, 'before it started');
    if (data.filePath !== undefined && !(await readable(data.filePath))) {
      // Uploads are deleted only after completion, so a missing one means the API and this worker do not share UPLOAD_DIR.
      throw new UnrecoverableError(
        encodeFailure({ code: 'UPLOAD_MISSING', message: `The upload of '${data.source}' is not readable by the worker; the API and workers must share UPLOAD_DIR` }),
      );
    }
    const lock = await RedisDocumentLock.acquire({
      redis: this.options.connection,
      key: this.keys.documentLock(data.collection, data.documentId),
      deletesKey: this.keys.documentDeletes(data.collection, data.documentId),
      owner: jobId,
      ttlMs: this.lockDurationMs,
      logger: this.logger,
    }).catch((error: unknown) => {
      throw toQueueError(new UpstreamError('QUEUE_UNAVAILABLE', 'Could not take the document lock in Redis', { cause: error }));
    });
    if (!lock) {
      // Another job holds the document, or a DELETE of it is pending: wait in `delayed` (reported as queued) without using an attempt.
      const base = this.options.busyDocumentDelayMs ?? 1000;
      await job.moveToDelayed(Date.now() + Math.round(base * (0.5 + Math.random())), token);
      throw new DelayedError();
    }
    const run: Run = { jobId, interrupted: false };
    this.running.add(run);
    try {
      const appliedKey = this.keys.documentApplied(data.collection, data.documentId);
      if (data.sequence !== undefined) {
        const applied = Number((await this.options.connection.get(appliedKey)) ?? -1);
        if (applied > data.sequence) {
          const current = await this.deps.store.getDocument({ collection: data.collection, documentId: data.documentId });
          this.logger.info({ jobId, documentId: data.documentId, sequence: data.sequence, applied }, 'a newer upload of this document is already indexed; skipping');
          await job.updateProgress({ stage: 'done', percent: 100 } satisfies IngestProgress);
          return { chunks: current?.chunkCount ?? 0, unchanged: true };
        }
      }
      let last = '';
      const result = await this.deps.processor({
        job: data,
        onProgress: async ({ stage, percent }) => {
          if (run.interrupted && stage !== 'done') throw new ShutdownInterrupt('worker shutting down');
          if (stage !== 'done') {
            // Fence: right before the store is written (after `upsert`), the document must still be ours and not
            // deleted since this job was enqueued; earlier stages check the tombstone too, to stop a deleted run early.
            if (stage === 'upsert') await lock.confirm();
            if (await this.deletedSince(data)) throw new DocumentDeletedInterrupt(`document '${data.documentId}' was deleted`);
          }
          const key = `${stage}:${percent}`;
          if (key === last) return;
          last = key;
          await job.updateProgress({ stage, percent } satisfies IngestProgress).catch((error: unknown) => {
            this.logger.warn({ err: error, jobId }, 'could not record job progress');
          });
        },
      });
      if (data.sequence !== undefined) await markApplied(this.options.connection, appliedKey, data.sequence);
      // Deleted after the fence: whatever this run wrote, the DELETE (waiting for this lock) removes it.
      if (await this.deletedSince(data)) return await this.skipDeleted(job, 'while it ran');
      return result;
    } catch (thrown) {
      if (thrown instanceof ShutdownInterrupt) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      // A deleted document's job does not retry or fail, whatever stopped it.
      if (thrown instanceof DocumentDeletedInterrupt || (await this.deletedSince(data).catch(() => false))) return this.skipDeleted(job, 'while it ran');
      throw toQueueError(thrown);
    } finally {
      this.running.delete(run);
      await lock.release();
    }
  }
}

/** Maps an AppError to BullMQ's retry policy, carrying code and message in `failedReason` (see encodeFailure). */
export function toQueueError(thrown: unknown): Error {
  const error = toAppError(thrown);
  const reason = encodeFailure({ code: error.code, message: error.message });
  const queueError = error.isRetryable ? new Error(reason, { cause: error }) : new UnrecoverableError(reason);
  if (error.stack) queueError.stack = error.stack;
  return queueError;
}

const MARK_APPLIED = `
local current = tonumber(redis.call('GET', KEYS[1]))
if (not current) or tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

async function markApplied(redis: Redis, key: string, sequence: number): Promise<void> {
  await redis.eval(MARK_APPLIED, 1, key, String(sequence), String(DOCUMENT_MARK_TTL_MS));
}

/** The document's tombstone (sequence number of its last DELETE), or -1. */
async function readDeleted(redis: Redis, key: string): Promise<number> {
  return Number((await redis.get(key)) ?? -1);
}

async function readable(file: string): Promise<boolean> {
  return access(file, constants.R_OK).then(
    () => true,
    () => false,
  );
}
