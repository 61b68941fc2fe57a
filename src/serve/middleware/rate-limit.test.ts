import { describe, expect, it } from 'vitest';
import { TokenBucketRateLimiter } from './rate-limit.js';

describe('TokenBucketRateLimiter', () => {
  it('allows a burst of perMinute, then refuses with a Retry-After until a token refills', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ now: () => now });
    for (let i = 0; i < 3; i++) expect(limiter.take({ key: 'a', perMinute: 3 }).allowed).toBe(true);
    const refused = limiter.take({ key: 'a', perMinute: 3 });
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    expect(refused.error.code).toBe('RATE_LIMITED');
    expect(refused.error.retryAfterSeconds).toBe(20);
    now += 19_000;
    expect(limiter.take({ key: 'a', perMinute: 3 }).allowed).toBe(false);
    now += 1_001;
    expect(limiter.take({ key: 'a', perMinute: 3 }).allowed).toBe(true);
  });

  it('keeps callers apart and never lets a bucket exceed its size', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ now: () => now });
    expect(limiter.take({ key: 'a', perMinute: 1 }).allowed).toBe(true);
    expect(limiter.take({ key: 'b', perMinute: 1 }).allowed).toBe(true);
    expect(limiter.take({ key: 'a', perMinute: 1 }).allowed).toBe(false);
    now += 3_600_000;
    expect(limiter.take({ key: 'a', perMinute: 1 })).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.take({ key: 'a', perMinute: 1 }).allowed).toBe(false);
  });

  it('treats 0 per minute as unlimited', () => {
    const limiter = new TokenBucketRateLimiter();
    for (let i = 0; i < 1000; i++) expect(limiter.take({ key: 'a', perMinute: 0 }).allowed).toBe(true);
  });
});
