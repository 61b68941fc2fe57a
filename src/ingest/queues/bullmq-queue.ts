import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Queue, type Job, type JobType, type KeepJobs } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { AppError, NotFoundError, RateLimitedError, UpstreamError, ValidationError } from '../../errors/index.js';
import type { Logger } from '../../logger.js';
import type { IngestJob, IngestQueue, IngestResult, IngestStage, JobState, JobStatus, UploadReferences } from '../types.js';
import { ingestJobSchema } from '../types.js';
import { RedisDocumentLock } from './redis-document-lock.js';

/** The BullMQ job name of every ingestion job. */
export const INGEST_JOB_NAME = 'ingest';

/**
 * Data of a job on the queue: the ingestion job plus its enqueue sequence number, which lets a worker
 * recognise a job that a newer upload of the same document has already superseded (see worker.ts).
 */
export const queuedIngestSchema = ingestJobSchema.extend({ sequence: z.number().int().nonnegative().optional() });

/** One job's data as stored in Redis. */
export type QueuedIngest = z.infer<typeof queuedIngestSchema>;

/** Progress as stored on a BullMQ job. */
export interface IngestProgress {
  stage: IngestStage;
  percent: number;
}

/** A job of the ingestion queue as BullMQ types it. */
export type IngestBullJob = Job<QueuedIngest, IngestResult, string>;

/** Why a job failed, as the API reports it. */
export interface JobFailure {
  code: string;
  message: string;
}

/**
 * Serialises a failure into BullMQ's `failedReason`, the one field BullMQ writes atomically with the move to
 * failed (or to delayed, for a retry), so the code survives without a second write that a crash could lose.
 */
export function encodeFailure(failure: JobFailure): string {
  return JSON.stringify({ code: failure.code, message: failure.message });
}

const failureSchema = z.object({ code: z.string().regex(/^[A-Z][A-Z0-9_]*$/), message: z.string() });

/** Reads a `failedReason`: ours (JSON) or one BullMQ wrote itself (stalled too often, lock lost). */
export function decodeFailure(reason: string | undefined | null): JobFailure | undefined {
  if (!reason) return undefined;
  if (reason.startsWith('{')) {
    try {
      const parsed = failureSchema.safeParse(JSON.parse(reason));
      if (parsed.success) return parsed.data;
    } catch {
      // Not ours: fall through.
    }
  }
  if (reason.includes('stalled more than allowable limit')) {
    return { code: 'JOB_STALLED', message: 'The job was interrupted too many times (its worker died or stopped responding while running it)' };
  }
  return { code: 'JOB_FAILED', message: reason };
}

/** Redis keys this adapter and the worker add next to BullMQ's own, in the queue's namespace. */
export function ingestKeys(prefix: string, queueName: string) {
  const base = `${prefix}:${queueName}:ingest`;
  const documentDigest = (collection: string, documentId: string) =>
    createHash('sha256').update(`${collection}\u0000${documentId}`).digest('hex').slice(0, 40);
  return {
    /** Counter giving every enqueued job its sequence number. */
    sequence: `${base}:sequence`,
    /** Held by the one job currently ingesting the document (value: `<jobId>|<run token>`). */
    documentLock: (collection: string, documentId: string) => `${base}:lock:${documentDigest(collection, documentId)}`,
    /** Highest sequence number whose content was indexed for the document. */
    documentApplied: (collection: string, documentId: string) => `${base}:applied:${documentDigest(collection, documentId)}`,
    /** Sequence number reserved by the last DELETE of the document (its tombstone): jobs numbered below it index nothing. */
    documentDeleted: (collection: string, documentId: string) => `${base}:deleted:${documentDigest(collection, documentId)}`,
    /** DELETEs of the document in progress (sorted set: owner → expiry in ms): jobs do not take the document lock meanwhile. */
    documentDeletes: (collection: string, documentId: string) => `${base}:deleting:${documentDigest(collection, documentId)}`,
    /** Ids of the document's jobs that may still run (a superset: DELETE checks each job's hash before counting it). */
    documentPending: (collection: string, documentId: string) => `${base}:pending:${documentDigest(collection, documentId)}`,
    /** Pattern matching every key above (tests clean up with it). */
    pattern: `${base}:*`,
  };
}

