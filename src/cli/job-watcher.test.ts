import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../ingest/types.js';
import { JobWatcher, type JobSource } from './job-watcher.js';
import { ServiceError } from './service-client.js';

function status(jobId: string, state: JobStatus['state'], extra: Partial<JobStatus> = {}): JobStatus {
  return { jobId, documentId: jobId, collection: 'c', source: jobId, state, progress: state === 'completed' ? 100 : 0, attempts: 1, createdAt: new Date().toISOString(), ...extra };
}

/** A service double: jobs complete when the test says so; every call is counted. */
class FakeJobs implements JobSource {
  readonly jobs = new Map<string, JobStatus>();
  calls = { list: 0, single: 0 };
  /** Job ids the listing leaves out, as if newer jobs of other clients had pushed them past the limit. */
  readonly unlisted = new Set<string>();
  listing: 'ok' | 'refused' = 'ok';

  /** The `collection` of the last listing request. */
  listedCollection: string | undefined;

  async listJobs(params: { limit: number; collection?: string | undefined }): Promise<JobStatus[]> {
    this.calls.list += 1;
    this.listedCollection = params.collection;
    if (this.listing === 'refused') throw new ServiceError(404, 'NOT_FOUND', 'no such route');
    return [...this.jobs.values()].filter((job) => !this.unlisted.has(job.jobId)).slice(0, params.limit);
  }

  async job(jobId: string): Promise<JobStatus> {
    this.calls.single += 1;
    const job = this.jobs.get(jobId);
    if (!job) throw new ServiceError(404, 'NOT_FOUND', `no job ${jobId}`);
    return job;
  }
}

const fast = { intervalMs: 5, maxIntervalMs: 10, maxSinglePollMs: 20 };
const noDeadline = { deadline: Number.MAX_SAFE_INTEGER, onProgress: () => {} };

describe('JobWatcher', () => {
  it('settles many jobs through listings, with no per-job requests', async () => {
    const service = new FakeJobs();
    const ids = Array.from({ length: 40 }, (_, index) => `job-${index}`);
    for (const id of ids) service.jobs.set(id, status(id, 'completed', { chunks: 3 }));
    service.jobs.set('job-bad', status('job-bad', 'failed', { error: { code: 'NO_EXTRACTABLE_TEXT', message: 'no text' } }));
    const watcher = new JobWatcher(service, fast);
    const results = await Promise.all([...ids, 'job-bad'].map((id) => watcher.wait(id, noDeadline)));
    expect(results.filter((job) => job?.state === 'completed')).toHaveLength(40);
    expect(results.at(-1)).toMatchObject({ state: 'failed', error: { code: 'NO_EXTRACTABLE_TEXT' } });
    expect(service.calls.single).toBe(0);
    expect(service.listedCollection).toBeUndefined();
    expect(service.calls.list).toBeLessThanOrEqual(2);
  });

  it('reports progress of running jobs and settles them when they finish', async () => {
    const service = new FakeJobs();
    service.jobs.set('slow', status('slow', 'active', { progress: 40 }));
    const seen: number[] = [];
    const watcher = new JobWatcher(service, fast);
    const waiting = watcher.wait('slow', { deadline: Number.MAX_SAFE_INTEGER, onProgress: (fraction) => seen.push(fraction) });
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    service.jobs.set('slow', status('slow', 'completed', { chunks: 7 }));
    expect(await waiting).toMatchObject({ state: 'completed', chunks: 7 });
    expect(seen[0]).toBeCloseTo(0.4);
    expect(seen.at(-1)).toBe(1);
  });

  it('fetches a job the listing misses on its own, and every job when the listing is refused', async () => {
    const service = new FakeJobs();
    service.jobs.set('old', status('old', 'completed', { chunks: 1 }));
    service.unlisted.add('old');
    expect(await new JobWatcher(service, fast).wait('old', noDeadline)).toMatchObject({ state: 'completed' });
    expect(service.calls.single).toBe(1);

    const refusing = new FakeJobs();
    refusing.listing = 'refused';
    for (const id of ['a', 'b']) refusing.jobs.set(id, status(id, 'completed'));
    const watcher = new JobWatcher(refusing, fast);
    await Promise.all(['a', 'b'].map((id) => watcher.wait(id, noDeadline)));
    expect(refusing.calls.list).toBe(1);
    expect(refusing.calls.single).toBe(2);
  });

  it('rejects a job the service no longer knows, and gives up at the deadline with the last status', async () => {
    const service = new FakeJobs();
    service.listing = 'refused';
    await expect(new JobWatcher(service, fast).wait('gone', noDeadline)).rejects.toMatchObject({ status: 404 });

    service.jobs.set('stuck', status('stuck', 'queued'));
    const last = await new JobWatcher(service, fast).wait('stuck', { deadline: Date.now() + 30, onProgress: () => {} });
    expect(last).toMatchObject({ state: 'queued' });
  });

  it("asks listings for the watched collection's jobs only", async () => {
    const service = new FakeJobs();
    service.jobs.set('job-1', status('job-1', 'completed'));
    const watcher = new JobWatcher(service, { ...fast, collection: 'handbook' });
    await watcher.wait('job-1', noDeadline);
    expect(service.listedCollection).toBe('handbook');
  });
});
