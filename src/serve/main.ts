import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createRuntime } from '../runtime.js';
import { exitOnSignals } from '../shutdown.js';
import { createApp, createHttpServer } from './app.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

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
  if (config.auth.keys.length === 0) {
    if (!LOOPBACK_HOSTS.has(config.server.host) && !config.auth.allowOpenAccess) {
      logger.fatal(
        { host: config.server.host },
        'refusing to listen on a non-loopback HOST without API keys: set API_KEYS, or HOST=127.0.0.1, or ALLOW_OPEN_ACCESS=true to accept open access',
      );
      process.exit(2);
    }
    logger.warn({ host: config.server.host }, 'no API_KEYS configured: the API is open to every client that can reach it (all scopes; rate limits per client address)');
  }
  const runtime = await createRuntime(config, logger);
  const app = createApp(runtime.deps);
  const server = createHttpServer(app, config.server).listen(config.server.port, config.server.host, () => {
    logger.info({ url: `http://${config.server.host}:${config.server.port}`, store: runtime.store.name }, 'rag-service listening');
  });

  exitOnSignals({
    logger,
    timeoutMs: config.queue.shutdownTimeoutMs,
    stopping: 'shutting down',
    close: async () => {
      server.close();
      server.closeIdleConnections();
      await runtime.close();
    },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