/** BullMQ's default key prefix. */
export const DEFAULT_PREFIX = 'bull';

/** Settings of the BullMQ adapter; the worker side is `../worker.ts`. */
export interface BullMqQueueOptions {
  /** QUEUE_NAME; tests use a unique one. */
  name: string;
  /** An ioredis client to share (left open by close()), or a redis:// URL this adapter connects to and owns. */
  connection: Redis | string;
  /** Attempts per job, first included, for retryable failures (JOB_ATTEMPTS). */
  attempts: number;
  /** Base of the exponential backoff: retry n waits backoffMs × 2^(n-1) (JOB_BACKOFF_MS). */
  backoffMs: number;
  /** Waiting + delayed + running jobs above which enqueue answers OVERLOADED (MAX_QUEUE_DEPTH). */
  maxDepth: number;
  /** Redis key prefix; default `bull`. */
  prefix?: string;
  /** Completed jobs kept for GET /v1/jobs; default the last 10 000, at most 7 days. */
  keepCompleted?: KeepJobs;
  /** Failed jobs kept for listing and retry; default the last 10 000, at most 30 days. */
  keepFailed?: KeepJobs;
  /** Budget of one Redis round trip seen by an API caller before it gets QUEUE_UNAVAILABLE; default 5000 ms. */
  commandTimeoutMs?: number;
  /** How long deleteDocument waits for the document lock (a running job to stop, a dead worker's lock to expire); default 30 000 ms. */
  deleteWaitMs?: number;
}

/**
 * Sequence marks (applied, deleted) and pending-job sets outlive failed-job retention (30 days), so a late retry of
 * an old upload is still recognised.
 */
export const DOCUMENT_MARK_TTL_MS = 45 * 24 * 3600 * 1000;

/** The lock TTL of a DELETE; renewed every quarter while the store delete runs. */
const DELETE_LOCK_TTL_MS = 10_000;

// KEYS[1] sequence, KEYS[2] deleted mark, KEYS[3] pending deletes, KEYS[4] pending jobs; ARGV[1] owner, ARGV[2] mark TTL,
// ARGV[3] pending-delete TTL, ARGV[4] BullMQ job key prefix. One script, so the tombstone, the pending-delete entry and
// the count of the jobs it cancels belong to one instant. Every id in the pending set was enqueued before (ids are
// added after their sequence number is taken); a job whose hash is gone or has `finishedOn` (completed, or failed
// for good) is not pending and leaves the set.
const MARK_DELETED = `
local sequence = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], sequence, 'PX', ARGV[2])
local now = redis.call('TIME')
local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], expires, ARGV[1])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
local cancelled = 0
for _, jobId in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local jobKey = ARGV[4] .. jobId
  if redis.call('EXISTS', jobKey) == 1 and redis.call('HEXISTS', jobKey, 'finishedOn') == 0 then
    cancelled = cancelled + 1
  else
    redis.call('SREM', KEYS[4], jobId)
  end
end
return cancelled`;

const QUEUED_TYPES: JobType[] = ['waiting', 'prioritized', 'delayed', 'waiting-children'];
const TYPES_BY_STATE: Record<JobState, JobType[]> = {
  queued: QUEUED_TYPES,
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
};
/** Jobs of one BullMQ state a filtered listing reads at most while looking for matches (newest first). */
export const LIST_SCAN_LIMIT = 10_000;
/** Jobs read per round trip while a filtered listing pages through a BullMQ state. */
const LIST_PAGE_SIZE = 500;
const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The producer and status side of the BullMQ queue: the API enqueues here and `npm run worker` processes.
 * Jobs get UUID ids, attempts with exponential backoff, bounded retention (failed jobs stay listable and
 * retryable), and their failure code in `failedReason` (see encodeFailure).
 */
