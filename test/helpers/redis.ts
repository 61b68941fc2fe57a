import type { Redis } from 'ioredis';
import { DEFAULT_PREFIX, ingestKeys, type BullMqQueue } from '../../src/ingest/queues/bullmq-queue.js';

/**
 * Leaves Redis as a test found it: obliterates the test's BullMQ queue, closes it, deletes the service's own keys of
 * that queue (document locks, sequences, tombstones) and quits `redis`. Safe with a queue or connection that never
 * got created (a failed beforeAll).
 */
export async function removeTestQueue(params: { queue?: BullMqQueue | undefined; redis?: Redis | undefined; name: string }): Promise<void> {
  const { queue, redis, name } = params;
  await queue?.queue.obliterate({ force: true });
  await queue?.close();
  if (!redis) return;
  const keys = await redis.keys(ingestKeys(DEFAULT_PREFIX, name).pattern);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}
