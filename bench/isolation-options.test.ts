import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseIsolationOptions } from './lib/isolation-options.js';
import { freePort } from './lib/service-process.js';

describe('parseIsolationOptions', () => {
  it('uploads every page in a full run and a bounded subset with --short', () => {
    expect(parseIsolationOptions([])).toMatchObject({ short: false, pages: undefined, uploadsInFlight: 4, idleRequests: 300, maxIngestSeconds: 1200 });
    expect(parseIsolationOptions(['--short'])).toMatchObject({ short: true, pages: 24, idleRequests: 150, maxIngestSeconds: 75 });
    expect(parseIsolationOptions(['--short', '--pages', '8', '--uploads-in-flight', '2'])).toMatchObject({ pages: 8, uploadsInFlight: 2 });
  });

  it('names the flag that is wrong', () => {
    expect(() => parseIsolationOptions(['--uploads-in-flight', '0'])).toThrow(/--uploads-in-flight takes a whole number from 1 to 64, got '0'/);
  });
});

describe('freePort', () => {
  it('hands out the first free port of the range, skipping a busy one', async () => {
    const busy = net.createServer();
    const busyPort = await new Promise<number>((resolve) => busy.listen(0, '127.0.0.1', () => resolve((busy.address() as net.AddressInfo).port)));
    try {
      const port = await freePort(`${busyPort}-${busyPort + 1}`);
      expect(port).toBe(busyPort + 1);
    } finally {
      busy.close();
    }
  });

  it('rejects a malformed range', async () => {
    await expect(freePort('18500')).rejects.toThrow(/BENCH_PORT_RANGE must look like 18500-18599/);
  });
});
