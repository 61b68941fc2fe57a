import type { Redis } from 'ioredis';
import { UpstreamError } from '../errors/index.js';
import type { FeedbackRecord, FeedbackStore } from './types.js';

/**
 * Feedback in a Redis stream (XADD, never trimmed): every API replica appends to the same stream and
 * consumers read it with XRANGE/XREAD. Durability is Redis's (run it with appendonly yes, as docker-compose.yml does).
 * The client is owned by the caller (shared with readiness checks), so `close` does not quit it.
 */
export class RedisFeedbackStore implements FeedbackStore {
  readonly name = 'redis-stream';

  constructor(private readonly options: { client: Redis; stream: string }) {}

  async append(params: { record: FeedbackRecord }): Promise<void> {
    const { record } = params;
    const fields: string[] = [
      'feedbackId', record.feedbackId,
      'requestId', record.requestId,
      'rating', record.rating,
      'keyName', record.keyName,
      'receivedAt', record.receivedAt,
    ];
    if (record.comment !== undefined) fields.push('comment', record.comment);
    try {
      await this.options.client.xadd(this.options.stream, '*', ...fields);
    } catch (error) {
      throw new UpstreamError('FEEDBACK_WRITE_FAILED', `Could not append feedback to the Redis stream '${this.options.stream}'`, { cause: error });
    }
  }

  async close(): Promise<void> {}
}
