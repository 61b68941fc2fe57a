import { summarize, round, type Summary } from './stats.js';

/**
 * A closed-loop load generator: `concurrency` clients each send one request, wait for the answer and send the
 * next, until `maxRequests` requests were sent or `maxDurationMs` passed, whichever comes first.
 */

/** What one request measured. Server timings are absent for failed requests. */
export interface Sample {
  ok: boolean;
  clientMs: number;
  server?: { embedMs: number; searchMs: number; rerankMs: number; totalMs: number };
  error?: string;
}

/** Options of `runLoad`. */
export interface LoadOptions {
  queries: readonly string[];
  concurrency: number;
  /** Requests to send; queries are reused round-robin when there are fewer. */
  maxRequests: number;
  /** Stop starting new requests after this long (requests already sent complete). */
  maxDurationMs: number;
  /** Stop starting new requests once this returns true (e.g. when the background work being measured against ends). */
  stop?: () => boolean;
  send: (query: string) => Promise<Sample>;
}

/** Raw outcome of a load run. */
export interface LoadRun {
  samples: Sample[];
  wallMs: number;
  stoppedBy: 'count' | 'time' | 'stop';
}

/** Runs the load; a `send` that throws is recorded as a failed sample, never aborts the run. */
export async function runLoad(options: LoadOptions): Promise<LoadRun> {
  if (options.queries.length === 0) throw new Error('runLoad needs at least one query');
  const samples: Sample[] = [];
  const started = performance.now();
  const deadline = started + options.maxDurationMs;
  let next = 0;
  let stoppedBy: LoadRun['stoppedBy'] = 'count';
  const client = async () => {
    for (;;) {
      if (next >= options.maxRequests) return;
      if (performance.now() >= deadline) {
        stoppedBy = 'time';
        return;
      }
      if (options.stop?.()) {
        stoppedBy = 'stop';
        return;
      }
      const query = options.queries[next % options.queries.length] as string;
      next++;
      const sentAt = performance.now();
      try {
        samples.push(await options.send(query));
      } catch (error) {
        samples.push({ ok: false, clientMs: performance.now() - sentAt, error: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, client));
  return { samples, wallMs: performance.now() - started, stoppedBy };
}

/** A load run reduced to distributions: client round trip and each server-side stage. */
export interface LoadSummary {
  requests: number;
  errors: number;
  errorRate: number;
  /** First distinct error messages, for the report. */
  errorExamples: string[];
  wallSeconds: number;
  throughputRps: number;
  stoppedBy: LoadRun['stoppedBy'];
  client: Summary | null;
  server: { embedMs: Summary | null; searchMs: Summary | null; rerankMs: Summary | null; totalMs: Summary | null };
}

/** Summarises a run; latencies use successful requests only, throughput counts successful requests. */
export function summarizeLoad(run: LoadRun): LoadSummary {
  const ok = run.samples.filter((sample) => sample.ok);
  const stage = (pick: (timings: NonNullable<Sample['server']>) => number) =>
    summarize(ok.flatMap((sample) => (sample.server ? [pick(sample.server)] : [])));
  const errors = run.samples.length - ok.length;
  return {
    requests: run.samples.length,
    errors,
    errorRate: run.samples.length === 0 ? 0 : round(errors / run.samples.length, 4),
    errorExamples: [...new Set(run.samples.filter((sample) => !sample.ok).map((sample) => sample.error ?? 'unknown'))].slice(0, 3),
    wallSeconds: round(run.wallMs / 1000),
    throughputRps: run.wallMs === 0 ? 0 : round(ok.length / (run.wallMs / 1000), 1),
    stoppedBy: run.stoppedBy,
    client: summarize(ok.map((sample) => sample.clientMs)),
    server: {
      embedMs: stage((timings) => timings.embedMs),
      searchMs: stage((timings) => timings.searchMs),
      rerankMs: stage((timings) => timings.rerankMs),
      totalMs: stage((timings) => timings.totalMs),
    },
  };
}
