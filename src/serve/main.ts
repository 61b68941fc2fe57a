import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createRuntime } from '../runtime.js';
import { createApp } from './app.js';

/** `npm start`: parse config, load models, serve the API until SIGTERM/SIGINT. */
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
  const logger = createLogger({ level: config.logLevel });
  const runtime = await createRuntime(config, logger);
  const app = createApp(runtime.deps);
  const server = app.listen(config.server.port, config.server.host, () => {
    logger.info({ url: `http://${config.server.host}:${config.server.port}`, store: runtime.store.name }, 'rag-service listening');
  });
  // Slow clients must not hold sockets forever.
  server.requestTimeout = config.server.requestTimeoutMs;
  server.headersTimeout = Math.min(60_000, config.server.requestTimeoutMs);
  server.keepAliveTimeout = 5_000;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.queue.shutdownTimeoutMs + 5_000);
    force.unref();
    server.close();
    server.closeIdleConnections();
    runtime
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
