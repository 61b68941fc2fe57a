import { describe, expect, it } from 'vitest';
import { runLoad, summarizeLoad } from './lib/load-loop.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('runLoad', () => {
  it('sends exactly maxRequests requests, reusing queries round-robin, with the given concurrency', async () => {
    const seen: string[] = [];
    let active = 0;
    let peak = 0;
    const run = await runLoad({
      queries: ['a', 'b', 'c'],
      concurrency: 4,
      maxRequests: 10,
      maxDurationMs: 10_000,
      send: async (query) => {
        seen.push(query);
        active++;
        peak = Math.max(peak, active);
        await sleep(5);
        active--;
        return { ok: true, clientMs: 5, server: { embedMs: 1, searchMs: 2, rerankMs: 0, totalMs: 3 } };
      },
    });
    expect(run.samples).toHaveLength(10);
    expect(run.stoppedBy).toBe('count');
    expect(peak).toBe(4);
    expect(seen.filter((query) => query === 'a')).toHaveLength(4);
  });

  it('stops starting requests at the time cap and records failures without aborting', async () => {
    let calls = 0;
    const run = await runLoad({
      queries: ['q'],
      concurrency: 1,
      maxRequests: 1_000_000,
      maxDurationMs: 60,
      send: async () => {
        calls++;
        await sleep(10);
        if (calls % 2 === 0) throw new Error('boom');
        return { ok: true, clientMs: 10, server: { embedMs: 4, searchMs: 5, rerankMs: 0, totalMs: 9 } };
      },
    });
    expect(run.stoppedBy).toBe('time');
    expect(run.samples.length).toBeLessThan(20);
    const summary = summarizeLoad(run);
    expect(summary.errors).toBe(Math.floor(run.samples.length / 2));
    expect(summary.errorExamples).toEqual(['boom']);
    expect(summary.client?.count).toBe(run.samples.length - summary.errors);
    expect(summary.server.totalMs?.p50).toBe(9);
  });

  it('stops starting requests once the stop condition holds', async () => {
    let calls = 0;
    const run = await runLoad({
      queries: ['q'],
      concurrency: 2,
      maxRequests: 1_000,
      maxDurationMs: 60_000,
      stop: () => calls >= 5,
      send: async () => {
        calls++;
        await sleep(1);
        return { ok: true, clientMs: 1 };
      },
    });
    expect(run.stoppedBy).toBe('stop');
    expect(run.samples.length).toBeGreaterThanOrEqual(5);
    expect(run.samples.length).toBeLessThanOrEqual(6);
  });
});