export class BullMqQueue implements IngestQueue, UploadReferences {
  /** The BullMQ queue; exposed for tests and tools (obliterate, counts). */
  readonly queue: Queue<QueuedIngest, IngestResult, string>;
  private readonly redis: Redis;
  private readonly ownsConnection: boolean;
  private readonly keys: ReturnType<typeof ingestKeys>;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(
    private readonly options: BullMqQueueOptions,
    private readonly logger: Logger,
  ) {
    this.ownsConnection = typeof options.connection === 'string';
    // Fail fast while Redis is unreachable: API callers get 503 QUEUE_UNAVAILABLE instead of a hanging request.
    this.redis =
      typeof options.connection === 'string'
        ? new Redis(options.connection, { maxRetriesPerRequest: 1, connectTimeout: 5000 })
        : options.connection;
    if (this.ownsConnection) this.redis.on('error', (error: Error) => this.logger.warn({ err: error }, 'redis connection error'));
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.keys = ingestKeys(this.prefix, options.name);
    this.timeoutMs = options.commandTimeoutMs ?? 5000;
    this.queue = new Queue<QueuedIngest, IngestResult, string>(options.name, {
      connection: this.redis,
      prefix: this.prefix,
      defaultJobOptions: {
        attempts: options.attempts,
        backoff: { type: 'exponential', delay: options.backoffMs },
        removeOnComplete: options.keepCompleted ?? { age: 7 * 24 * 3600, count: 10_000 },
        removeOnFail: options.keepFailed ?? { age: 30 * 24 * 3600, count: 10_000 },
      },
    });
    this.queue.on('error', (error: Error) => this.logger.warn({ err: error }, 'queue error'));
  }

  async enqueue(params: { jobs: IngestJob[] }): Promise<{ jobId: string; documentId: string }[]> {
    if (this.closed) throw new RateLimitedError('OVERLOADED', 'The service is shutting down; retry shortly', 5);
    const jobs = params.jobs.map((job) => ingestJobSchema.parse(job));
    if (jobs.length === 0) return [];
    const depth = await this.depth();
    if (depth + jobs.length > this.options.maxDepth) {
      throw new RateLimitedError(
        'OVERLOADED',
        `The ingestion queue is full (${depth} jobs waiting or running; limit MAX_QUEUE_DEPTH=${this.options.maxDepth}); retry later`,
        30,
        { details: { depth, maxDepth: this.options.maxDepth } },
      );
    }
    return this.redisCall('enqueue', async () => {
      // One INCRBY reserves consecutive sequence numbers, so jobs of one request keep their order.
      const last = await this.redis.incrby(this.keys.sequence, jobs.length);
      const first = last - jobs.length + 1;
      const added = await this.queue.addBulk(
        jobs.map((job, index) => ({ name: INGEST_JOB_NAME, data: { ...job, sequence: first + index }, opts: { jobId: randomUUID() } })),
      );
      const refs = added.map((job, index) => ({ jobId: job.id as string, documentId: (jobs[index] as IngestJob).documentId }));
      // After addBulk, so a DELETE never finds an id whose job does not exist yet (it drops such ids as finished).
      await this.trackPending(refs.map((ref, index) => ({ jobId: ref.jobId, job: jobs[index] as IngestJob })));
      return refs;
    });
  }

