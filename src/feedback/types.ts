/**
 * Port of the feedback stage: callers rate a response by its request id; records are kept durably for evaluation.
 * Adapters: `jsonl-feedback-store.ts` (embedded default), `redis-feedback-store.ts` (when REDIS_URL is set).
 */

/** Ratings a caller may give. */
export type FeedbackRating = 'up' | 'down';

/** One piece of feedback as stored. */
export interface FeedbackRecord {
  /** Server-assigned UUID. */
  feedbackId: string;
  /** The X-Request-Id of the response being rated. */
  requestId: string;
  rating: FeedbackRating;
  /** Free text, at most 2000 characters (enforced by the HTTP schema). */
  comment?: string | undefined;
  /** Name of the API key that sent it (`anonymous` when the service runs open). */
  keyName: string;
  /** ISO-8601 time the service received it. */
  receivedAt: string;
}

/** Append-only, durable feedback storage. */
export interface FeedbackStore {
  /** Backend name for logs and /readyz, e.g. `jsonl`. */
  readonly name: string;
  /** Resolves once the record is durable (fsync'd, or acknowledged by Redis); throws UpstreamError otherwise. */
  append(params: { record: FeedbackRecord }): Promise<void>;
  /** Releases file handles or connections. Appends after close are refused. */
  close(): Promise<void>;
}
