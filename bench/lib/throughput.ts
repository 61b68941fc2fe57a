import { round } from './stats.js';

/**
 * Throughput against an ideal: what the machine could serve if every core did nothing but this request's CPU work,
 * and no request waited for anything else. One request's CPU time comes from the service process tree during the
 * single-client run (CPU seconds ÷ requests).
 */

/** Inputs of the ideal, all measured in the same run. */
export interface IdealInputs {
  /** Cores the service may use (`os.availableParallelism()`, what `nproc` prints). */
  cores: number;
  /** CPU seconds of the service process tree per request, single client. */
  cpuSecondsPerRequest: number;
  /** Mean client latency of one request at one client, in seconds. */
  latencySeconds: number;
}

/**
 * Ideal requests/s at `clients` closed-loop clients: min(cores ÷ CPU seconds per request, clients ÷ latency).
 * The first bound is the machine saturated by the service's work; the second is what `clients` clients can send
 * when each request still takes the single-client latency. Null when an input is missing or not positive.
 */
export function idealRequestsPerSecond(inputs: IdealInputs, clients: number): number | null {
  const { cores, cpuSecondsPerRequest, latencySeconds } = inputs;
  if (!(cores > 0 && cpuSecondsPerRequest > 0 && latencySeconds > 0 && clients > 0)) return null;
  return Math.min(cores / cpuSecondsPerRequest, clients / latencySeconds);
}

/** One row of the throughput table. */
export interface ThroughputRow {
  clients: number;
  requestsPerSecond: number;
  idealRequestsPerSecond: number | null;
  /** Measured ÷ ideal; 1.0 is the best the machine can do. */
  ratio: number | null;
}

/** The throughput of a concurrency sweep next to the ideal of the same inputs. */
export interface ThroughputResult {
  cores: number;
  /** CPU milliseconds of the service process tree per request at one client. */
  cpuMsPerRequest: number | null;
  /** Mean client latency at one client, milliseconds. */
  latencyMs: number | null;
  rows: ThroughputRow[];
}

/** Builds the table from measured requests/s per client count. */
export function compareWithIdeal(params: { cores: number; cpuSecondsPerRequest: number | null; latencySeconds: number | null; measured: readonly { clients: number; requestsPerSecond: number }[] }): ThroughputResult {
  const inputs = params.cpuSecondsPerRequest !== null && params.latencySeconds !== null ? { cores: params.cores, cpuSecondsPerRequest: params.cpuSecondsPerRequest, latencySeconds: params.latencySeconds } : null;
  return {
    cores: params.cores,
    cpuMsPerRequest: params.cpuSecondsPerRequest === null ? null : round(params.cpuSecondsPerRequest * 1000),
    latencyMs: params.latencySeconds === null ? null : round(params.latencySeconds * 1000),
    rows: params.measured.map(({ clients, requestsPerSecond }) => {
      const ideal = inputs ? idealRequestsPerSecond(inputs, clients) : null;
      return { clients, requestsPerSecond, idealRequestsPerSecond: ideal === null ? null : round(ideal, 1), ratio: ideal === null || ideal === 0 ? null : round(requestsPerSecond / ideal, 3) };
    }),
  };
}

/** Named values for budgets: `throughput.ratio.c<clients>`, `throughput.rps.c<clients>`, `throughput.cpuMsPerRequest`. */
export function throughputValues(result: ThroughputResult | null): Record<string, number | null> {
  const values: Record<string, number | null> = { 'throughput.cpuMsPerRequest': result?.cpuMsPerRequest ?? null };
  for (const row of result?.rows ?? []) {
    values[`throughput.ratio.c${row.clients}`] = row.ratio;
    values[`throughput.rps.c${row.clients}`] = row.requestsPerSecond;
  }
  return values;
}

/** Markdown table of a throughput result, with the method in one line. */
export function renderThroughputMarkdown(result: ThroughputResult): string[] {
  const value = (number: number | null, digits = 1) => (number === null ? '–' : number.toFixed(digits));
  return [
    `One request costs ${value(result.cpuMsPerRequest, 2)} ms of CPU in the service process tree (API and its child processes, /proc utime + stime, single client); mean latency at one client ${value(result.latencyMs, 2)} ms; ${result.cores} cores. Ideal = min(cores ÷ CPU per request, clients ÷ single-client latency).`,
    '',
    '| clients | req/s | ideal req/s | measured ÷ ideal |',
    '| ---: | ---: | ---: | ---: |',
    ...result.rows.map((row) => `| ${row.clients} | ${value(row.requestsPerSecond)} | ${value(row.idealRequestsPerSecond)} | ${value(row.ratio, 2)} |`),
    '',
  ];
}