  /**
   * Deletes the document's chunks with no job of it writing, in this order:
   * 1. One script reserves a sequence number as the document's tombstone, records this DELETE as pending and counts
   *    the document's jobs that are waiting, delayed or running (the ones this DELETE cancels). From
   *    then on, jobs numbered below the tombstone (enqueued before) index nothing: a waiting one completes as skipped
   *    when a worker reaches it, a running one stops at its next progress point and, at the latest, at the fence it
   *    passes right before the store write. Jobs numbered above (enqueued since) do not get the document lock while
   *    the DELETE is pending, so they run after it.
   * 2. Take the document lock (waiting for the job that holds it, if any), delete the chunks, release the lock and
   *    the pending entry.
   * Why no job write can land after the store delete: a run writes only while holding the lock, after checking the
   * tombstone under it. If it read no tombstone, the tombstone came later, and the DELETE takes the lock only after
   * that run has written and let go, so its chunks are deleted. If it read the tombstone, it writes nothing. The one
   * gap is a run whose lock expired while its write was in flight (its event loop blocked for most of the lock TTL),
   * the same limit the lock has between two jobs.
   */
  async deleteDocument(params: { collection: string; documentId: string; deleteChunks: () => Promise<number> }): Promise<{ deletedChunks: number; cancelledJobs: number }> {
    const { collection, documentId } = params;
    const owner = `delete:${randomUUID()}`;
    const deletesKey = this.keys.documentDeletes(collection, documentId);
    const waitMs = this.options.deleteWaitMs ?? 30_000;
    const cancelledJobs = await this.redisCall('deleteDocument', async () =>
      Number(
        await this.redis.eval(
          MARK_DELETED,
          4,
          this.keys.sequence,
          this.keys.documentDeleted(collection, documentId),
          deletesKey,
          this.keys.documentPending(collection, documentId),
          owner,
          String(DOCUMENT_MARK_TTL_MS),
          String(waitMs + 2 * DELETE_LOCK_TTL_MS),
          this.queue.toKey(''),
        ),
      ),
    );
    try {
      const lock = await RedisDocumentLock.acquireWithin({
        redis: this.redis,
        key: this.keys.documentLock(collection, documentId),
        deletesKey,
        owner,
        ttlMs: DELETE_LOCK_TTL_MS,
        forDelete: true,
        logger: this.logger,
        waitMs,
        pollMs: 200,
      }).catch((error: unknown) => {
        throw new UpstreamError('QUEUE_UNAVAILABLE', 'Could not take the document lock in Redis', { cause: error });
      });
      if (!lock) {
        throw new RateLimitedError('OVERLOADED', `An ingestion job of document '${documentId}' did not stop within ${waitMs} ms; it will not index, retry the DELETE shortly to remove the stored chunks`, 5, {
          details: { documentId },
        });
      }
      try {
        return { deletedChunks: await params.deleteChunks(), cancelledJobs };
      } finally {
        await lock.release();
      }
    } finally {
      await this.redis.zrem(deletesKey, owner).catch((error: unknown) => {
        this.logger.warn({ err: error, documentId }, 'could not clear the pending DELETE; jobs of the document wait until it expires');
      });
    }
  }

  async getJob(params: { jobId: string }): Promise<JobStatus | null> {
    if (!JOB_ID_PATTERN.test(params.jobId)) return null; // also keeps ids like "meta" away from BullMQ's own keys
    return this.redisCall('getJob', async () => {
      // The hash and the state are two reads; a job finishing in between would pair "failed" with the active
      // run's counters. Read the state on both sides of the hash and retry until they agree.
      for (let attempt = 0; ; attempt += 1) {
        const before = await this.queue.getJobState(params.jobId);
        if (before === 'unknown') return null;
        const job = await this.queue.getJob(params.jobId);
        if (!job) return null;
        const after = await this.queue.getJobState(params.jobId);
        if (after === 'unknown') return null;
        if (before === after || attempt === 4) return toStatus(job, mapState(after));
      }
    });
  }

