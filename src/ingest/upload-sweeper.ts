import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { UploadReferences } from './types.js';

/** Names the HTTP layer gives uploads (`<uuid>.upload`); nothing else in UPLOAD_DIR is ever touched. */
const UPLOAD_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.upload$/;

/** What one sweep needs. */
export interface UploadSweepParams {
  /** UPLOAD_DIR. */
  uploadDir: string;
  /** The queue, asked which uploads its jobs still need. */
  references: UploadReferences;
  /**
   * Files modified more recently than this are left alone, in ms. Must exceed the longest an upload can wait between
   * being written and its job being enqueued (the request timeout), since no job refers to it until then.
   */
  minAgeMs: number;
  /** Files removed at most per sweep; default 1000 (the rest go in the next sweep). */
  maxRemovals?: number;
  logger: Logger;
}

/** What a sweep did. */
export interface UploadSweepResult {
  /** Files removed: old enough and needed by no job. */
  removed: number;
  /** Old enough but still needed by a queued, running or failed (retryable) job. */
  inUse: number;
}

/**
 * Removes uploads no job needs any more. A job deletes its upload when it completes, but a failed job keeps it for a
 * retry, and once the queue drops the failed job (its retention) nobody would; uploads of requests that died before
 * enqueueing are left behind too. A file is removed only if it is named like an upload, older than `minAgeMs`, and
 * absent from the queue's snapshot of uploads in use, taken after the directory was listed: a file that old can no
 * longer become referenced (only a new upload request enqueues a new path), and a job that needs it is in the snapshot.
 */
export async function sweepUploads(params: UploadSweepParams): Promise<UploadSweepResult> {
  const { uploadDir, minAgeMs, logger } = params;
  const names = await readdir(uploadDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const oldEnough: string[] = [];
  const cutoff = Date.now() - minAgeMs;
  for (const name of names.filter((entry) => UPLOAD_NAME.test(entry))) {
    const info = await stat(path.join(uploadDir, name)).catch(() => undefined);
    if (info?.isFile() && info.mtimeMs < cutoff) oldEnough.push(name);
  }
  if (oldEnough.length === 0) return { removed: 0, inUse: 0 };
  const inUse = await params.references.uploadsInUse();
  const orphans = oldEnough.filter((name) => !inUse.has(name)).slice(0, params.maxRemovals ?? 1000);
  for (const name of orphans) {
    await rm(path.join(uploadDir, name), { force: true });
  }
  const result = { removed: orphans.length, inUse: oldEnough.filter((name) => inUse.has(name)).length };
  if (result.removed > 0) logger.info({ uploadDir, ...result }, 'removed uploads no job needs any more');
  return result;
}

/**
 * Sweeps once now and then every `intervalMs` (default one hour), one sweep at a time; failures are logged and the
 * next sweep tries again. `stop()` cancels the schedule and waits for a sweep in progress.
 */
export function startUploadSweeper(params: UploadSweepParams & { intervalMs?: number }): { stop(): Promise<void> } {
  let current: Promise<unknown> | undefined;
  const run = () => {
    if (current) return;
    current = sweepUploads(params)
      .catch((error: unknown) => params.logger.warn({ err: error, uploadDir: params.uploadDir }, 'upload sweep failed; retrying at the next one'))
      .finally(() => {
        current = undefined;
      });
  };
  run();
  const timer = setInterval(run, params.intervalMs ?? 60 * 60_000);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await current;
    },
  };
}
