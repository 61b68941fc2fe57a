import { randomUUID } from 'node:crypto';
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
  type IngestBullJob,
  type IngestProgress,
  type QueuedIngest,
  decodeFailure,
  encodeFailure,
  ingestKeys,
  queuedIngestSchema,
} from './queues/bullmq-queue.js';
import type { IngestResult } from './types.js';

/**
 * Settings of a worker process. The lock and stall defaults let another worker resume the job of a SIGKILLed
 * one within about 8–15 s: the dead worker's job lock (lockDurationMs, renewed every lockDurationMs/4) expires
 * after at most lockDurationMs, and the next stall check (every stalledIntervalMs, run by any live worker and
 * once at worker start) moves the job back to waiting. The price is that a worker whose event loop is blocked
 * for longer than ~3/4 of lockDurationMs loses its locks; the run then stops before writing (see DocumentLock).
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

interface Run {
  jobId: string;
  interrupted: boolean;
}

/**
 * A BullMQ worker running the ingestion pipeline. Non-retryable AppErrors (bad input) fail the job at once
 * (UnrecoverableError); retryable ones use the job's attempts and exponential backoff. A job never runs while
 * another job of the same document does (DocumentLock), and a job whose document a newer upload has already
 * indexed completes without writing, so retries and races never put older content back.
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
    });
    worker.on('failed', (job, error) => {
      if (!job) return;
      const failure = decodeFailure(error.message);
      const final = job.finishedOn !== undefined || error.name === 'UnrecoverableError';
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

  private async process(job: IngestBullJob, token: string | undefined): Promise<IngestResult> {
    const jobId = job.id as string;
    const parsed = queuedIngestSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(encodeFailure({ code: 'INVALID_JOB', message: `Malformed job payload: ${parsed.error.message}` }));
    }
    if (token === undefined) throw new Error('BullMQ started a job without a lock token');
    const data = parsed.data;
    if (data.filePath !== undefined && !(await readable(data.filePath))) {
      // Uploads are deleted only after completion, so a missing one means the API and this worker do not share UPLOAD_DIR.
      throw new UnrecoverableError(
        encodeFailure({ code: 'UPLOAD_MISSING', message: `The upload of '${data.source}' is not readable by the worker; the API and workers must share UPLOAD_DIR` }),
      );
    }
    const lock = await DocumentLock.acquire({
      redis: this.options.connection,
      key: this.keys.documentLock(data.collection, data.documentId),
      jobId,
      ttlMs: this.lockDurationMs,
      logger: this.logger,
    }).catch((error: unknown) => {
      throw toQueueError(new UpstreamError('QUEUE_UNAVAILABLE', 'Could not take the document lock in Redis', { cause: error }));
    });
    if (!lock) {
      // Another job holds the document: wait in `delayed` (reported as queued) without using an attempt.
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
          // Fence: the document must still be ours right before the store is written.
          if (stage === 'upsert') await lock.confirm();
          const key = `${stage}:${percent}`;
          if (key === last) return;
          last = key;
          await job.updateProgress({ stage, percent } satisfies IngestProgress).catch((error: unknown) => {
            this.logger.warn({ err: error, jobId }, 'could not record job progress');
          });
        },
      });
      if (data.sequence !== undefined) await markApplied(this.options.connection, appliedKey, data.sequence);
      return result;
    } catch (thrown) {
      if (thrown instanceof ShutdownInterrupt) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
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

const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if (not current) or string.sub(current, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const MARK_APPLIED = `
local current = tonumber(redis.call('GET', KEYS[1]))
if (not current) or tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

/** Sequence marks outlive failed-job retention (30 days), so a late retry of an old upload is still recognised. */
const APPLIED_TTL_MS = 45 * 24 * 3600 * 1000;

async function markApplied(redis: Redis, key: string, sequence: number): Promise<void> {
  await redis.eval(MARK_APPLIED, 1, key, String(sequence), String(APPLIED_TTL_MS));
}

/**
 * A per-document lock in Redis shared by all worker processes: SET NX with a TTL, renewed while the run lasts.
 * The value names the job, so the rerun of a job whose worker died takes the lock over at once instead of
 * waiting for it to expire; the dead run cannot write any more, because a run confirms the lock is still its own
 * right before writing to the store.
 */
class DocumentLock {
  private readonly timer: NodeJS.Timeout;
  private lost = false;

  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly token: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => {
      this.renew().catch((error: unknown) => this.logger.warn({ err: error, key }, 'could not renew the document lock'));
    }, Math.max(100, Math.floor(ttlMs / 4)));
    this.timer.unref();
  }

  /** The lock, or null when another job holds the document. */
  static async acquire(params: { redis: Redis; key: string; jobId: string; ttlMs: number; logger: Logger }): Promise<DocumentLock | null> {
    const owner = `${params.jobId}|`;
    const token = `${owner}${randomUUID()}`;
    const acquired = await params.redis.eval(ACQUIRE, 1, params.key, token, owner, String(params.ttlMs));
    return acquired === 1 ? new DocumentLock(params.redis, params.key, token, params.ttlMs, params.logger) : null;
  }

  /** Throws (retryable) unless this run still holds the lock; extends it. */
  async confirm(): Promise<void> {
    if (!(await this.renew())) {
      throw new UpstreamError('DOCUMENT_LOCK_LOST', 'This run lost the document lock (its worker stalled); another run owns the document now', { retryable: true });
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.eval(RELEASE, 1, this.key, this.token).catch((error: unknown) => {
      this.logger.warn({ err: error, key: this.key }, 'could not release the document lock; it expires by itself');
    });
  }

  private async renew(): Promise<boolean> {
    if (this.lost) return false;
    const renewed = await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs));
    if (renewed !== 1) {
      this.lost = true;
      this.logger.warn({ key: this.key }, 'document lock lost');
    }
    return !this.lost;
  }
}

async function readable(file: string): Promise<boolean> {
  return access(file, constants.R_OK).then(
    () => true,
    () => false,
  );
}

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(() => true as const, () => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}