  async listJobs(params: { state?: JobState; limit?: number; collections?: readonly string[] | undefined }): Promise<JobStatus[]> {
    const limit = params.limit ?? 100;
    const states: JobState[] = params.state ? [params.state] : ['queued', 'active', 'completed', 'failed'];
    const collections = params.collections ? new Set(params.collections) : undefined;
    if (collections?.size === 0) return [];
    return this.redisCall('listJobs', async () => {
      const perState = await Promise.all(
        states.map(async (state) => {
          // Newest `limit` matches of each BullMQ type; merged and cut below.
          const lists = await Promise.all(TYPES_BY_STATE[state].map((type) => this.newestJobs(type, limit, collections)));
          return lists.flat().map((job) => toStatus(job, state));
        }),
      );
      // A job that changed state while the types were read shows up twice: keep one.
      const unique = new Map(perState.flat().map((status) => [status.jobId, status]));
      return [...unique.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
    });
  }

  /**
   * The newest `limit` jobs of one BullMQ type, only those of `collections` when given. BullMQ cannot filter by job
   * data, so a filtered listing pages through the type newest first until it has `limit` matches, the type ends, or
   * LIST_SCAN_LIMIT jobs were read.
   */
  private async newestJobs(type: JobType, limit: number, collections: ReadonlySet<string> | undefined): Promise<IngestBullJob[]> {
    const pageSize = collections ? Math.max(limit, LIST_PAGE_SIZE) : limit;
    const matches: IngestBullJob[] = [];
    for (let start = 0; start < LIST_SCAN_LIMIT && matches.length < limit; start += pageSize) {
      const page = await this.queue.getJobs([type], start, start + pageSize - 1, false);
      for (const job of page) {
        if (job?.id && (collections === undefined || collections.has((job as IngestBullJob).data.collection))) matches.push(job as IngestBullJob);
      }
      if (page.length < pageSize || collections === undefined) break;
    }
    return matches.slice(0, limit);
  }

  async retryJob(params: { jobId: string }): Promise<JobStatus> {
    if (!JOB_ID_PATTERN.test(params.jobId)) throw new NotFoundError('job', params.jobId);
    await this.redisCall('retryJob', async () => {
      const job = await this.queue.getJob(params.jobId);
      if (!job) throw new NotFoundError('job', params.jobId);
      const state = await job.getState();
      if (state !== 'failed') throw notFailed(params.jobId, state === 'unknown' ? 'gone' : mapState(state));
      // A job failed for stalling too often carries a deferred failure ("defa") and a stall count that BullMQ's
      // retry keeps: without clearing them the retried job would fail again the moment a worker picks it up.
      await this.redis.hdel(this.queue.toKey(params.jobId), 'defa', 'stc');
      await job.updateProgress(0);
      try {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      } catch (error) {
        const now = await this.queue.getJobState(params.jobId);
        if (now !== 'failed') throw notFailed(params.jobId, now === 'unknown' ? 'gone' : mapState(now));
        throw error;
      }
      await this.trackPending([{ jobId: params.jobId, job: job.data }]);
    });
    const status = await this.getJob(params);
    if (!status) throw new NotFoundError('job', params.jobId);
    return status;
  }

  /** Adds jobs to their documents' pending sets. Best effort: a missing entry only makes a DELETE count fewer cancelled jobs. */
  private async trackPending(entries: { jobId: string; job: Pick<IngestJob, 'collection' | 'documentId'> }[]): Promise<void> {
    const multi = this.redis.multi();
    for (const { jobId, job } of entries) {
      const key = this.keys.documentPending(job.collection, job.documentId);
      multi.sadd(key, jobId).pexpire(key, DOCUMENT_MARK_TTL_MS);
    }
    await multi.exec().catch((error: unknown) => this.logger.warn({ err: error }, 'could not record pending jobs per document'));
  }

  async depth(): Promise<number> {
    return this.redisCall('depth', async () => {
      const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'waiting-children');
      return Object.values(counts).reduce((sum, count) => sum + count, 0);
    });
  }

