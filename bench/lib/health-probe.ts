import type { ServiceClient } from './http-client.js';
import { sleep } from './service-process.js';
import { summarize, type Summary } from './stats.js';

/**
 * A liveness prober: GET /healthz, a short pause, again, until stopped. /healthz does no work, so its round trip is
 * how long a request waits for the API's event loop: the first thing an orchestrator's probe would notice.
 */

/** Round trips of the probe, in milliseconds, and the probes that failed or answered non-200. */
export interface HealthProbeResult {
  requests: number;
  errors: number;
  latencyMs: Summary | null;
}

/** A running probe. */
export interface HealthProbe {
  /** Stops probing, waits for the request in flight and summarises. */
  stop(): Promise<HealthProbeResult>;
}

/** Starts probing `client`'s /healthz every `intervalMs` (after each answer). Use a client of its own: its socket must not queue behind searches. */
export function startHealthProbe(client: ServiceClient, intervalMs = 20): HealthProbe {
  const samples: number[] = [];
  let errors = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const exchange = await client.request('GET', '/healthz');
        if (exchange.status === 200) samples.push(exchange.clientMs);
        else errors++;
      } catch {
        errors++;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { requests: samples.length + errors, errors, latencyMs: summarize(samples) };
    },
  };
}
