import { NotFoundError } from '../../errors/index.js';
import type { JobState } from '../../ingest/types.js';
import type { HandlerDeps } from './deps.js';

/** One job's status, or 404. */
export async function getJob(deps: HandlerDeps, input: { jobId: string }) {
  const job = await deps.queue.getJob(input);
  if (!job) throw new NotFoundError('job', input.jobId);
  return job;
}

/** Recent jobs, newest first, optionally in one state. */
export async function listJobs(deps: HandlerDeps, input: { state?: JobState | undefined; limit: number }) {
  return { jobs: await deps.queue.listJobs(input) };
}

/** Re-queues a failed job. */
export async function retryJob(deps: HandlerDeps, input: { jobId: string }) {
  return deps.queue.retryJob(input);
}