  async uploadsInUse(): Promise<Set<string>> {
    // One MULTI reads every list a job that may still run can be in, so a job BullMQ moves between them (each move
    // is one atomic script) appears exactly once; reading them one by one could miss it.
    const keys = this.queue.keys;
    const lists = await this.redis
      .multi()
      .lrange(keys.wait as string, 0, -1)
      .lrange(keys.paused as string, 0, -1)
      .lrange(keys.active as string, 0, -1)
      .zrange(keys.prioritized as string, '0', '-1')
      .zrange(keys.delayed as string, '0', '-1')
      .zrange(keys['waiting-children'] as string, '0', '-1')
      .zrange(keys.failed as string, '0', '-1')
      .exec();
    if (!lists) throw new UpstreamError('QUEUE_UNAVAILABLE', 'Could not read the job lists from Redis');
    const ids = new Set<string>();
    for (const [error, members] of lists) {
      if (error) throw new UpstreamError('QUEUE_UNAVAILABLE', 'Could not read the job lists from Redis', { cause: error });
      for (const id of members as string[]) ids.add(id);
    }
    // A job's data never changes, so reading it after the snapshot is safe; a job removed since needs nothing.
    const names = new Set<string>();
    const all = [...ids];
    for (let start = 0; start < all.length; start += 500) {
      const batch = this.redis.pipeline();
      for (const id of all.slice(start, start + 500)) batch.hget(this.queue.toKey(id), 'data');
      for (const [error, data] of (await batch.exec()) ?? []) {
        if (error) throw new UpstreamError('QUEUE_UNAVAILABLE', 'Could not read job data from Redis', { cause: error });
        const filePath = typeof data === 'string' ? uploadPathOf(data) : undefined;
        if (filePath !== undefined) names.add(path.basename(filePath));
      }
    }
    return names;
  }

  /** Resolves when Redis answers; throws UpstreamError (QUEUE_UNAVAILABLE) otherwise. For /readyz. */
  async health(): Promise<void> {
    await this.redisCall('ping', () => this.redis.ping());
  }

  /** Stops accepting jobs and closes the producer. Running jobs belong to workers and are not waited for. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close().catch((error: unknown) => this.logger.warn({ err: error }, 'closing the queue failed'));
    if (this.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Runs a Redis operation with a time budget, turning connection failures into QUEUE_UNAVAILABLE. */
  private async redisCall<T>(operation: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([run(), timeout]);
    } catch (error) {
      if (error instanceof AppError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new UpstreamError('QUEUE_UNAVAILABLE', `The job queue (Redis) is unavailable: ${message}`, {
        cause: error,
        details: { operation },
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The upload path in a job's stored data, if any (data no worker could parse has no upload it could use). */
function uploadPathOf(data: string): string | undefined {
  try {
    const filePath = (JSON.parse(data) as { filePath?: unknown }).filePath;
    return typeof filePath === 'string' ? filePath : undefined;
  } catch {
    return undefined;
  }
}

function notFailed(jobId: string, state: string): ValidationError {
  return new ValidationError(`Job '${jobId}' is ${state}; only failed jobs can be retried`, { code: 'JOB_NOT_FAILED', details: { jobId, state } });
}

/** BullMQ's states collapsed into the API's four. */
export function mapState(state: string): JobState {
  switch (state) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    default:
      return 'queued'; // waiting, prioritized, delayed (backoff or document busy), waiting-children
  }
}

/** Reads `{ stage, percent }` progress, tolerating a bare number (a reset or another producer). */
function readProgress(progress: unknown): { stage?: IngestStage; percent: number } {
  if (typeof progress === 'number') return { percent: progress };
  if (progress && typeof progress === 'object') {
    const value = progress as Partial<IngestProgress>;
    return { stage: value.stage, percent: typeof value.percent === 'number' ? value.percent : 0 };
  }
  return { percent: 0 };
}

function toStatus(job: IngestBullJob, state: JobState): JobStatus {
  const data = job.data;
  const progress = readProgress(job.progress);
  const result = state === 'completed' ? (job.returnvalue as IngestResult | null | undefined) : undefined;
  return {
    jobId: job.id as string,
    documentId: data.documentId,
    collection: data.collection,
    source: data.source,
    state,
    progress: state === 'completed' ? 100 : progress.percent,
    stage: state === 'completed' ? 'done' : progress.stage,
    chunks: result?.chunks,
    unchanged: result?.unchanged,
    skipped: result?.skipped,
    // While a retry waits its backoff the last failure stays visible, as with the embedded runner.
    error: state === 'completed' || state === 'active' ? undefined : decodeFailure(job.failedReason),
    attempts: job.attemptsMade + (state === 'active' ? 1 : 0),
    createdAt: new Date(job.timestamp).toISOString(),
    finishedAt: (state === 'completed' || state === 'failed') && job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined,
  };
}
