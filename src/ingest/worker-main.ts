import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createIngestComponents } from '../runtime.js';
import { exitOnSignals } from '../shutdown.js';
import { IngestWorker } from './worker.js';

/** `npm run worker`: consume the BullMQ ingestion queue until SIGTERM/SIGINT, then finish (bounded) and exit 0. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const redisUrl = config.queue.redisUrl;
  if (!redisUrl) {
    console.error('REDIS_URL is not set: the worker consumes the job queue in Redis (e.g. REDIS_URL=redis://127.0.0.1:6379). Without Redis the API runs ingestion in-process and needs no worker.');
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, name: 'rag-worker' });
  const { store, pipeline } = await createIngestComponents(config, logger);
  if (store.name === 'lancedb') {
    logger.warn('LanceDB is embedded and single-writer: run one worker process per DATA_DIR, and expect other processes (the API) to see its writes late. Use Qdrant (QDRANT_URL) to scale workers out');
  }
  // BullMQ workers need maxRetriesPerRequest: null: they wait out Redis outages instead of failing jobs.
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (error: Error) => logger.warn({ err: error }, 'redis connection error'));
  const worker = new IngestWorker(
    { processor: ({ job, onProgress }) => pipeline.run({ job, onProgress }), store, logger: logger.child({ component: 'worker' }) },
    { queueName: config.queue.name, connection, concurrency: config.queue.workerConcurrency, shutdownTimeoutMs: config.queue.shutdownTimeoutMs, name: `worker-${process.pid}` },
  );
  await worker.start();
  logger.info({ queue: config.queue.name, concurrency: config.queue.workerConcurrency, store: store.name, pid: process.pid }, 'ingestion worker started');

  // Job locks are renewed on the event loop: a long block lets another worker take the job over.
  const loopDelay = monitorEventLoopDelay({ resolution: 50 });
  loopDelay.enable();
  const loopCheck = setInterval(() => {
    const maxMs = loopDelay.max / 1e6;
    if (maxMs > 2000) logger.warn({ maxBlockedMs: Math.round(maxMs) }, 'event loop was blocked; job locks may expire if this nears the lock duration');
    loopDelay.reset();
  }, 10_000);
  loopCheck.unref();

  exitOnSignals({
    logger,
    timeoutMs: config.queue.shutdownTimeoutMs,
    stopping: 'shutting down: finishing running jobs',
    close: async () => {
      await worker.close();
      await store.close();
      await connection.quit().catch(() => connection.disconnect());
      logger.info('worker stopped');
    },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
