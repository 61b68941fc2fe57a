import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { UpstreamError } from '../../errors/index.js';
import type { Logger } from '../../logger.js';

// KEYS[1] lock, KEYS[2] pending deletes (sorted set: owner → expiry, ms); ARGV[1] token, ARGV[2] owner prefix,
// ARGV[3] ttl ms, ARGV[4] '1' when the caller is a DELETE (it must not wait for itself or for another DELETE).
const ACQUIRE = `
if ARGV[4] ~= '1' then
  local now = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
  if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
end
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

/** Where a document's lock lives, and whose it is. */
export interface DocumentLockParams {
  redis: Redis;
  /** The lock key (`ingestKeys(...).documentLock`). */
  key: string;
  /** The document's pending-deletes key (`ingestKeys(...).documentDeletes`): while it holds a live entry, jobs do not get the lock. */
  deletesKey: string;
  /** Names the holder: a job id (so the rerun of a dead run takes its lock over at once) or a DELETE's id. */
  owner: string;
  /** How long the lock lives without renewal, in ms; it is renewed every ttlMs/4 while held. */
  ttlMs: number;
  /** True for a DELETE: it ignores pending deletes, which only keep jobs out. */
  forDelete?: boolean;
  logger: Logger;
}

/**
 * A per-document lock in Redis shared by the API and every worker process: SET with a TTL, renewed while held.
 * The value names the holder, so the rerun of a job whose worker died takes the lock over at once instead of
 * waiting for it to expire; the dead run cannot write any more, because a run confirms the lock is still its own
 * right before writing to the store. While a DELETE of the document is pending, jobs do not get the lock, so a
 * job enqueued during the DELETE runs after it (see BullMqQueue.deleteDocument).
 */
export class RedisDocumentLock {
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

  /** The lock, or null when another holder has it (or, for a job, a DELETE of the document is pending). */
  static async acquire(params: DocumentLockParams): Promise<RedisDocumentLock | null> {
    const owner = `${params.owner}|`;
    const token = `${owner}${randomUUID()}`;
    const acquired = await params.redis.eval(ACQUIRE, 2, params.key, params.deletesKey, token, owner, String(params.ttlMs), params.forDelete ? '1' : '0');
    return acquired === 1 ? new RedisDocumentLock(params.redis, params.key, token, params.ttlMs, params.logger) : null;
  }

  /** Tries every `pollMs` until the lock is had or `waitMs` has passed (then null). */
  static async acquireWithin(params: DocumentLockParams & { waitMs: number; pollMs?: number }): Promise<RedisDocumentLock | null> {
    const deadline = Date.now() + params.waitMs;
    for (;;) {
      const lock = await RedisDocumentLock.acquire(params);
      if (lock || Date.now() >= deadline) return lock;
      await new Promise((resolve) => setTimeout(resolve, Math.min(params.pollMs ?? 100, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Throws (retryable) unless this holder still has the lock; extends it. */
  async confirm(): Promise<void> {
    if (!(await this.renew())) {
      throw new UpstreamError('DOCUMENT_LOCK_LOST', 'This run lost the document lock (its worker stalled); another run owns the document now', { retryable: true });
    }
  }

  /** Gives the lock up if still held; never throws (an unreleased lock expires by itself). */
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
