import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatus } from '../ingest/types.js';
import { ServiceError, type ServiceClient } from './service-client.js';

/** The service calls the watcher makes (a ServiceClient, or a double in tests). */
export type JobSource = Pick<ServiceClient, 'job' | 'listJobs'>;

/** Timing of the watcher's rounds; the defaults suit a bulk run. */
export interface JobWatcherOptions {
  /** Pause between rounds while jobs keep finishing, in ms (default 500). */
  intervalMs?: number;
  /** Longest pause, reached by ×1.5 steps while rounds see nothing finish, in ms (default 2000). */
  maxIntervalMs?: number;
  /** Longest pause between GETs of a single job the listing does not show, in ms (default 5000). */
  maxSinglePollMs?: number;
  /** Jobs listed beyond the ones watched, room for other clients' newer jobs (default 50). */
  listingSlack?: number;
  /**
   * Collection of the watched jobs: listings ask only for its jobs, so other collections' newer jobs cannot crowd
   * them out (a service without the `collection` filter ignores it and the slack still applies).
   */
  collection?: string | undefined;
}

interface Watched {
  jobId: string;
  deadline: number;
  onProgress: (fraction: number) => void;
  resolve: (status: JobStatus | undefined) => void;
  reject: (error: unknown) => void;
  last?: JobStatus;
  /** When the job may next be fetched on its own, because the listing did not show it. */
  nextSinglePollAt: number;
  singlePollDelayMs: number;
}

/**
 * Waits for many ingestion jobs with one `GET /v1/jobs` listing per round instead of one `GET /v1/jobs/{id}` per job
 * and poll: a bulk run's requests are then about one per document (its upload), which keeps an unchanged re-run
 * under the API's per-client rate limit. Jobs the listing does not show (pushed out by newer jobs, or a service that
 * refuses the listing) are fetched one by one with backoff.
 */
export class JobWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly intervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly maxSinglePollMs: number;
  private readonly listingSlack: number;
  private readonly collection: string | undefined;
  private listingRefused = false;
  private running = false;

  constructor(
    private readonly source: JobSource,
    options: JobWatcherOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 500;
    this.maxIntervalMs = options.maxIntervalMs ?? 2000;
    this.maxSinglePollMs = options.maxSinglePollMs ?? 5000;
    this.listingSlack = options.listingSlack ?? 50;
    this.collection = options.collection;
  }

  /**
   * Resolves with the job's status once it completed or failed, or at `deadline` (epoch ms) with the last status seen
   * (undefined if none). Rejects when fetching the job fails for good (e.g. 404: the service forgot it).
   */
  wait(jobId: string, params: { deadline: number; onProgress: (fraction: number) => void }): Promise<JobStatus | undefined> {
    return new Promise((resolve, reject) => {
      // Not fetched alone before a listing that started after this call has missed it.
      this.watched.set(jobId, { jobId, ...params, resolve, reject, nextSinglePollAt: Date.now(), singlePollDelayMs: this.intervalMs });
      if (!this.running) {
        this.running = true;
        void this.loop();
      }
    });
  }

  private async loop(): Promise<void> {
    let interval = this.intervalMs;
    try {
      while (this.watched.size > 0) {
        await sleep(interval);
        const settled = await this.round();
        interval = settled > 0 ? this.intervalMs : Math.min(this.maxIntervalMs, interval * 1.5);
      }
    } catch (error) {
      for (const watched of this.watched.values()) watched.reject(error);
      this.watched.clear();
    } finally {
      this.running = false;
    }
  }

  /** One listing, then single GETs for watched jobs it missed; returns how many jobs settled. */
  private async round(): Promise<number> {
    let settled = 0;
    const listed = new Map<string, JobStatus>();
    const listingStartedAt = Date.now();
    if (!this.listingRefused) {
      try {
        const jobs = await this.source.listJobs({ limit: Math.min(1000, this.watched.size + this.listingSlack), collection: this.collection });
        for (const job of jobs) listed.set(job.jobId, job);
      } catch (error) {
        // A client error will not change (a proxy that blocks the route, a key without it): stop asking. Anything else
        // already outlasted the client's retries; this round falls back to single GETs.
        if (error instanceof ServiceError && error.status >= 400 && error.status < 500) this.listingRefused = true;
      }
    }
    const single: Watched[] = [];
    for (const watched of this.watched.values()) {
      const status = listed.get(watched.jobId);
      if (status) settled += this.apply(watched, status);
      else if (watched.nextSinglePollAt < listingStartedAt) single.push(watched);
    }
    await Promise.all(
      single.map(async (watched) => {
        try {
          settled += this.apply(watched, await this.source.job(watched.jobId));
        } catch (error) {
          this.watched.delete(watched.jobId);
          watched.reject(error);
          settled += 1;
          return;
        }
        watched.nextSinglePollAt = Date.now() + watched.singlePollDelayMs;
        watched.singlePollDelayMs = Math.min(this.maxSinglePollMs, watched.singlePollDelayMs * 2);
      }),
    );
    for (const watched of this.watched.values()) {
      if (Date.now() <= watched.deadline) continue;
      this.watched.delete(watched.jobId);
      watched.resolve(watched.last);
      settled += 1;
    }
    return settled;
  }

  /** Records a status; settles the wait (returns 1) when the job is done. */
  private apply(watched: Watched, status: JobStatus): number {
    watched.last = status;
    watched.onProgress(status.progress / 100);
    if (status.state !== 'completed' && status.state !== 'failed') return 0;
    this.watched.delete(watched.jobId);
    watched.resolve(status);
    return 1;
  }
}
