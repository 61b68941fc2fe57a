import { describe, expect, it } from 'vitest';
import { LoadWithBackoff } from './load-with-backoff.js';

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('LoadWithBackoff', () => {
  it('shares one load between concurrent callers and keeps a success', async () => {
    let calls = 0;
    const loader = new LoadWithBackoff(async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return 'model';
    });
    expect(await Promise.all([loader.get(), loader.get(), loader.get()])).toEqual(['model', 'model', 'model']);
    expect(await loader.get()).toBe('model');
    expect(calls).toBe(1);
  });

  it('answers with the remembered error during the back-off, then tries again with a doubled wait', async () => {
    const time = clock();
    let calls = 0;
    const loader = new LoadWithBackoff(
      () => {
        calls++;
        return Promise.reject(new Error(`attempt ${calls} failed`));
      },
      { initialRetryMs: 100, maxRetryMs: 250, now: time.now },
    );
    await expect(loader.get()).rejects.toThrow('attempt 1 failed');
    await expect(loader.get()).rejects.toThrow('attempt 1 failed');
    expect(calls).toBe(1);
    // First wait: 100 ms.
    time.advance(99);
    await expect(loader.get()).rejects.toThrow('attempt 1 failed');
    time.advance(1);
    await expect(loader.get()).rejects.toThrow('attempt 2 failed');
    // Doubled: 200 ms.
    time.advance(199);
    await expect(loader.get()).rejects.toThrow('attempt 2 failed');
    time.advance(1);
    await expect(loader.get()).rejects.toThrow('attempt 3 failed');
    // Doubled again but capped at maxRetryMs: 250 ms, not 400.
    time.advance(249);
    await expect(loader.get()).rejects.toThrow('attempt 3 failed');
    time.advance(1);
    await expect(loader.get()).rejects.toThrow('attempt 4 failed');
    expect(calls).toBe(4);
  });

  it('recovers once a later attempt succeeds, and reset() allows an attempt at once', async () => {
    const time = clock();
    let fail = true;
    const loader = new LoadWithBackoff(() => (fail ? Promise.reject(new Error('missing')) : Promise.resolve(42)), {
      initialRetryMs: 1_000,
      now: time.now,
    });
    await expect(loader.get()).rejects.toThrow('missing');
    fail = false;
    await expect(loader.get()).rejects.toThrow('missing');
    loader.reset(); // an attempt may start at once, without advancing the clock
    expect(await loader.get()).toBe(42);
    fail = true;
    expect(await loader.get()).toBe(42); // a success is kept
  });
});
