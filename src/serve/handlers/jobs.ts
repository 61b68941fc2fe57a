import { NotFoundError } from '../../errors/index.js';
import type { JobState } from '../../ingest/types.js';
import type { HandlerDeps } from './deps.js';

/** One job's status, or 404. */
export async function getJob(deps: HandlerDeps, input: { jobId: string }) {
  const job = await deps.queue.getJob(input);
  if (!job) throw new NotFoundError('job', input.jobId);
  return job;
}

/**
 * Recent jobs, newest first, optionally in one state, of `collection` (when asked) among those the caller may see
 * (`granted`, undefined: all). `limit` counts only jobs the caller gets.
 */
export async function listJobs(
  deps: HandlerDeps,
  input: { state?: JobState | undefined; limit: number; collection?: string | undefined; granted?: ReadonlySet<string> | undefined },
) {
  const { collection, granted, ...rest } = input;
  const wanted = collection !== undefined ? [collection] : undefined;
  const collections = granted === undefined ? wanted : (wanted ?? [...granted]).filter((name) => granted.has(name));
  if (collections?.length === 0) return { jobs: [] };
  return { jobs: await deps.queue.listJobs({ ...rest, collections }) };
}

/** Re-queues a failed job. */
export async function retryJob(deps: HandlerDeps, input: { jobId: string }) {
  return deps.queue.retryJob(input);
}
