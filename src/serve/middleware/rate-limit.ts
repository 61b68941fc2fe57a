import { LRUCache } from 'lru-cache';
import { RateLimitedError } from '../../errors/index.js';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Outcome of taking one token. `limit` is undefined when rate limiting is off for the caller. */
export type RateDecision =
  | { allowed: true; limit: number | undefined; remaining: number }
  | { allowed: false; limit: number; remaining: 0; error: RateLimitedError };

/**
 * Per-caller token buckets, in memory: each caller may burst up to `perMinute` requests and refills at
 * `perMinute / 60` per second. Limits are per API process (N replicas allow N× the rate). At most
 * `maxCallers` buckets are kept (least recently used dropped), so unauthenticated address churn cannot grow memory.
 */
export class TokenBucketRateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly now: () => number;

  constructor(options: { maxCallers?: number; now?: () => number } = {}) {
    this.buckets = new LRUCache({ max: options.maxCallers ?? 100_000 });
    this.now = options.now ?? (() => performance.now());
  }

  /** Takes one token for `key`; `perMinute` 0 disables limiting. */
  take(params: { key: string; perMinute: number }): RateDecision {
    const { key, perMinute } = params;
    if (perMinute <= 0) return { allowed: true, limit: undefined, remaining: 0 };
    const now = this.now();
    const perMs = perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: perMinute, updatedMs: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updatedMs) * perMs);
    bucket.updatedMs = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.buckets.set(key, bucket);
      return { allowed: true, limit: perMinute, remaining: Math.floor(bucket.tokens) };
    }
    this.buckets.set(key, bucket);
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
    return {
      allowed: false,
      limit: perMinute,
      remaining: 0,
      error: new RateLimitedError('RATE_LIMITED', `Rate limit of ${perMinute} requests per minute exceeded; retry in ${retryAfterSeconds} s`, retryAfterSeconds, {
        details: { limitPerMinute: perMinute, retryAfterSeconds },
      }),
    };
  }
}
