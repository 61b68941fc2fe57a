import { describe, expect, it } from 'vitest';
import { compareWithIdeal, idealRequestsPerSecond, renderThroughputMarkdown, throughputValues } from './lib/throughput.js';

describe('idealRequestsPerSecond', () => {
  const inputs = { cores: 2, cpuSecondsPerRequest: 0.01, latencySeconds: 0.02 };

  it('is capped by what the clients can send at the single-client latency', () => {
    expect(idealRequestsPerSecond(inputs, 1)).toBeCloseTo(50);
    expect(idealRequestsPerSecond(inputs, 4)).toBeCloseTo(200);
  });

  it('is capped by the cores once enough clients keep them busy', () => {
    expect(idealRequestsPerSecond(inputs, 16)).toBeCloseTo(200);
    expect(idealRequestsPerSecond({ ...inputs, cores: 4 }, 16)).toBeCloseTo(400);
  });

  it('is null when an input is missing or not positive', () => {
    expect(idealRequestsPerSecond({ ...inputs, cpuSecondsPerRequest: 0 }, 4)).toBeNull();
    expect(idealRequestsPerSecond(inputs, 0)).toBeNull();
  });
});

describe('compareWithIdeal', () => {
  const result = compareWithIdeal({
    cores: 2,
    cpuSecondsPerRequest: 0.01,
    latencySeconds: 0.02,
    measured: [
      { clients: 1, requestsPerSecond: 48 },
      { clients: 4, requestsPerSecond: 110 },
      { clients: 16, requestsPerSecond: 100 },
    ],
  });

  it('puts the ideal and the ratio next to every measurement', () => {
    expect(result.cpuMsPerRequest).toBe(10);
    expect(result.rows.map((row) => [row.clients, row.idealRequestsPerSecond, row.ratio])).toEqual([
      [1, 50, 0.96],
      [4, 200, 0.55],
      [16, 200, 0.5],
    ]);
  });

  it('names the values budgets refer to', () => {
    expect(throughputValues(result)).toMatchObject({ 'throughput.ratio.c16': 0.5, 'throughput.rps.c4': 110, 'throughput.cpuMsPerRequest': 10 });
    expect(throughputValues(null)).toEqual({ 'throughput.cpuMsPerRequest': null });
  });

  it('leaves the ideal out when the CPU time was not measured', () => {
    const unmeasured = compareWithIdeal({ cores: 2, cpuSecondsPerRequest: null, latencySeconds: 0.02, measured: [{ clients: 16, requestsPerSecond: 100 }] });
    expect(unmeasured.rows[0]).toEqual({ clients: 16, requestsPerSecond: 100, idealRequestsPerSecond: null, ratio: null });
    expect(renderThroughputMarkdown(unmeasured).join('\n')).toContain('| 16 | 100.0 | – | – |');
  });

  it('renders one table row per client count', () => {
    const markdown = renderThroughputMarkdown(result).join('\n');
    expect(markdown).toContain('One request costs 10.00 ms of CPU');
    expect(markdown).toContain('| 16 | 100.0 | 200.0 | 0.50 |');
  });
});
