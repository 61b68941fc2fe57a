import { randomUUID } from 'node:crypto';
import type { FeedbackRating, FeedbackRecord } from '../../feedback/types.js';
import type { HandlerDeps } from './deps.js';

/** A validated feedback submission. */
export interface FeedbackInput {
  requestId: string;
  rating: FeedbackRating;
  comment?: string | undefined;
  /** The API key name of the caller. */
  keyName: string;
}

/** Stores feedback durably (resolves only once it is fsync'd or acknowledged), then counts it. */
export async function submitFeedback(deps: HandlerDeps, input: FeedbackInput): Promise<{ feedbackId: string; receivedAt: string }> {
  const record: FeedbackRecord = {
    feedbackId: randomUUID(),
    requestId: input.requestId,
    rating: input.rating,
    ...(input.comment === undefined ? {} : { comment: input.comment }),
    keyName: input.keyName,
    receivedAt: new Date().toISOString(),
  };
  await deps.feedback.append({ record });
  deps.metrics.feedback.inc({ rating: input.rating });
  return { feedbackId: record.feedbackId, receivedAt: record.receivedAt };
}
