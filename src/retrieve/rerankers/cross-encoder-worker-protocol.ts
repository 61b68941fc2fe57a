import { AppError, UpstreamError, type ErrorCategory } from '../../errors/index.js';
import type { CrossEncoderRerankerOptions } from './cross-encoder-reranker.js';

/** Messages between CrossEncoderWorkerPool and its worker processes (over the IPC channel, JSON-safe). */

/** Pool → worker: score one slice of a request's passages. */
export interface WorkerRequest {
  kind: 'score';
  id: number;
  query: string;
  passages: string[];
}

/** Pool → worker: everything the worker receives; `start` comes first, once. */
export type PoolMessage = { kind: 'start'; options: CrossEncoderRerankerOptions } | WorkerRequest;

/** An AppError as it crosses the process boundary (stack and cause stay in the worker). */
export interface SerializedError {
  code: string;
  category: ErrorCategory;
  message: string;
  details?: Record<string, unknown> | undefined;
  retryable: boolean;
}

/** Worker → pool. */
export type WorkerReply =
  | { kind: 'ready'; pairTokens: number }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'scores'; id: number; scores: number[] }
  | { kind: 'error'; id: number; error: SerializedError };

/** Keeps what callers branch on (code, category, details, retryability); anything that is not an AppError is a system fault. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof AppError) {
    return { code: error.code, category: error.category, message: error.message, details: error.details, retryable: error.isRetryable };
  }
  return { code: 'RERANKER_FAILED', category: 'upstream', message: `Cross-encoder worker failed: ${error instanceof Error ? error.message : String(error)}`, retryable: true };
}

/** The AppError (UpstreamError for upstream faults, so the retriever's fallback applies) a serialized error stands for. */
export function deserializeError(error: SerializedError): AppError {
  const options = { details: error.details, retryable: error.retryable };
  return error.category === 'upstream' ? new UpstreamError(error.code, error.message, options) : new AppError(error.code, error.category, error.message, options);
}
